//! HTTP errors: a status, a one-line explanation for the body, and whether the
//! connection can go on.

use super::response;
use super::status::Status;

/// A request tailcache refuses, answered with `status` and `message` as a text body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpError {
    /// The status to answer with.
    pub status: Status,
    /// Why, in one line (sent as the body, followed by a newline).
    pub message: &'static str,
    /// Whether the stream can no longer be framed: answer, then close.
    pub close: bool,
    /// For 405: the methods the path allows (the `Allow` header).
    pub allow: Option<&'static str>,
}

impl HttpError {
    /// An error after which the connection cannot go on (bad framing).
    pub(crate) const fn fatal(status: Status, message: &'static str) -> Self {
        HttpError {
            status,
            message,
            close: true,
            allow: None,
        }
    }

    /// An error about a well-framed request: the connection goes on.
    pub(crate) const fn request(status: Status, message: &'static str) -> Self {
        HttpError {
            status,
            message,
            close: false,
            allow: None,
        }
    }

    /// `405 Method Not Allowed` with its `Allow` header.
    pub(crate) const fn method_not_allowed(allow: &'static str) -> Self {
        HttpError {
            status: Status::MethodNotAllowed,
            message: "method not allowed on this path",
            close: false,
            allow: Some(allow),
        }
    }

    /// Whether the connection must close after this response is flushed.
    pub fn must_close(&self) -> bool {
        self.close
    }

    /// Appends the whole response: status line, `Content-Type: text/plain`,
    /// `Content-Length`, `Allow` for 405, `Connection: close` when closing (or when the
    /// request asked for it: pass `keep_alive = false`), and the message as body. For a
    /// HEAD request pass `head_only`: the body is left out, its length still announced.
    pub fn encode(&self, out: &mut Vec<u8>, keep_alive: bool, head_only: bool) {
        let body_len = self.message.len() + 1;
        response::status_line(out, self.status);
        response::header(out, b"Content-Type", b"text/plain; charset=utf-8");
        response::content_length(out, body_len);
        if let Some(allow) = self.allow {
            response::header(out, b"Allow", allow.as_bytes());
        }
        if self.close || !keep_alive {
            response::header(out, b"Connection", b"close");
        }
        response::end_head(out);
        if !head_only {
            out.extend_from_slice(self.message.as_bytes());
            out.push(b'\n');
        }
    }
}
