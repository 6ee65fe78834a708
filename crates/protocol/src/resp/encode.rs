//! RESP reply encoders: each appends one value to the caller's buffer, no `String`s.
//!
//! Functions that differ between RESP2 and RESP3 take the connection's
//! [`ProtocolVersion`]. Aggregates are written as a header followed by their elements,
//! which the caller encodes with further calls.

use super::command::ProtocolVersion;
use super::error::push_sanitized;
use crate::number::{write_i64, write_u64};

const CRLF: &[u8] = b"\r\n";

/// `+<text>\r\n`; `\r`/`\n` in `text` become spaces so the reply stays framed.
pub fn simple_string(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'+');
    push_sanitized(out, text);
    out.extend_from_slice(CRLF);
}

/// `+OK\r\n`.
pub fn ok(out: &mut Vec<u8>) {
    out.extend_from_slice(b"+OK\r\n");
}

/// `-<message>\r\n`; `message` starts with the code (`ERR ...`, `WRONGTYPE ...`).
pub fn error(out: &mut Vec<u8>, message: &[u8]) {
    out.push(b'-');
    push_sanitized(out, message);
    out.extend_from_slice(CRLF);
}

/// `:<value>\r\n`.
pub fn integer(out: &mut Vec<u8>, value: i64) {
    out.push(b':');
    write_i64(out, value);
    out.extend_from_slice(CRLF);
}

/// `$<len>\r\n<bytes>\r\n`.
pub fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    bulk_header(out, bytes.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(CRLF);
}

/// `$<len>\r\n` alone: append exactly `len` bytes (e.g. copied from storage), then
/// [`bulk_end`].
pub fn bulk_header(out: &mut Vec<u8>, len: usize) {
    out.push(b'$');
    write_u64(out, len as u64);
    out.extend_from_slice(CRLF);
}

/// The `\r\n` that closes a bulk started with [`bulk_header`].
pub fn bulk_end(out: &mut Vec<u8>) {
    out.extend_from_slice(CRLF);
}

/// A missing value: `$-1\r\n` in RESP2, `_\r\n` in RESP3.
pub fn null(out: &mut Vec<u8>, version: ProtocolVersion) {
    match version {
        ProtocolVersion::Resp2 => out.extend_from_slice(b"$-1\r\n"),
        ProtocolVersion::Resp3 => out.extend_from_slice(b"_\r\n"),
    }
}

/// A missing array: `*-1\r\n` in RESP2, `_\r\n` in RESP3.
pub fn null_array(out: &mut Vec<u8>, version: ProtocolVersion) {
    match version {
        ProtocolVersion::Resp2 => out.extend_from_slice(b"*-1\r\n"),
        ProtocolVersion::Resp3 => out.extend_from_slice(b"_\r\n"),
    }
}

/// `*<len>\r\n`: `len` elements follow.
pub fn array_header(out: &mut Vec<u8>, len: usize) {
    aggregate_header(out, b'*', len);
}

/// A map of `pairs` key/value pairs: `%<pairs>\r\n` in RESP3, `*<2*pairs>\r\n` in RESP2.
pub fn map_header(out: &mut Vec<u8>, pairs: usize, version: ProtocolVersion) {
    match version {
        ProtocolVersion::Resp2 => aggregate_header(out, b'*', pairs * 2),
        ProtocolVersion::Resp3 => aggregate_header(out, b'%', pairs),
    }
}

/// A set: `~<len>\r\n` in RESP3, `*<len>\r\n` in RESP2.
pub fn set_header(out: &mut Vec<u8>, len: usize, version: ProtocolVersion) {
    match version {
        ProtocolVersion::Resp2 => aggregate_header(out, b'*', len),
        ProtocolVersion::Resp3 => aggregate_header(out, b'~', len),
    }
}

fn aggregate_header(out: &mut Vec<u8>, kind: u8, len: usize) {
    out.push(kind);
    write_u64(out, len as u64);
    out.extend_from_slice(CRLF);
}

/// A boolean: `#t\r\n`/`#f\r\n` in RESP3, `:1\r\n`/`:0\r\n` in RESP2.
pub fn boolean(out: &mut Vec<u8>, value: bool, version: ProtocolVersion) {
    match (version, value) {
        (ProtocolVersion::Resp2, _) => integer(out, i64::from(value)),
        (ProtocolVersion::Resp3, true) => out.extend_from_slice(b"#t\r\n"),
        (ProtocolVersion::Resp3, false) => out.extend_from_slice(b"#f\r\n"),
    }
}

/// Plain text such as INFO's: a verbatim string `=<len>\r\ntxt:<text>\r\n` in RESP3, a
/// bulk string in RESP2 (as Redis does).
pub fn verbatim_text(out: &mut Vec<u8>, text: &[u8], version: ProtocolVersion) {
    match version {
        ProtocolVersion::Resp2 => bulk(out, text),
        ProtocolVersion::Resp3 => {
            out.push(b'=');
            write_u64(out, text.len() as u64 + 4);
            out.extend_from_slice(b"\r\ntxt:");
            out.extend_from_slice(text);
            out.extend_from_slice(CRLF);
        }
    }
}

/// A request as clients send it: a multibulk array of bulk strings.
pub fn request<'a>(out: &mut Vec<u8>, args: impl ExactSizeIterator<Item = &'a [u8]>) {
    array_header(out, args.len());
    for arg in args {
        bulk(out, arg);
    }
}
