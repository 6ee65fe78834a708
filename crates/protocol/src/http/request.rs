//! Framing one HTTP/1.1 request: request line, bounded headers, `Content-Length` body.
//!
//! Lines end in `\r\n`: a bare `\n` is refused (RFC 9112 lets a server accept it, but
//! a proxy in front that reads lines differently could then be sent a second, smuggled
//! request). Empty lines before the request line are skipped. Obsolete header folding,
//! control characters in a header value, an HTTP/1.1 request without exactly one
//! `Host`, a transfer coding, a malformed or conflicting `Content-Length` are refused
//! (400, or 501 for a transfer coding) and close the connection.

use super::error::HttpError;
use super::headers::{is_token_byte, split_field, strip_cr, Headers};
use super::limits::Limits;
use crate::number::parse_u64_digits;

/// The request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// PUT.
    Put,
    /// POST.
    Post,
    /// DELETE.
    Delete,
    /// Any other valid method token (answered with 405 by [`route`](super::route)).
    Other,
}

/// The protocol version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: the connection closes after the response unless `keep-alive` is asked.
    Http10,
    /// HTTP/1.1: the connection stays open unless `Connection: close`.
    Http11,
}

/// One framed request, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method.
    pub method: Method,
    /// The method as sent.
    pub method_bytes: &'a [u8],
    /// The path, before any `?`, not yet percent-decoded.
    pub path: &'a [u8],
    /// The query after `?`, if any.
    pub query: Option<&'a [u8]>,
    /// The version.
    pub version: Version,
    /// The header fields.
    pub headers: Headers<'a>,
    /// The `Content-Length`, if sent.
    pub content_length: Option<usize>,
    /// The body (`content_length` bytes, empty without one).
    pub body: &'a [u8],
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// `X-TTL`, noted while parsing so routing need not walk the headers again.
    pub(crate) ttl_header: Seen<'a>,
    /// `X-Flags`, likewise.
    pub(crate) flags_header: Seen<'a>,
}

/// How often a header field was seen, and its value when once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Seen<'a> {
    /// Not at all.
    #[default]
    Never,
    /// Once, with this value.
    Once(&'a [u8]),
    /// More than once.
    Repeated,
}

impl<'a> Seen<'a> {
    fn note(&mut self, value: &'a [u8]) {
        *self = match self {
            Seen::Never => Seen::Once(value),
            _ => Seen::Repeated,
        };
    }
}

impl Request<'_> {
    /// Whether this is a HEAD request (answer with the head only).
    pub fn is_head(&self) -> bool {
        self.method == Method::Head
    }
}

/// What the front of the input holds (the crate's one shape).
pub type Parsed<'a> = crate::Parsed<Request<'a>>;

/// What the header fields say about framing and the connection.
#[derive(Default)]
struct HeadFacts<'a> {
    content_length: Option<usize>,
    transfer_encoding: bool,
    connection_close: bool,
    connection_keep_alive: bool,
    expect_continue: bool,
    host_fields: usize,
    ttl: Seen<'a>,
    flags: Seen<'a>,
}

/// A request's head, whole and checked: the request line, the header fields and
/// where the body starts.
struct Head<'a> {
    method: Method,
    method_bytes: &'a [u8],
    target: &'a [u8],
    version: Version,
    headers_start: usize,
    headers_end: usize,
    head_end: usize,
    body_len: usize,
    facts: HeadFacts<'a>,
}

/// Parses the request at the front of `input`. Errors close the connection.
pub fn parse<'a>(input: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, HttpError> {
    let Some(head) = parse_head(input, limits)? else {
        return Ok(Parsed::Incomplete {
            needed_bytes_hint: input.len() + 1,
        });
    };
    let Some(body) = input.get(head.head_end..head.head_end + head.body_len) else {
        return Ok(Parsed::Incomplete {
            needed_bytes_hint: head.head_end + head.body_len,
        });
    };
    let (path, query) = match memchr::memchr(b'?', head.target) {
        Some(mark) => (&head.target[..mark], Some(&head.target[mark + 1..])),
        None => (head.target, None),
    };
    let facts = &head.facts;
    let keep_alive = match head.version {
        Version::Http11 => !facts.connection_close,
        Version::Http10 => facts.connection_keep_alive && !facts.connection_close,
    };
    let request = Request {
        method: head.method,
        method_bytes: head.method_bytes,
        path,
        query,
        version: head.version,
        headers: Headers::new(&input[head.headers_start..head.headers_end]),
        content_length: facts.content_length,
        body,
        keep_alive,
        ttl_header: facts.ttl,
        flags_header: facts.flags,
    };
    Ok(Parsed::Complete {
        request,
        consumed_bytes: head.head_end + head.body_len,
    })
}

/// For a request at the front of `input` that [`parse`] found incomplete: `None`
/// while its head is not whole yet, then whether the client waits for
/// [`continue_100`](super::response::continue_100) before sending the rest of its body
/// (`Expect: 100-continue`). Once it is `Some`, the answer holds for this request, so a
/// server asks again only for the next one.
pub fn expects_continue(input: &[u8], limits: &Limits) -> Option<bool> {
    let head = parse_head(input, limits).ok()??;
    Some(head.facts.expect_continue && input.len() < head.head_end + head.body_len)
}

/// The head at the front of `input`, or `None` while it is not whole.
fn parse_head<'a>(input: &'a [u8], limits: &Limits) -> Result<Option<Head<'a>>, HttpError> {
    let start = input
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(input.len());
    if start > limits.max_request_line_bytes {
        return Err(HttpError::EmptyLinesBeforeRequest);
    }
    let Some(line_end) = find_line(
        input,
        start,
        limits.max_request_line_bytes,
        HttpError::RequestLineTooLong,
    )?
    else {
        return Ok(None);
    };
    let (method, method_bytes, target, version) =
        parse_request_line(strip_cr(&input[start..line_end]))?;
    let headers_start = line_end + 1;
    let Some((headers_end, head_end, facts)) = parse_headers(input, headers_start, start, limits)?
    else {
        return Ok(None);
    };
    if version == Version::Http11 && facts.host_fields != 1 {
        return Err(HttpError::HostFieldCount);
    }
    if facts.transfer_encoding {
        return Err(HttpError::TransferCoding);
    }
    let body_len = facts.content_length.unwrap_or(0);
    if body_len > limits.max_body_bytes {
        return Err(HttpError::BodyTooLarge);
    }
    Ok(Some(Head {
        method,
        method_bytes,
        target,
        version,
        headers_start,
        headers_end,
        head_end,
        body_len,
        facts,
    }))
}

/// Where the line starting at `start` ends (the index of its `\n`), looking no further
/// than `max_len` bytes; `too_long` when it is longer.
fn find_line(
    input: &[u8],
    start: usize,
    max_len: usize,
    too_long: HttpError,
) -> Result<Option<usize>, HttpError> {
    let window_end = input
        .len()
        .min(start.saturating_add(max_len).saturating_add(1));
    match memchr::memchr(b'\n', &input[start..window_end]) {
        Some(offset) if offset == 0 || input[start + offset - 1] != b'\r' => {
            Err(HttpError::BareLineFeed)
        }
        Some(offset) => Ok(Some(start + offset)),
        None if input.len() - start > max_len => Err(too_long),
        None => Ok(None),
    }
}

type RequestLine<'a> = (Method, &'a [u8], &'a [u8], Version);

fn parse_request_line(line: &[u8]) -> Result<RequestLine<'_>, HttpError> {
    let bad = HttpError::MalformedRequestLine;
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method_bytes), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad);
    };
    if method_bytes.is_empty() || !method_bytes.iter().all(|&b| is_token_byte(b)) {
        return Err(bad);
    }
    if target.first() != Some(&b'/') || target.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Err(HttpError::TargetNotPath);
    }
    Ok((
        method_of(method_bytes),
        method_bytes,
        target,
        version_of(version)?,
    ))
}

fn method_of(bytes: &[u8]) -> Method {
    match bytes {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        b"PUT" => Method::Put,
        b"POST" => Method::Post,
        b"DELETE" => Method::Delete,
        _ => Method::Other,
    }
}

fn version_of(bytes: &[u8]) -> Result<Version, HttpError> {
    match bytes {
        b"HTTP/1.1" => Ok(Version::Http11),
        b"HTTP/1.0" => Ok(Version::Http10),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(HttpError::VersionNotSupported)
        }
        _ => Err(HttpError::MalformedVersion),
    }
}

/// Walks the header lines from `position`; returns where the block ends, where the head
/// ends (after the blank line) and what the fields say, or `None` if incomplete.
fn parse_headers<'a>(
    input: &'a [u8],
    mut position: usize,
    head_start: usize,
    limits: &Limits,
) -> Result<Option<(usize, usize, HeadFacts<'a>)>, HttpError> {
    let mut facts = HeadFacts::default();
    let mut count = 0usize;
    loop {
        let budget = (head_start + limits.max_head_bytes).saturating_sub(position);
        let Some(line_end) = find_line(input, position, budget, HttpError::HeadTooLarge)? else {
            return Ok(None);
        };
        let line = strip_cr(&input[position..line_end]);
        if line.is_empty() {
            return Ok(Some((position, line_end + 1, facts)));
        }
        count += 1;
        if count > limits.max_header_count {
            return Err(HttpError::TooManyHeaderFields);
        }
        note_field(line, &mut facts)?;
        position = line_end + 1;
    }
}

fn note_field<'a>(line: &'a [u8], facts: &mut HeadFacts<'a>) -> Result<(), HttpError> {
    let bad = HttpError::MalformedHeaderField;
    let (name, value) = split_field(line).ok_or(bad)?;
    if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
        return Err(bad);
    }
    // RFC 9110 field-value: visible bytes, obs-text, space and tab; a CR, LF, NUL
    // or other control byte could end the line for another parser.
    if value.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f) {
        return Err(HttpError::ControlCharacterInValue);
    }
    if name.eq_ignore_ascii_case(b"content-length") {
        let length = parse_u64_digits(value)
            .and_then(|length| usize::try_from(length).ok())
            .ok_or(HttpError::MalformedContentLength)?;
        if facts
            .content_length
            .is_some_and(|previous| previous != length)
        {
            return Err(HttpError::ConflictingContentLength);
        }
        facts.content_length = Some(length);
    } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
        facts.transfer_encoding = true;
    } else if name.eq_ignore_ascii_case(b"connection") {
        for option in value.split(|&b| b == b',') {
            let option = super::headers::trim_ows(option);
            facts.connection_close |= option.eq_ignore_ascii_case(b"close");
            facts.connection_keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
        }
    } else if name.eq_ignore_ascii_case(b"host") {
        facts.host_fields += 1;
    } else if name.eq_ignore_ascii_case(b"x-ttl") {
        facts.ttl.note(value);
    } else if name.eq_ignore_ascii_case(b"x-flags") {
        facts.flags.note(value);
    } else if name.eq_ignore_ascii_case(b"expect") {
        facts.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
    }
    Ok(())
}
