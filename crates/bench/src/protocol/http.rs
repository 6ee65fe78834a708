//! HTTP/1.1 `GET|PUT|DELETE /keys/{key}` with keep-alive; TTL as `?ttl=` query.

use super::line::{next_line, parse_length, unexpected};
use super::{
    write_decimal, write_key, Expect, Outcome, ProtocolError, RequestContext, MAX_REPLY_VALUE_BYTES,
};
use crate::workload::{Op, OpKind};

/// Most header lines accepted in one response.
pub const MAX_HEADERS: usize = 64;

/// Appends the request for `op` (multigets are refused before a run starts).
pub fn encode(op: &Op, ctx: &RequestContext<'_>, value: &[u8], out: &mut Vec<u8>) {
    let method: &[u8] = match op.kind {
        OpKind::Get | OpKind::MultiGet => b"GET",
        OpKind::Set => b"PUT",
        OpKind::Delete => b"DELETE",
    };
    out.extend_from_slice(method);
    out.extend_from_slice(b" /keys/");
    write_key(out, ctx.key_prefix, op.keys[0]);
    if op.kind == OpKind::Set && ctx.ttl_s > 0 {
        out.extend_from_slice(b"?ttl=");
        write_decimal(out, u64::from(ctx.ttl_s));
    }
    out.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\n");
    if op.kind == OpKind::Set {
        out.extend_from_slice(b"Content-Length: ");
        write_decimal(out, value.len() as u64);
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(value);
    } else {
        out.extend_from_slice(b"\r\n");
    }
}

/// Frames one response: status line, headers, then `Content-Length` bytes of body.
pub fn parse(expect: Expect, buf: &[u8]) -> Result<Option<(usize, Outcome)>, ProtocolError> {
    let Some((status_line, mut pos)) = next_line(buf, 0)? else {
        return Ok(None);
    };
    let status = status_code(status_line)?;
    let mut content_length = 0usize;
    for _ in 0..=MAX_HEADERS {
        let Some((line, end)) = next_line(buf, pos)? else {
            return Ok(None);
        };
        pos = end;
        if line.is_empty() {
            let body_end = pos + content_length;
            if buf.len() < body_end {
                return Ok(None);
            }
            return Ok(Some((body_end, outcome(expect.kind, status))));
        }
        let (name, value) = split_header(line)?;
        if name.eq_ignore_ascii_case(b"content-length") {
            content_length = parse_length(value)?;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(unexpected(line));
        }
    }
    Err(ProtocolError::Unexpected(format!(
        "more than {MAX_HEADERS} headers"
    )))
}

fn status_code(line: &[u8]) -> Result<u16, ProtocolError> {
    if !line.starts_with(b"HTTP/1.") || line.len() < 12 {
        return Err(unexpected(line));
    }
    std::str::from_utf8(&line[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| unexpected(line))
}

fn split_header(line: &[u8]) -> Result<(&[u8], &[u8]), ProtocolError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(|| unexpected(line))?;
    Ok((&line[..colon], line[colon + 1..].trim_ascii()))
}

fn outcome(kind: OpKind, status: u16) -> Outcome {
    match (kind, status) {
        (_, 200..=299) if kind == OpKind::Set => Outcome::OK,
        (_, 200..=299) => Outcome {
            hits: 1,
            ..Outcome::OK
        },
        (OpKind::Get | OpKind::Delete | OpKind::MultiGet, 404) => Outcome {
            misses: 1,
            ..Outcome::OK
        },
        _ => Outcome::ERROR,
    }
}

// The body limit is the shared value limit; stated here so a reader of this file sees it.
const _: () = assert!(MAX_REPLY_VALUE_BYTES >= 1 << 20);

#[cfg(test)]
mod tests {
    use super::super::test_support::{encode_str, op, parses_whole};
    use super::super::{parse as parse_any, Protocol};
    use super::*;

    const P: Protocol = Protocol::Http;

    #[test]
    fn requests_are_http() {
        assert_eq!(
            encode_str(P, &op(OpKind::Get, &[7], 0), 0),
            "GET /keys/k7 HTTP/1.1\r\nHost: localhost\r\n\r\n"
        );
        assert_eq!(
            encode_str(P, &op(OpKind::Set, &[3], 2), 60),
            "PUT /keys/k3?ttl=60 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nxx"
        );
        assert!(encode_str(P, &op(OpKind::Delete, &[9], 0), 0).starts_with("DELETE /keys/k9 "));
    }

    #[test]
    fn replies_are_framed_whatever_the_split() {
        let get = Expect {
            kind: OpKind::Get,
            keys: 1,
        };
        assert_eq!(
            parses_whole(P, get, b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello").hits,
            1
        );
        assert_eq!(
            parses_whole(
                P,
                get,
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            )
            .misses,
            1
        );
        assert!(
            parses_whole(P, get, b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n").server_error
        );
        let set = Expect {
            kind: OpKind::Set,
            keys: 1,
        };
        assert_eq!(
            parses_whole(P, set, b"HTTP/1.1 204 No Content\r\n\r\n"),
            Outcome::OK
        );
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        let get = Expect {
            kind: OpKind::Get,
            keys: 1,
        };
        assert!(parse_any(P, get, b"HTTP/2 200\r\n\r\n").is_err());
        assert!(parse_any(
            P,
            get,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .is_err());
        assert!(parse_any(P, get, b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
    }
}
