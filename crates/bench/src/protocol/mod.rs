//! The client side of each wire protocol: writing requests and framing replies.
//!
//! Written here rather than taken from crates/protocol on purpose: the instrument must
//! not share code (and bugs) with the server it measures. Replies come back in request
//! order for all four protocols, so a reply is matched with the oldest outstanding request.

pub mod http;
pub mod line;
pub mod memcache_text;
pub mod meta;
pub mod resp;

use crate::workload::{Op, OpKind};
use serde::Serialize;
use std::fmt;

/// Largest value a reply may carry before the connection is declared broken.
pub const MAX_REPLY_VALUE_BYTES: usize = 16 << 20;

/// A wire protocol the generator speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// memcached's text protocol: get, set, delete, multi-key get.
    MemcacheText,
    /// memcached's meta protocol: mg, ms, md (multiget as quiet mg ending with mn).
    Meta,
    /// Redis RESP2: GET, SET, DEL, MGET.
    Resp,
    /// HTTP/1.1 `GET|PUT|DELETE /keys/{key}` with keep-alive.
    Http,
}

impl Protocol {
    /// Parses the command-line name.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "mc" | "memcache" | "text" => Ok(Self::MemcacheText),
            "meta" => Ok(Self::Meta),
            "resp" | "redis" => Ok(Self::Resp),
            "http" => Ok(Self::Http),
            _ => Err(format!("unknown protocol {text:?} (mc, meta, resp, http)")),
        }
    }

    /// True when this protocol can carry the command.
    pub fn supports(self, kind: OpKind) -> bool {
        !(self == Self::Http && kind == OpKind::MultiGet)
    }
}

/// What one reply said, as far as the statistics care.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Keys found (gets) or deleted.
    pub hits: u32,
    /// Keys not found.
    pub misses: u32,
    /// The server answered with an error reply (ERROR, SERVER_ERROR, -ERR, HTTP 5xx ...).
    pub server_error: bool,
}

impl Outcome {
    /// A successful reply with no hit or miss to count (a set).
    pub const OK: Self = Self {
        hits: 0,
        misses: 0,
        server_error: false,
    };
    /// An error reply.
    pub const ERROR: Self = Self {
        hits: 0,
        misses: 0,
        server_error: true,
    };
}

/// The reply stream can no longer be framed; the connection must be dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// A reply that does not fit the request it answers (first bytes shown).
    Unexpected(String),
    /// A line without an end within the line limit.
    LineTooLong,
    /// A value length beyond [`MAX_REPLY_VALUE_BYTES`] or not a number.
    BadLength(String),
    /// A value block not followed by CRLF.
    MissingTerminator,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unexpected(s) => write!(f, "unexpected reply {s:?}"),
            Self::LineTooLong => write!(f, "reply line longer than {} bytes", line::MAX_LINE_BYTES),
            Self::BadLength(s) => write!(f, "bad value length {s:?}"),
            Self::MissingTerminator => write!(f, "value block not terminated by CRLF"),
        }
    }
}

/// What the oldest outstanding request expects back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// The command that was sent.
    pub kind: OpKind,
    /// How many keys it named.
    pub keys: u32,
}

/// Everything needed to write requests besides the operation itself.
#[derive(Clone, Copy, Debug)]
pub struct RequestContext<'a> {
    /// Key prefix.
    pub key_prefix: &'a [u8],
    /// TTL for sets, seconds; 0 = none.
    pub ttl_s: u32,
    /// Value payload source; sets take a prefix of it.
    pub value_bytes: &'a [u8],
}

/// Appends the request for `op` to `out` and returns what its reply will look like.
pub fn encode(protocol: Protocol, op: &Op, ctx: &RequestContext<'_>, out: &mut Vec<u8>) -> Expect {
    let value = &ctx.value_bytes[..op.value_len.min(ctx.value_bytes.len())];
    match protocol {
        Protocol::MemcacheText => memcache_text::encode(op, ctx, value, out),
        Protocol::Meta => meta::encode(op, ctx, value, out),
        Protocol::Resp => resp::encode(op, ctx, value, out),
        Protocol::Http => http::encode(op, ctx, value, out),
    }
    Expect {
        kind: op.kind,
        keys: op.keys.len() as u32,
    }
}

/// Frames one reply at the start of `buf`: `Ok(None)` when more bytes are needed,
/// otherwise the bytes consumed and what the reply said.
pub fn parse(
    protocol: Protocol,
    expect: Expect,
    buf: &[u8],
) -> Result<Option<(usize, Outcome)>, ProtocolError> {
    match protocol {
        Protocol::MemcacheText => memcache_text::parse(expect, buf),
        Protocol::Meta => meta::parse(expect, buf),
        Protocol::Resp => resp::parse(expect, buf),
        Protocol::Http => http::parse(expect, buf),
    }
}

/// Appends `prefix` followed by the decimal index.
pub fn write_key(out: &mut Vec<u8>, prefix: &[u8], index: u64) {
    out.extend_from_slice(prefix);
    write_decimal(out, index);
}

/// Length in bytes of the key for `index`.
pub fn key_len(prefix: &[u8], index: u64) -> usize {
    prefix.len() + decimal_len(index)
}

/// Appends a number in decimal without going through `fmt`.
pub fn write_decimal(out: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(decimal_digits(n, &mut buf));
}

/// `n` in decimal, written into the end of `buf`; the digits.
pub fn decimal_digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Encodes `op` with prefix `k`, TTL as given and a value of `x`s.
    pub fn encode_str(protocol: Protocol, op: &Op, ttl_s: u32) -> String {
        let value = vec![b'x'; 64];
        let ctx = RequestContext {
            key_prefix: b"k",
            ttl_s,
            value_bytes: &value,
        };
        let mut out = Vec::new();
        encode(protocol, op, &ctx, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// Checks that every split of `reply` parses as incomplete until the whole is there.
    pub fn parses_whole(protocol: Protocol, expect: Expect, reply: &[u8]) -> Outcome {
        for cut in 0..reply.len() {
            assert_eq!(
                parse(protocol, expect, &reply[..cut]),
                Ok(None),
                "cut at {cut}"
            );
        }
        let (used, outcome) = parse(protocol, expect, reply).unwrap().unwrap();
        assert_eq!(used, reply.len());
        outcome
    }

    /// An operation on keys with the given indexes.
    pub fn op(kind: OpKind, keys: &[u64], value_len: usize) -> Op {
        Op {
            kind,
            keys: keys.to_vec(),
            value_len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_keys() {
        let mut out = Vec::new();
        write_key(&mut out, b"key:", 1234567890);
        assert_eq!(out, b"key:1234567890");
        assert_eq!(key_len(b"key:", 1234567890), 14);
        assert_eq!(key_len(b"", 0), 1);
        out.clear();
        write_decimal(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string().as_bytes());
    }
}
