//! HTTP/1.1 response encoders: they append to the caller's buffer, no `String`s.
//!
//! A response is a [`status_line`], any [`header`]s, usually a [`content_length`],
//! then [`end_head`] and the body. [`simple`] does all of it for small bodies; a server
//! copying a value out of storage writes the head with the value's length and then the
//! value itself.

use super::status::Status;
use crate::number::write_u64;

/// `HTTP/1.1 <code> <reason>\r\n`.
pub fn status_line(out: &mut Vec<u8>, status: Status) {
    out.extend_from_slice(b"HTTP/1.1 ");
    write_u64(out, u64::from(status.code()));
    out.push(b' ');
    out.extend_from_slice(status.reason().as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `<name>: <value>\r\n`; the caller passes a valid name and a value without CR/LF.
pub fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    debug_assert!(!value.contains(&b'\r') && !value.contains(&b'\n'));
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// `Content-Length: <len>\r\n`.
pub fn content_length(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(b"Content-Length: ");
    write_u64(out, len as u64);
    out.extend_from_slice(b"\r\n");
}

/// A header whose value is a decimal integer (`X-Flags`, `X-TTL`).
pub fn integer_header(out: &mut Vec<u8>, name: &[u8], value: u64) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    write_u64(out, value);
    out.extend_from_slice(b"\r\n");
}

/// The blank line that ends the head.
pub fn end_head(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\r\n");
}

/// `HTTP/1.1 100 Continue\r\n\r\n`: send once when a request with
/// `Expect: 100-continue` is waiting for its body.
pub fn continue_100(out: &mut Vec<u8>) {
    status_line(out, Status::Continue);
    end_head(out);
}

/// A whole response with a small body. `Content-Length` is always sent (except for 204
/// and 1xx, which have no body), also for HEAD where the body itself is left out.
/// `Connection: close` is sent when `keep_alive` is false.
pub fn simple(
    out: &mut Vec<u8>,
    status: Status,
    content_type: Option<&[u8]>,
    body: &[u8],
    keep_alive: bool,
    head_only: bool,
) {
    status_line(out, status);
    if let Some(content_type) = content_type {
        header(out, b"Content-Type", content_type);
    }
    if !status.forbids_body() {
        content_length(out, body.len());
    }
    if !keep_alive {
        header(out, b"Connection", b"close");
    }
    end_head(out);
    if !head_only && !status.forbids_body() {
        out.extend_from_slice(body);
    }
}
