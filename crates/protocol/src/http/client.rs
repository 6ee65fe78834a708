//! Request encoders for the client side (tests and fuzzing): they append a request to
//! the caller's buffer, no `String`s. `tailcache-bench` keeps its own client codecs on
//! purpose, so that a server bug cannot hide behind an encoder both sides share.

use super::request::Request;
use crate::number::write_u64;

/// Appends `<method> <target> HTTP/1.1`, `Host: localhost` unless the given headers
/// name a host (HTTP/1.1 requires one), the given headers, a `Content-Length` when
/// `body` is non-empty or the method is PUT, and the body.
pub fn encode_request(
    out: &mut Vec<u8>,
    method: &[u8],
    target: &[u8],
    headers: &[(&[u8], &[u8])],
    body: &[u8],
) {
    write_request_line(out, method, target);
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case(b"host"))
    {
        write_field(out, b"Host", b"localhost");
    }
    for (name, value) in headers {
        write_field(out, name, value);
    }
    if !body.is_empty() || method == b"PUT" {
        write_content_length(out, body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Appends a parsed request again in canonical form (`\r\n` line ends, one space after
/// each colon); parsing the result gives back the same request.
pub fn reencode_request(out: &mut Vec<u8>, request: &Request<'_>) {
    out.extend_from_slice(request.method_bytes);
    out.push(b' ');
    out.extend_from_slice(request.path);
    if let Some(query) = request.query {
        out.push(b'?');
        out.extend_from_slice(query);
    }
    out.extend_from_slice(match request.version {
        super::Version::Http10 => b" HTTP/1.0\r\n",
        super::Version::Http11 => b" HTTP/1.1\r\n",
    });
    for (name, value) in request.headers.iter() {
        write_field(out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(request.body);
}

fn write_request_line(out: &mut Vec<u8>, method: &[u8], target: &[u8]) {
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\n");
}

fn write_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn write_content_length(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(b"Content-Length: ");
    write_u64(out, len as u64);
    out.extend_from_slice(b"\r\n");
}
