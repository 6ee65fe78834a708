//! Requests captured from curl 7.88.1 parse and route as intended; every status the
//! parser and router produce is checked with its exact response bytes.

use tailcache_protocol::http::{
    expects_continue, parse, route, HttpError, KeyMethod, Limits, Method, Parsed, Request, Route,
    Status, Version,
};

const CURL_PUT: &[u8] = b"PUT /keys/user%3A42?ttl=60 HTTP/1.1\r\nHost: 127.0.0.1:42843\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nContent-Length: 5\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nhello";
const CURL_GET: &[u8] = b"GET /keys/user%3A42 HTTP/1.1\r\nHost: 127.0.0.1:42843\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
const CURL_HEAD: &[u8] = b"HEAD /keys/k HTTP/1.1\r\nHost: 127.0.0.1:42843\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
const CURL_DELETE: &[u8] = b"DELETE /keys/k HTTP/1.1\r\nHost: 127.0.0.1:42843\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
const CURL_CHUNKED: &[u8] = b"PUT /keys/k HTTP/1.1\r\nHost: 127.0.0.1:42843\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
const CURL_PUT_HEADERS: &[u8] = b"PUT /keys/big HTTP/1.1\r\nHost: 127.0.0.1:42843\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nX-TTL: 30\r\nX-Flags: 7\r\nContent-Length: 3\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nxyz";

fn complete(input: &[u8]) -> (Request<'_>, usize) {
    match parse(input, &Limits::default()) {
        Ok(Parsed::Complete {
            request,
            consumed_bytes: consumed,
        }) => (request, consumed),
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

fn key_route(input: &[u8]) -> tailcache_protocol::http::KeyRequest<'_> {
    let (request, consumed) = complete(input);
    assert_eq!(consumed, input.len());
    match route(&request, &Limits::default()) {
        Ok(Route::Key(key)) => key,
        other => panic!("{other:?}"),
    }
}

#[test]
fn curl_put_with_query_ttl() {
    let (request, _) = complete(CURL_PUT);
    assert_eq!(request.method, Method::Put);
    assert_eq!(request.path, b"/keys/user%3A42");
    assert_eq!(request.query, Some(&b"ttl=60"[..]));
    assert_eq!(request.version, Version::Http11);
    assert_eq!(
        request.headers.get(b"user-agent"),
        Some(&b"curl/7.88.1"[..])
    );
    assert_eq!(request.headers.iter().count(), 5);
    assert!(request.keep_alive);
    let key = key_route(CURL_PUT);
    assert_eq!(key.method, KeyMethod::Put);
    assert_eq!(&*key.key, b"user:42");
    assert_eq!(key.ttl_secs, Some(60));
    assert_eq!(key.flags, None);
    assert_eq!(key.value, b"hello");
}

#[test]
fn curl_put_with_ttl_and_flags_headers() {
    let key = key_route(CURL_PUT_HEADERS);
    assert_eq!(
        (key.ttl_secs, key.flags, key.value),
        (Some(30), Some(7), &b"xyz"[..])
    );
}

#[test]
fn curl_get_head_delete() {
    let get = key_route(CURL_GET);
    assert_eq!((get.method, &*get.key), (KeyMethod::Get, &b"user:42"[..]));
    assert!(
        matches!(get.key, std::borrow::Cow::Owned(_)),
        "escaped keys are decoded"
    );
    let head = key_route(CURL_HEAD);
    assert_eq!(head.method, KeyMethod::Head);
    assert!(
        matches!(head.key, std::borrow::Cow::Borrowed(b"k")),
        "plain keys are borrowed"
    );
    assert_eq!(key_route(CURL_DELETE).method, KeyMethod::Delete);
}

fn response(error: HttpError, keep_alive: bool, head_only: bool) -> String {
    let mut out = Vec::new();
    error.encode(&mut out, keep_alive, head_only);
    String::from_utf8(out).unwrap()
}

#[test]
fn chunked_bodies_get_501_and_close() {
    let error = parse(CURL_CHUNKED, &Limits::default()).unwrap_err();
    assert_eq!(error.status(), Status::NotImplemented);
    assert!(error.must_close());
    assert_eq!(
        response(error, true, false),
        "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 73\r\nConnection: close\r\n\r\ntransfer codings (chunked) are not supported: send a Content-Length body\n"
    );
}

fn parse_error(input: &[u8], limits: &Limits) -> HttpError {
    parse(input, limits).expect_err(&String::from_utf8_lossy(input))
}

fn route_error(input: &[u8]) -> HttpError {
    let (request, _) = complete(input);
    route(&request, &Limits::default()).expect_err(&String::from_utf8_lossy(input))
}

#[test]
fn framing_errors_close_the_connection() {
    let limits = Limits {
        max_body_bytes: 4,
        max_header_count: 3,
        ..Limits::default()
    };
    let cases: &[(&[u8], Status)] = &[
        (
            b"PUT /keys/k HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n",
            Status::PayloadTooLarge,
        ),
        (
            b"GET /keys/k HTTP/1.1\r\nHost: t\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n",
            Status::RequestHeaderFieldsTooLarge,
        ),
        (
            b"GET /keys/k HTTP/2.0\r\n\r\n",
            Status::HttpVersionNotSupported,
        ),
        (b"GET /keys/k FTP/1.0\r\n\r\n", Status::BadRequest),
        (
            b"GET  /keys/k HTTP/1.1\r\nHost: t\r\n\r\n",
            Status::BadRequest,
        ),
        (
            b"GET keys/k HTTP/1.1\r\nHost: t\r\n\r\n",
            Status::BadRequest,
        ),
        (
            b"G(T /keys/k HTTP/1.1\r\nHost: t\r\n\r\n",
            Status::BadRequest,
        ),
        (
            b"GET /keys/k HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n",
            Status::BadRequest,
        ),
        (
            b"GET /keys/k HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n",
            Status::BadRequest,
        ),
        (
            b"GET /keys/k HTTP/1.1\r\nHost: t\r\n folded: x\r\n\r\n",
            Status::BadRequest,
        ),
        (
            b"PUT /keys/k HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n",
            Status::BadRequest,
        ),
        (
            b"PUT /keys/k HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
            Status::BadRequest,
        ),
        (
            b"PUT /keys/k HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            Status::BadRequest,
        ),
    ];
    for &(input, status) in cases {
        let error = parse_error(input, &limits);
        assert_eq!(
            error.status(),
            status,
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert!(error.must_close());
    }
    let long_line = [b"GET /".as_slice(), &[b'a'; 9000]].concat();
    assert_eq!(
        parse_error(&long_line, &Limits::default()).status(),
        Status::UriTooLong
    );
    let long_head = [
        b"GET / HTTP/1.1\r\nHost: t\r\nX: ".as_slice(),
        &[b'a'; 17000],
    ]
    .concat();
    assert_eq!(
        parse_error(&long_head, &Limits::default()).status(),
        Status::RequestHeaderFieldsTooLarge
    );
}

#[test]
fn routing_errors_keep_the_connection() {
    let cases: &[(&[u8], Status)] = &[
        (b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", Status::NotFound),
        (
            b"GET /keys/ HTTP/1.1\r\nHost: t\r\n\r\n",
            Status::BadRequest,
        ),
        (
            b"GET /keys/a%zz HTTP/1.1\r\nHost: t\r\n\r\n",
            Status::BadRequest,
        ),
        (
            b"PUT /keys/k HTTP/1.1\r\nHost: t\r\n\r\n",
            Status::LengthRequired,
        ),
        (
            b"PUT /keys/k?ttl=abc HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
            Status::BadRequest,
        ),
        (
            b"PUT /keys/k?ttl=-1 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
            Status::BadRequest,
        ),
        (
            b"PUT /keys/k?ttl=1 HTTP/1.1\r\nHost: t\r\nX-TTL: 1\r\nContent-Length: 0\r\n\r\n",
            Status::BadRequest,
        ),
        (
            b"PUT /keys/k?flags=4294967296 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
            Status::BadRequest,
        ),
        (
            b"POST /keys/k HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
            Status::MethodNotAllowed,
        ),
        (
            b"PUT /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
            Status::MethodNotAllowed,
        ),
    ];
    for &(input, status) in cases {
        let error = route_error(input);
        assert_eq!(
            error.status(),
            status,
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert!(!error.must_close());
    }
    let long_key = [
        b"GET /keys/".as_slice(),
        &[b'k'; 251],
        b" HTTP/1.1\r\nHost: t\r\n\r\n",
    ]
    .concat();
    assert_eq!(route_error(&long_key).status(), Status::BadRequest);
}

#[test]
fn method_not_allowed_names_the_allowed_methods() {
    let error = route_error(b"POST /keys/k HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        response(error, true, false),
        "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 32\r\nAllow: GET, HEAD, PUT, DELETE\r\n\r\nmethod not allowed on this path\n"
    );
    let not_found = route_error(b"HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        response(not_found, false, true),
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 30\r\nConnection: close\r\n\r\n"
    );
}

#[test]
fn admin_paths() {
    for (path, expected) in [
        ("/metrics", Route::Metrics),
        ("/stats", Route::Stats),
        ("/health", Route::Health),
    ] {
        for method in ["GET", "HEAD"] {
            let input = format!("{method} {path} HTTP/1.1\r\nHost: t\r\n\r\n");
            let (request, _) = complete(input.as_bytes());
            assert_eq!(route(&request, &Limits::default()), Ok(expected.clone()));
        }
    }
}

#[test]
fn keep_alive_rules() {
    let keep = |input: &[u8]| complete(input).0.keep_alive;
    assert!(keep(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    assert!(!keep(
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    ));
    assert!(!keep(
        b"GET / HTTP/1.1\r\nHost: t\r\nconnection: Upgrade, Close\r\n\r\n"
    ));
    assert!(!keep(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(keep(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
}

#[test]
fn leading_blank_lines_are_skipped() {
    let (request, consumed) = complete(b"\r\n\nGET /keys/k HTTP/1.1\r\nHost: x\r\n\r\nGET");
    assert_eq!(
        consumed,
        b"\r\n\nGET /keys/k HTTP/1.1\r\nHost: x\r\n\r\n".len()
    );
    assert_eq!(request.headers.get(b"HOST"), Some(&b"x"[..]));
}

/// Each was accepted before the parser was made strict (issue 11): a bare LF ending a
/// line, a control byte in a header value, an HTTP/1.1 request without one Host.
/// Each is a 400 that closes the connection, since a proxy in front may read the same
/// bytes as a different request.
#[test]
fn strict_framing_refuses_what_a_proxy_could_read_differently() {
    for (input, message) in [
        (&b"GET /keys/k HTTP/1.1\nHost: x\r\n\r\n"[..], "bare LF"),
        (b"GET /keys/k HTTP/1.1\r\nHost: x\n\r\n", "bare LF"),
        (b"GET /keys/k HTTP/1.1\r\nHost: x\r\n\n", "bare LF"),
        (
            b"GET /keys/k HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",
            "control character",
        ),
        (
            b"GET /keys/k HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n",
            "control character",
        ),
        (
            b"GET /keys/k HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
            "control character",
        ),
        (b"GET /keys/k HTTP/1.1\r\n\r\n", "Host"),
        (
            b"GET /keys/k HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "Host",
        ),
    ] {
        let error = parse(input, &Limits::default()).expect_err(message);
        assert_eq!(error.status(), Status::BadRequest, "{input:?}");
        assert!(error.must_close(), "{input:?}");
        assert!(
            error.message().contains(message),
            "{input:?}: {}",
            error.message()
        );
    }
    // A tab is allowed in a value, and HTTP/1.0 needs no Host.
    complete(b"GET /keys/k HTTP/1.1\r\nHost: x\r\nX-A: a\tb\r\n\r\n");
    complete(b"GET /keys/k HTTP/1.0\r\n\r\n");
}

#[test]
fn pipelined_requests_parse_one_after_another() {
    let pipeline = [CURL_PUT, CURL_GET, CURL_DELETE].concat();
    let mut position = 0;
    let mut methods = Vec::new();
    while position < pipeline.len() {
        let (request, consumed) = complete(&pipeline[position..]);
        methods.push(request.method);
        position += consumed;
    }
    assert_eq!(methods, [Method::Put, Method::Get, Method::Delete]);
}

#[test]
fn expect_continue_is_reported_while_the_body_is_missing() {
    let head =
        b"PUT /keys/k HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    assert_eq!(
        parse(head, &Limits::default()),
        Ok(Parsed::Incomplete {
            needed_bytes_hint: head.len() + 3
        })
    );
    assert_eq!(expects_continue(head, &Limits::default()), Some(true));
    let whole = [head.as_slice(), b"abc"].concat();
    assert!(matches!(
        parse(&whole, &Limits::default()),
        Ok(Parsed::Complete { .. })
    ));
    assert_eq!(expects_continue(&whole, &Limits::default()), Some(false));
    assert_eq!(
        parse(&head[..20], &Limits::default()),
        Ok(Parsed::Incomplete {
            needed_bytes_hint: 21
        })
    );
    assert_eq!(expects_continue(&head[..20], &Limits::default()), None);
}
