//! Response encoders write exact HTTP/1.1 bytes into the caller's buffer.

use tailcache_protocol::http::response;
use tailcache_protocol::http::Status;

fn written(write: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    write(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn simple_responses() {
    assert_eq!(
        written(|out| response::simple(out, Status::Ok, Some(b"application/octet-stream"), b"hello", true, false)),
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\nhello"
    );
    // HEAD: the length of what GET would send, no body.
    assert_eq!(
        written(|out| response::simple(out, Status::Ok, None, b"hello", true, true)),
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    );
    assert_eq!(
        written(|out| response::simple(out, Status::Created, None, b"", false, false)),
        "HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    // 204 carries neither a body nor a Content-Length.
    assert_eq!(
        written(|out| response::simple(out, Status::NoContent, None, b"ignored", true, false)),
        "HTTP/1.1 204 No Content\r\n\r\n"
    );
    assert_eq!(
        written(response::continue_100),
        "HTTP/1.1 100 Continue\r\n\r\n"
    );
}

#[test]
fn streamed_value_response() {
    let value = b"from storage";
    let text = written(|out| {
        response::status_line(out, Status::Ok);
        response::integer_header(out, b"X-Flags", 42);
        response::content_length(out, value.len());
        response::end_head(out);
        out.extend_from_slice(value);
    });
    assert_eq!(
        text,
        "HTTP/1.1 200 OK\r\nX-Flags: 42\r\nContent-Length: 12\r\n\r\nfrom storage"
    );
}

#[test]
fn every_status_has_its_code_and_reason() {
    let all = [
        (Status::Continue, 100, "Continue"),
        (Status::Ok, 200, "OK"),
        (Status::Created, 201, "Created"),
        (Status::NoContent, 204, "No Content"),
        (Status::BadRequest, 400, "Bad Request"),
        (Status::NotFound, 404, "Not Found"),
        (Status::MethodNotAllowed, 405, "Method Not Allowed"),
        (Status::LengthRequired, 411, "Length Required"),
        (Status::PayloadTooLarge, 413, "Payload Too Large"),
        (Status::UriTooLong, 414, "URI Too Long"),
        (
            Status::RequestHeaderFieldsTooLarge,
            431,
            "Request Header Fields Too Large",
        ),
        (Status::InternalServerError, 500, "Internal Server Error"),
        (Status::NotImplemented, 501, "Not Implemented"),
        (Status::ServiceUnavailable, 503, "Service Unavailable"),
        (
            Status::HttpVersionNotSupported,
            505,
            "HTTP Version Not Supported",
        ),
    ];
    for (status, code, reason) in all {
        assert_eq!((status.code(), status.reason()), (code, reason));
        assert_eq!(
            written(|out| response::status_line(out, status)),
            format!("HTTP/1.1 {code} {reason}\r\n")
        );
    }
}
