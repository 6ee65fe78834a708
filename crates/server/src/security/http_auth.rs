//! Bearer tokens on the HTTP data API and the admin endpoint: a request
//! must carry `Authorization: Bearer <token>`, compared in constant time;
//! otherwise it gets `401` with `WWW-Authenticate: Bearer` and the
//! connection closes, so that every guess costs a new connection. `/health`
//! needs no token (load balancers probe it; it says only "ok").

use tailcache_protocol::http::{response, Request, Status};

use crate::security::access::{secret_eq, Secret};

/// Whether `request` may be served under `token` (`None`: no token required).
pub fn authorized(request: &Request<'_>, token: Option<&Secret>) -> bool {
    let Some(token) = token else {
        return true;
    };
    if request.path == b"/health" {
        return true;
    }
    let mut fields = request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(b"authorization"));
    let (Some((_, value)), None) = (fields.next(), fields.next()) else {
        // None, or several: refused either way.
        return false;
    };
    bearer_credentials(value).is_some_and(|given| secret_eq(given, token.as_bytes()))
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is
/// case-insensitive, RFC 6750).
fn bearer_credentials(value: &[u8]) -> Option<&[u8]> {
    let scheme = value.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = value[7..].trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// The `401` reply; the connection closes after it.
pub fn encode_unauthorized(out: &mut Vec<u8>, head_only: bool) {
    let body: &[u8] = b"a bearer token is required (Authorization: Bearer <token>)\n";
    response::status_line(out, Status::Unauthorized);
    response::header(out, b"WWW-Authenticate", b"Bearer");
    response::header(out, b"Content-Type", b"text/plain; charset=utf-8");
    response::content_length(out, body.len());
    response::header(out, b"Connection", b"close");
    response::end_head(out);
    if !head_only {
        out.extend_from_slice(body);
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_credentials;

    #[test]
    fn reads_bearer_credentials() {
        assert_eq!(bearer_credentials(b"Bearer abc"), Some(b"abc".as_slice()));
        assert_eq!(bearer_credentials(b"bearer  abc "), Some(b"abc".as_slice()));
        assert_eq!(bearer_credentials(b"Basic abc"), None);
        assert_eq!(bearer_credentials(b"Bearer "), None);
        assert_eq!(bearer_credentials(b"Bearer"), None);
    }
}
