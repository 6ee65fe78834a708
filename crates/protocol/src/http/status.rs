//! The status codes tailcache answers with.

/// An HTTP status tailcache can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 100: the client may send the body it announced with `Expect: 100-continue`.
    Continue,
    /// 200.
    Ok,
    /// 201: a PUT stored a key.
    Created,
    /// 204: a DELETE removed a key.
    NoContent,
    /// 400.
    BadRequest,
    /// 401: a bearer token is required and was missing or wrong (send
    /// `WWW-Authenticate: Bearer`).
    Unauthorized,
    /// 404: no such key, or no such path.
    NotFound,
    /// 405: the path exists but not with this method (send `Allow`).
    MethodNotAllowed,
    /// 411: a PUT without `Content-Length`.
    LengthRequired,
    /// 413: the body exceeds the value limit.
    PayloadTooLarge,
    /// 414: the request line is too long.
    UriTooLong,
    /// 431: too many headers or too large a head.
    RequestHeaderFieldsTooLarge,
    /// 500.
    InternalServerError,
    /// 501: chunked or other transfer codings.
    NotImplemented,
    /// 503: e.g. out of memory with eviction off.
    ServiceUnavailable,
    /// 505: not HTTP/1.0 or HTTP/1.1.
    HttpVersionNotSupported,
}

impl Status {
    /// The numeric code.
    pub fn code(self) -> u16 {
        match self {
            Status::Continue => 100,
            Status::Ok => 200,
            Status::Created => 201,
            Status::NoContent => 204,
            Status::BadRequest => 400,
            Status::Unauthorized => 401,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::LengthRequired => 411,
            Status::PayloadTooLarge => 413,
            Status::UriTooLong => 414,
            Status::RequestHeaderFieldsTooLarge => 431,
            Status::InternalServerError => 500,
            Status::NotImplemented => 501,
            Status::ServiceUnavailable => 503,
            Status::HttpVersionNotSupported => 505,
        }
    }

    /// The reason phrase.
    pub fn reason(self) -> &'static str {
        match self {
            Status::Continue => "Continue",
            Status::Ok => "OK",
            Status::Created => "Created",
            Status::NoContent => "No Content",
            Status::BadRequest => "Bad Request",
            Status::Unauthorized => "Unauthorized",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::LengthRequired => "Length Required",
            Status::PayloadTooLarge => "Payload Too Large",
            Status::UriTooLong => "URI Too Long",
            Status::RequestHeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
            Status::ServiceUnavailable => "Service Unavailable",
            Status::HttpVersionNotSupported => "HTTP Version Not Supported",
        }
    }

    /// Whether a response with this status never has a body (1xx, 204).
    pub fn forbids_body(self) -> bool {
        matches!(self, Status::Continue | Status::NoContent)
    }
}
