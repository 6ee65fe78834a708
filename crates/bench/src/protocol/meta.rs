//! memcached's meta protocol: `mg <key> v`, `ms <key> <len> T<ttl>`, `md <key>`, and a
//! multiget as quiet `mg ... q` lines closed by `mn` (only hits answer, then `MN`).

use super::line::{is_memcache_error, next_line, parse_length, skip_block, unexpected};
use super::{write_decimal, write_key, Expect, Outcome, ProtocolError, RequestContext};
use crate::workload::{Op, OpKind};

/// Appends the request for `op`.
pub fn encode(op: &Op, ctx: &RequestContext<'_>, value: &[u8], out: &mut Vec<u8>) {
    match op.kind {
        OpKind::Get => {
            out.extend_from_slice(b"mg ");
            write_key(out, ctx.key_prefix, op.keys[0]);
            out.extend_from_slice(b" v\r\n");
        }
        OpKind::MultiGet => {
            for &k in &op.keys {
                out.extend_from_slice(b"mg ");
                write_key(out, ctx.key_prefix, k);
                out.extend_from_slice(b" v q\r\n");
            }
            out.extend_from_slice(b"mn\r\n");
        }
        OpKind::Set => {
            out.extend_from_slice(b"ms ");
            write_key(out, ctx.key_prefix, op.keys[0]);
            out.push(b' ');
            write_decimal(out, value.len() as u64);
            if ctx.ttl_s > 0 {
                out.extend_from_slice(b" T");
                write_decimal(out, u64::from(ctx.ttl_s));
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        OpKind::Delete => {
            out.extend_from_slice(b"md ");
            write_key(out, ctx.key_prefix, op.keys[0]);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Frames one reply.
pub fn parse(expect: Expect, buf: &[u8]) -> Result<Option<(usize, Outcome)>, ProtocolError> {
    match expect.kind {
        OpKind::Get => parse_get(buf),
        OpKind::MultiGet => parse_multiget(expect.keys, buf),
        OpKind::Set => parse_status(buf, |code| {
            matches!(code, b"HD" | b"NS" | b"EX" | b"NF").then_some(Outcome::OK)
        }),
        OpKind::Delete => parse_status(buf, |code| match code {
            b"HD" => Some(Outcome {
                hits: 1,
                ..Outcome::OK
            }),
            b"NF" => Some(Outcome {
                misses: 1,
                ..Outcome::OK
            }),
            _ => None,
        }),
    }
}

fn code(line: &[u8]) -> &[u8] {
    line.split(|&b| b == b' ').next().unwrap_or(line)
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
    classify(code(line))
        .map(|o| Some((end, o)))
        .ok_or_else(|| unexpected(line))
}

/// One `VA <len> ...` block at `pos`; `None` when incomplete.
fn parse_value(buf: &[u8], line: &[u8], end: usize) -> Result<Option<usize>, ProtocolError> {
    let len_field = line
        .split(|&b| b == b' ')
        .nth(1)
        .ok_or_else(|| unexpected(line))?;
    skip_block(buf, end, parse_length(len_field)?)
}

fn parse_get(buf: &[u8]) -> Result<Option<(usize, Outcome)>, ProtocolError> {
    let Some((line, end)) = next_line(buf, 0)? else {
        return Ok(None);
    };
    match code(line) {
        b"VA" => Ok(parse_value(buf, line, end)?.map(|after| {
            (
                after,
                Outcome {
                    hits: 1,
                    ..Outcome::OK
                },
            )
        })),
        b"HD" => Ok(Some((
            end,
            Outcome {
                hits: 1,
                ..Outcome::OK
            },
        ))),
        b"EN" => Ok(Some((
            end,
            Outcome {
                misses: 1,
                ..Outcome::OK
            },
        ))),
        _ if is_memcache_error(line) => Ok(Some((end, Outcome::ERROR))),
        _ => Err(unexpected(line)),
    }
}

fn parse_multiget(keys: u32, buf: &[u8]) -> Result<Option<(usize, Outcome)>, ProtocolError> {
    let mut pos = 0;
    let mut hits = 0u32;
    let mut server_error = false;
    loop {
        let Some((line, end)) = next_line(buf, pos)? else {
            return Ok(None);
        };
        match code(line) {
            b"MN" => {
                return Ok(Some((
                    end,
                    Outcome {
                        hits,
                        misses: keys - hits,
                        server_error,
                    },
                )))
            }
            b"VA" if hits < keys => {
                let Some(after) = parse_value(buf, line, end)? else {
                    return Ok(None);
                };
                hits += 1;
                pos = after;
            }
            // Quiet mode still answers errors, one per failed mg; keep framing until MN.
            _ if is_memcache_error(line) => {
                server_error = true;
                pos = end;
            }
            _ => return Err(unexpected(line)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{encode_str, op, parses_whole};
    use super::super::{parse as parse_any, Protocol};
    use super::*;

    const P: Protocol = Protocol::Meta;

    #[test]
    fn requests_are_meta_commands() {
        assert_eq!(encode_str(P, &op(OpKind::Get, &[7], 0), 0), "mg k7 v\r\n");
        assert_eq!(
            encode_str(P, &op(OpKind::MultiGet, &[1, 2], 0), 0),
            "mg k1 v q\r\nmg k2 v q\r\nmn\r\n"
        );
        assert_eq!(
            encode_str(P, &op(OpKind::Set, &[3], 2), 30),
            "ms k3 2 T30\r\nxx\r\n"
        );
        assert_eq!(
            encode_str(P, &op(OpKind::Set, &[3], 2), 0),
            "ms k3 2\r\nxx\r\n"
        );
        assert_eq!(encode_str(P, &op(OpKind::Delete, &[9], 0), 0), "md k9\r\n");
    }

    #[test]
    fn replies_are_framed_whatever_the_split() {
        let get = Expect {
            kind: OpKind::Get,
            keys: 1,
        };
        assert_eq!(parses_whole(P, get, b"VA 5 f0\r\nhello\r\n").hits, 1);
        assert_eq!(parses_whole(P, get, b"EN\r\n").misses, 1);
        let multi = Expect {
            kind: OpKind::MultiGet,
            keys: 3,
        };
        let o = parses_whole(P, multi, b"VA 1\r\na\r\nVA 2\r\nbb\r\nMN\r\n");
        assert_eq!((o.hits, o.misses), (2, 1));
        let set = Expect {
            kind: OpKind::Set,
            keys: 1,
        };
        assert_eq!(parses_whole(P, set, b"HD\r\n"), Outcome::OK);
        assert!(parses_whole(P, set, b"SERVER_ERROR out of memory\r\n").server_error);
        let del = Expect {
            kind: OpKind::Delete,
            keys: 1,
        };
        assert_eq!(parses_whole(P, del, b"NF\r\n").misses, 1);
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        let get = Expect {
            kind: OpKind::Get,
            keys: 1,
        };
        assert!(parse_any(P, get, b"STORED\r\n").is_err());
        assert!(parse_any(P, get, b"VA x\r\n").is_err());
        let multi = Expect {
            kind: OpKind::MultiGet,
            keys: 1,
        };
        assert!(parse_any(P, multi, b"VA 1\r\na\r\nVA 1\r\na\r\nMN\r\n").is_err());
    }
}
