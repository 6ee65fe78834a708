//! HTTP errors: one variant per way a request is refused, each with its status, a
//! one-line explanation for the body, and whether the connection can go on.

use super::response;
use super::status::Status;

/// A number the key API reads from the query or a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberParam {
    /// `ttl` / `X-TTL`: seconds.
    Ttl,
    /// `flags` / `X-Flags`: memcached's 32-bit client flags.
    Flags,
}

/// A request tailcache refuses, answered with [`status`](Self::status) and
/// [`message`](Self::message) as a text body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// More blank lines before the request line than a request line may be long.
    EmptyLinesBeforeRequest,
    /// The request line is over the limit.
    RequestLineTooLong,
    /// The head (request line and header fields) is over the limit.
    HeadTooLarge,
    /// More header fields than the limit.
    TooManyHeaderFields,
    /// A line ends with a bare LF.
    BareLineFeed,
    /// Not `METHOD TARGET VERSION`.
    MalformedRequestLine,
    /// The target is not an origin-form path.
    TargetNotPath,
    /// An HTTP version other than 1.0 and 1.1.
    VersionNotSupported,
    /// A version that is not `HTTP/d.d`.
    MalformedVersion,
    /// A header field that is not `name: value` with a token name.
    MalformedHeaderField,
    /// A control character in a header field value.
    ControlCharacterInValue,
    /// A Content-Length that is not a number.
    MalformedContentLength,
    /// Two Content-Length fields that disagree.
    ConflictingContentLength,
    /// An HTTP/1.1 request without exactly one Host field.
    HostFieldCount,
    /// A transfer coding (chunked): only Content-Length bodies are read.
    TransferCoding,
    /// A body over the value size limit.
    BodyTooLarge,
    /// The method is not served on this path.
    MethodNotAllowed {
        /// The methods the path allows (the `Allow` header).
        allow: &'static str,
    },
    /// No such path.
    NoSuchPath,
    /// A key whose percent-encoding is broken.
    BadPercentEncoding,
    /// An empty key.
    EmptyKey,
    /// A key over the key length limit.
    KeyTooLong,
    /// A PUT without a Content-Length.
    LengthRequired,
    /// A number given both in the query and in its header, or twice in the query.
    GivenTwice(NumberParam),
    /// A number that does not read as one, or out of its range.
    NotANumber(NumberParam),
    /// `/metrics` or `/stats` asked of a data port: they are served on the admin address.
    ServedOnAdminAddress,
}

impl HttpError {
    /// The status to answer with.
    pub fn status(&self) -> Status {
        use HttpError::*;
        match self {
            EmptyLinesBeforeRequest
            | BareLineFeed
            | MalformedRequestLine
            | TargetNotPath
            | MalformedVersion
            | MalformedHeaderField
            | ControlCharacterInValue
            | MalformedContentLength
            | ConflictingContentLength
            | HostFieldCount
            | BadPercentEncoding
            | EmptyKey
            | KeyTooLong
            | GivenTwice(_)
            | NotANumber(_) => Status::BadRequest,
            RequestLineTooLong => Status::UriTooLong,
            HeadTooLarge | TooManyHeaderFields => Status::RequestHeaderFieldsTooLarge,
            VersionNotSupported => Status::HttpVersionNotSupported,
            TransferCoding => Status::NotImplemented,
            BodyTooLarge => Status::PayloadTooLarge,
            MethodNotAllowed { .. } => Status::MethodNotAllowed,
            NoSuchPath | ServedOnAdminAddress => Status::NotFound,
            LengthRequired => Status::LengthRequired,
        }
    }

    /// Why, in one line (sent as the body, followed by a newline).
    pub fn message(&self) -> &'static str {
        use HttpError::*;
        match self {
            EmptyLinesBeforeRequest => "too many empty lines before the request",
            RequestLineTooLong => "request line too long",
            HeadTooLarge => "request head too large",
            TooManyHeaderFields => "too many header fields",
            BareLineFeed => "a line must end with CRLF, not a bare LF",
            MalformedRequestLine => "malformed request line",
            TargetNotPath => "request target must be a path starting with /",
            VersionNotSupported => "only HTTP/1.0 and HTTP/1.1 are supported",
            MalformedVersion => "malformed HTTP version",
            MalformedHeaderField => "malformed header field",
            ControlCharacterInValue => "control character in a header field value",
            MalformedContentLength => "malformed Content-Length",
            ConflictingContentLength => "conflicting Content-Length fields",
            HostFieldCount => "an HTTP/1.1 request needs exactly one Host header field",
            TransferCoding => {
                "transfer codings (chunked) are not supported: send a Content-Length body"
            }
            BodyTooLarge => "body larger than the value size limit",
            MethodNotAllowed { .. } => "method not allowed on this path",
            NoSuchPath => "no such path: use /keys/{key}",
            BadPercentEncoding => "bad percent-encoding in key",
            EmptyKey => "empty key",
            KeyTooLong => "key too long",
            LengthRequired => "PUT needs a Content-Length body",
            GivenTwice(NumberParam::Ttl) => {
                "ttl given more than once (query and X-TTL count together)"
            }
            GivenTwice(NumberParam::Flags) => {
                "flags given more than once (query and X-Flags count together)"
            }
            NotANumber(NumberParam::Ttl) => "ttl must be a non-negative integer number of seconds",
            NotANumber(NumberParam::Flags) => "flags must be an integer from 0 to 4294967295",
            ServedOnAdminAddress => "metrics and stats are served on the admin address",
        }
    }

    /// For 405: the methods the path allows (the `Allow` header).
    pub fn allow(&self) -> Option<&'static str> {
        match self {
            HttpError::MethodNotAllowed { allow } => Some(allow),
            _ => None,
        }
    }

    /// Whether the stream can no longer be framed: answer, then close. The others
    /// refuse a whole request, and the connection goes on.
    pub fn must_close(&self) -> bool {
        use HttpError::*;
        !matches!(
            self,
            MethodNotAllowed { .. }
                | NoSuchPath
                | BadPercentEncoding
                | EmptyKey
                | KeyTooLong
                | LengthRequired
                | GivenTwice(_)
                | NotANumber(_)
                | ServedOnAdminAddress
        )
    }

    /// Appends the whole response: status line, `Content-Type: text/plain`,
    /// `Content-Length`, `Allow` for 405, `Connection: close` when closing (or when the
    /// request asked for it: pass `keep_alive = false`), and the message as body. For a
    /// HEAD request pass `head_only`: the body is left out, its length still announced.
    pub fn encode(&self, out: &mut Vec<u8>, keep_alive: bool, head_only: bool) {
        let message = self.message();
        let body_len = message.len() + 1;
        response::status_line(out, self.status());
        response::header(out, b"Content-Type", b"text/plain; charset=utf-8");
        response::content_length(out, body_len);
        if let Some(allow) = self.allow() {
            response::header(out, b"Allow", allow.as_bytes());
        }
        if self.must_close() || !keep_alive {
            response::header(out, b"Connection", b"close");
        }
        response::end_head(out);
        if !head_only {
            out.extend_from_slice(message.as_bytes());
            out.push(b'\n');
        }
    }
}
