//! What a request asks for: a key operation or an admin path.
//!
//! `/keys/{key}` takes GET, HEAD, PUT and DELETE. The key is everything after `/keys/`
//! up to `?`, percent-decoded (see the rules in `percent.rs`: `%XX` only, `+` and `/`
//! literal). TTL comes from the `ttl` query parameter or the `X-TTL` header, client flags
//! from `flags` or `X-Flags`; each may be given once. `/metrics`, `/stats` and
//! `/health` take GET and HEAD. Anything else is 404.

use std::borrow::Cow;

use super::error::{HttpError, NumberParam};
use super::limits::Limits;
use super::percent;
use super::request::{Method, Request, Seen};
use crate::number::parse_u64_digits;

/// The methods `/keys/{key}` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMethod {
    /// Read the value (200 with body, or 404).
    Get,
    /// As GET without the body.
    Head,
    /// Store the body (201).
    Put,
    /// Remove the key (204, or 404).
    Delete,
}

/// A key operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest<'a> {
    /// What to do.
    pub method: KeyMethod,
    /// The decoded key (borrowed unless it had `%` escapes); non-empty, within the limit.
    pub key: Cow<'a, [u8]>,
    /// Relative TTL in seconds (`0`: never expires); `None` when not given. On GET and
    /// HEAD the server may treat it as a touch.
    pub ttl_secs: Option<u64>,
    /// Client flags to store (PUT) ; `None` when not given.
    pub flags: Option<u32>,
    /// The value to store (the body; empty unless PUT).
    pub value: &'a [u8],
}

/// What the server should do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// A key operation.
    Key(KeyRequest<'a>),
    /// `GET /metrics`: Prometheus text.
    Metrics,
    /// `GET /stats`: JSON.
    Stats,
    /// `GET /health`.
    Health,
}

const KEY_PREFIX: &[u8] = b"/keys/";
const KEY_METHODS: &str = "GET, HEAD, PUT, DELETE";
const ADMIN_METHODS: &str = "GET, HEAD";

/// Routes a framed request. Errors are answered and the connection goes on
/// (unless the request itself asked to close).
pub fn route<'a>(request: &Request<'a>, limits: &Limits) -> Result<Route<'a>, HttpError> {
    let admin = match request.path {
        b"/metrics" => Some(Route::Metrics),
        b"/stats" => Some(Route::Stats),
        b"/health" => Some(Route::Health),
        _ => None,
    };
    if let Some(admin) = admin {
        return match request.method {
            Method::Get | Method::Head => Ok(admin),
            _ => Err(HttpError::MethodNotAllowed {
                allow: ADMIN_METHODS,
            }),
        };
    }
    match request.path.strip_prefix(KEY_PREFIX) {
        Some(raw_key) => route_key(request, raw_key, limits).map(Route::Key),
        None => Err(HttpError::NoSuchPath),
    }
}

fn route_key<'a>(
    request: &Request<'a>,
    raw_key: &'a [u8],
    limits: &Limits,
) -> Result<KeyRequest<'a>, HttpError> {
    let method = match request.method {
        Method::Get => KeyMethod::Get,
        Method::Head => KeyMethod::Head,
        Method::Put => KeyMethod::Put,
        Method::Delete => KeyMethod::Delete,
        _ => return Err(HttpError::MethodNotAllowed { allow: KEY_METHODS }),
    };
    let key = percent::decode(raw_key).ok_or(HttpError::BadPercentEncoding)?;
    if key.is_empty() {
        return Err(HttpError::EmptyKey);
    }
    if key.len() > limits.max_key_len_bytes {
        return Err(HttpError::KeyTooLong);
    }
    if method == KeyMethod::Put && request.content_length.is_none() {
        return Err(HttpError::LengthRequired);
    }
    let ttl_secs = number_option(request.query, b"ttl", request.ttl_header, NumberParam::Ttl)?;
    let flags = number_option(
        request.query,
        b"flags",
        request.flags_header,
        NumberParam::Flags,
    )?
    .map(u32::try_from)
    .transpose()
    .map_err(|_| HttpError::NotANumber(NumberParam::Flags))?;
    Ok(KeyRequest {
        method,
        key,
        ttl_secs,
        flags,
        value: request.body,
    })
}

/// The value of a number given as query parameter `param` or in its header (as noted
/// by the parser), at most once in all.
fn number_option(
    query: Option<&[u8]>,
    param: &[u8],
    header: Seen<'_>,
    what: NumberParam,
) -> Result<Option<u64>, HttpError> {
    let mut from_query = query
        .into_iter()
        .flat_map(|query| query.split(|&b| b == b'&'))
        .filter_map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(equals) => (&pair[..equals], &pair[equals + 1..]),
                None => (pair, &b""[..]),
            };
            (name == param).then_some(value)
        });
    let value = match (from_query.next(), from_query.next(), header) {
        (None, _, Seen::Never) => return Ok(None),
        (Some(value), None, Seen::Never) | (None, _, Seen::Once(value)) => value,
        _ => return Err(HttpError::GivenTwice(what)),
    };
    parse_u64_digits(value)
        .map(Some)
        .ok_or(HttpError::NotANumber(what))
}
