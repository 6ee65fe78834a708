//! memcached's text protocol: `get`, multi-key `get`, `set`, `delete`.

use super::line::{is_memcache_error, next_line, parse_length, skip_block, unexpected};
use super::{write_decimal, write_key, Expect, Outcome, ProtocolError, RequestContext};
use crate::workload::{Op, OpKind};

/// Appends the request for `op`.
pub fn encode(op: &Op, ctx: &RequestContext<'_>, value: &[u8], out: &mut Vec<u8>) {
    match op.kind {
        OpKind::Get | OpKind::MultiGet => {
            out.extend_from_slice(b"get");
            for &k in &op.keys {
                out.push(b' ');
                write_key(out, ctx.key_prefix, k);
            }
        }
        OpKind::Set => {
            out.extend_from_slice(b"set ");
            write_key(out, ctx.key_prefix, op.keys[0]);
            out.extend_from_slice(b" 0 ");
            write_decimal(out, u64::from(ctx.ttl_s));
            out.push(b' ');
            write_decimal(out, value.len() as u64);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(value);
        }
        OpKind::Delete => {
            out.extend_from_slice(b"delete ");
            write_key(out, ctx.key_prefix, op.keys[0]);
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Frames one reply.
pub fn parse(expect: Expect, buf: &[u8]) -> Result<Option<(usize, Outcome)>, ProtocolError> {
    match expect.kind {
        OpKind::Get | OpKind::MultiGet => parse_values(expect.keys, buf),
        OpKind::Set => parse_status(buf, |l| {
            matches!(l, b"STORED" | b"NOT_STORED" | b"EXISTS" | b"NOT_FOUND").then_some(Outcome::OK)
        }),
        OpKind::Delete => parse_status(buf, |l| match l {
            b"DELETED" => Some(Outcome {
                hits: 1,
                ..Outcome::OK
            }),
            b"NOT_FOUND" => Some(Outcome {
                misses: 1,
                ..Outcome::OK
            }),
            _ => None,
        }),
    }
}

fn parse_status(
    buf: &[u8],
    classify: impl Fn(&[u8]) -> Option<Outcome>,
) -> Result<Option<(usize, Outcome)>, ProtocolError> {
    let Some((line, end)) = next_line(buf, 0)? else {
        return Ok(None);
    };
    if is_memcache_error(line) {
        return Ok(Some((end, Outcome::ERROR)));
    }
    classify(line)
        .map(|o| Some((end, o)))
        .ok_or_else(|| unexpected(line))
}

/// `VALUE <key> <flags> <bytes> [<cas>]` blocks, then `END`.
fn parse_values(keys: u32, buf: &[u8]) -> Result<Option<(usize, Outcome)>, ProtocolError> {
    let mut pos = 0;
    let mut hits = 0u32;
    loop {
        let Some((line, end)) = next_line(buf, pos)? else {
            return Ok(None);
        };
        if line == b"END" {
            return Ok(Some((
                end,
                Outcome {
                    hits,
                    misses: keys - hits,
                    server_error: false,
                },
            )));
        }
        if pos == 0 && is_memcache_error(line) {
            return Ok(Some((end, Outcome::ERROR)));
        }
        if !line.starts_with(b"VALUE ") || hits == keys {
            return Err(unexpected(line));
        }
        let len_field = line
            .split(|&b| b == b' ')
            .nth(3)
            .ok_or_else(|| unexpected(line))?;
        let len = parse_length(len_field)?;
        let Some(after) = skip_block(buf, end, len)? else {
            return Ok(None);
        };
        hits += 1;
        pos = after;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{encode_str, op, parses_whole};
    use super::super::{parse as parse_any, Protocol};
    use super::*;

    const P: Protocol = Protocol::MemcacheText;

    #[test]
    fn requests_are_memcached_text() {
        assert_eq!(encode_str(P, &op(OpKind::Get, &[7], 0), 0), "get k7\r\n");
        assert_eq!(
            encode_str(P, &op(OpKind::MultiGet, &[1, 2], 0), 0),
            "get k1 k2\r\n"
        );
        assert_eq!(
            encode_str(P, &op(OpKind::Set, &[3], 4), 60),
            "set k3 0 60 4\r\nxxxx\r\n"
        );
        assert_eq!(
            encode_str(P, &op(OpKind::Delete, &[9], 0), 0),
            "delete k9\r\n"
        );
    }

    #[test]
    fn replies_are_framed_whatever_the_split() {
        let get = Expect {
            kind: OpKind::Get,
            keys: 1,
        };
        let hit = parses_whole(P, get, b"VALUE k1 0 5\r\nhello\r\nEND\r\n");
        assert_eq!(
            hit,
            Outcome {
                hits: 1,
                misses: 0,
                server_error: false
            }
        );
        assert_eq!(parses_whole(P, get, b"END\r\n").misses, 1);
        let multi = Expect {
            kind: OpKind::MultiGet,
            keys: 3,
        };
        let o = parses_whole(
            P,
            multi,
            b"VALUE k1 0 1 99\r\na\r\nVALUE k3 0 0\r\n\r\nEND\r\n",
        );
        assert_eq!((o.hits, o.misses), (2, 1));
        let set = Expect {
            kind: OpKind::Set,
            keys: 1,
        };
        assert_eq!(parses_whole(P, set, b"STORED\r\n"), Outcome::OK);
        assert!(parses_whole(P, set, b"SERVER_ERROR out of memory\r\n").server_error);
        let del = Expect {
            kind: OpKind::Delete,
            keys: 1,
        };
        assert_eq!(parses_whole(P, del, b"NOT_FOUND\r\n").misses, 1);
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        let get = Expect {
            kind: OpKind::Get,
            keys: 1,
        };
        assert!(parse_any(P, get, b"STORED\r\n").is_err());
        assert!(parse_any(P, get, b"VALUE k 0 1\r\nab\r\nEND\r\n").is_err());
        assert!(parse_any(P, get, b"VALUE k 0 1\r\na\r\nVALUE k 0 1\r\na\r\nEND\r\n").is_err());
        assert!(parse_any(P, get, b"VALUE k 0 999999999999\r\n").is_err());
        let set = Expect {
            kind: OpKind::Set,
            keys: 1,
        };
        assert!(parse_any(P, set, b"DELETED\r\n").is_err());
    }
}
