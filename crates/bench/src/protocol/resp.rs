//! Redis RESP2 requests (`GET`, `SET [EX]`, `DEL`, `MGET`); replies in RESP2 or RESP3 nulls.

use super::line::{next_line, parse_length, skip_block, unexpected};
use super::{key_len, write_decimal, write_key, Expect, Outcome, ProtocolError, RequestContext};
use crate::workload::{Op, OpKind};

/// Appends the request for `op`.
pub fn encode(op: &Op, ctx: &RequestContext<'_>, value: &[u8], out: &mut Vec<u8>) {
    let with_ttl = op.kind == OpKind::Set && ctx.ttl_s > 0;
    let args = match op.kind {
        OpKind::Set if with_ttl => 5,
        OpKind::Set => 3,
        _ => 1 + op.keys.len(),
    };
    out.push(b'*');
    write_decimal(out, args as u64);
    out.extend_from_slice(b"\r\n");
    let name: &[u8] = match op.kind {
        OpKind::Get => b"GET",
        OpKind::Set => b"SET",
        OpKind::Delete => b"DEL",
        OpKind::MultiGet => b"MGET",
    };
    bulk(out, name);
    let keys = if op.kind == OpKind::Set {
        &op.keys[..1]
    } else {
        &op.keys[..]
    };
    for &k in keys {
        out.push(b'$');
        write_decimal(out, key_len(ctx.key_prefix, k) as u64);
        out.extend_from_slice(b"\r\n");
        write_key(out, ctx.key_prefix, k);
        out.extend_from_slice(b"\r\n");
    }
    if op.kind == OpKind::Set {
        bulk(out, value);
        if with_ttl {
            bulk(out, b"EX");
            let mut ttl = Vec::with_capacity(10);
            write_decimal(&mut ttl, u64::from(ctx.ttl_s));
            bulk(out, &ttl);
        }
    }
}

fn bulk(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'$');
    write_decimal(out, data.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// One simple reply element: what it was and where it ended.
enum Element {
    Bulk,
    Null,
    Simple,
    Integer(i64),
    Error,
}

fn element(buf: &[u8], pos: usize) -> Result<Option<(Element, usize)>, ProtocolError> {
    let Some((line, end)) = next_line(buf, pos)? else {
        return Ok(None);
    };
    let (&tag, rest) = line.split_first().ok_or_else(|| unexpected(line))?;
    match tag {
        b'$' if rest == b"-1" => Ok(Some((Element::Null, end))),
        b'$' => Ok(skip_block(buf, end, parse_length(rest)?)?.map(|after| (Element::Bulk, after))),
        b'_' => Ok(Some((Element::Null, end))),
        b'+' => Ok(Some((Element::Simple, end))),
        b'-' => Ok(Some((Element::Error, end))),
        b':' => {
            let n = std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| unexpected(line))?;
            Ok(Some((Element::Integer(n), end)))
        }
        _ => Err(unexpected(line)),
    }
}

/// Frames one reply.
pub fn parse(expect: Expect, buf: &[u8]) -> Result<Option<(usize, Outcome)>, ProtocolError> {
    if expect.kind == OpKind::MultiGet {
        return parse_array(expect.keys, buf);
    }
    let Some((el, end)) = element(buf, 0)? else {
        return Ok(None);
    };
    let outcome = match (expect.kind, el) {
        (_, Element::Error) => Outcome::ERROR,
        (OpKind::Get, Element::Bulk) => Outcome {
            hits: 1,
            ..Outcome::OK
        },
        (OpKind::Get, Element::Null) => Outcome {
            misses: 1,
            ..Outcome::OK
        },
        (OpKind::Set, Element::Simple | Element::Null) => Outcome::OK,
        (OpKind::Delete, Element::Integer(n)) if n > 0 => Outcome {
            hits: 1,
            ..Outcome::OK
        },
        (OpKind::Delete, Element::Integer(_)) => Outcome {
            misses: 1,
            ..Outcome::OK
        },
        _ => return Err(unexpected(&buf[..end])),
    };
    Ok(Some((end, outcome)))
}

fn parse_array(keys: u32, buf: &[u8]) -> Result<Option<(usize, Outcome)>, ProtocolError> {
    let Some((line, mut pos)) = next_line(buf, 0)? else {
        return Ok(None);
    };
    if line.first() == Some(&b'-') {
        return Ok(Some((pos, Outcome::ERROR)));
    }
    if line.first() != Some(&b'*') || parse_length(&line[1..]).ok() != Some(keys as usize) {
        return Err(unexpected(line));
    }
    let mut hits = 0;
    for _ in 0..keys {
        let Some((el, end)) = element(buf, pos)? else {
            return Ok(None);
        };
        match el {
            Element::Bulk => hits += 1,
            Element::Null => {}
            _ => return Err(unexpected(&buf[pos..end])),
        }
        pos = end;
    }
    Ok(Some((
        pos,
        Outcome {
            hits,
            misses: keys - hits,
            server_error: false,
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{encode_str, op, parses_whole};
    use super::super::{parse as parse_any, Protocol};
    use super::*;

    const P: Protocol = Protocol::Resp;

    #[test]
    fn requests_are_resp_arrays() {
        assert_eq!(
            encode_str(P, &op(OpKind::Get, &[7], 0), 0),
            "*2\r\n$3\r\nGET\r\n$2\r\nk7\r\n"
        );
        assert_eq!(
            encode_str(P, &op(OpKind::MultiGet, &[1, 22], 0), 0),
            "*3\r\n$4\r\nMGET\r\n$2\r\nk1\r\n$3\r\nk22\r\n"
        );
        assert_eq!(
            encode_str(P, &op(OpKind::Set, &[3], 2), 60),
            "*5\r\n$3\r\nSET\r\n$2\r\nk3\r\n$2\r\nxx\r\n$2\r\nEX\r\n$2\r\n60\r\n"
        );
        assert_eq!(
            encode_str(P, &op(OpKind::Delete, &[9], 0), 0),
            "*2\r\n$3\r\nDEL\r\n$2\r\nk9\r\n"
        );
    }

    #[test]
    fn replies_are_framed_whatever_the_split() {
        let get = Expect {
            kind: OpKind::Get,
            keys: 1,
        };
        assert_eq!(parses_whole(P, get, b"$5\r\nhello\r\n").hits, 1);
        assert_eq!(parses_whole(P, get, b"$-1\r\n").misses, 1);
        assert_eq!(parses_whole(P, get, b"_\r\n").misses, 1);
        assert!(parses_whole(P, get, b"-ERR wrong\r\n").server_error);
        let multi = Expect {
            kind: OpKind::MultiGet,
            keys: 3,
        };
        let o = parses_whole(P, multi, b"*3\r\n$1\r\na\r\n$-1\r\n$0\r\n\r\n");
        assert_eq!((o.hits, o.misses), (2, 1));
        let set = Expect {
            kind: OpKind::Set,
            keys: 1,
        };
        assert_eq!(parses_whole(P, set, b"+OK\r\n"), Outcome::OK);
        let del = Expect {
            kind: OpKind::Delete,
            keys: 1,
        };
        assert_eq!(parses_whole(P, del, b":0\r\n").misses, 1);
        assert_eq!(parses_whole(P, del, b":1\r\n").hits, 1);
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        let get = Expect {
            kind: OpKind::Get,
            keys: 1,
        };
        assert!(parse_any(P, get, b"+OK\r\n").is_err());
        assert!(parse_any(P, get, b"?\r\n").is_err());
        let multi = Expect {
            kind: OpKind::MultiGet,
            keys: 2,
        };
        assert!(parse_any(P, multi, b"*3\r\n").is_err());
    }
}
