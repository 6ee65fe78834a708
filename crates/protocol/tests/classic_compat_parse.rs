//! Parser rules that memcached's own test suite (and Redis's cross-protocol
//! guard) depend on: HTTP request lines close the connection, `slabs`
//! number checks, and the RESP port refusing `POST` and `Host:`.

use tailcache_protocol::memcache::{self, Limits, ParseErrorKind};
use tailcache_protocol::resp::{self, ProtocolError};
use tailcache_protocol::ErrorAction;

fn memcache_error(input: &[u8]) -> (ParseErrorKind, ErrorAction, Vec<u8>) {
    let error = memcache::parse(input, &Limits::default()).expect_err("an error");
    (error.kind(), error.action(), error.reply().to_vec())
}

#[test]
fn http_request_lines_close_without_a_reply() {
    for line in [
        &b"GET / HTTP/1.0\r\n"[..],
        b"PUT /asdf/asd/fasdfasdf/sadf HTTP/1.1\r\n",
        b"DELETE HTTP/1.1\r\n",
        b"POST / HTTP/1.1\n",
        b"HEAD / HTTP/1.1\r\n",
        b"HTTP/1.1\r\n",
        b"OPTIONS * HTTP/1.1\r\n",
    ] {
        assert_eq!(
            memcache_error(line),
            (ParseErrorKind::HttpRequest, ErrorAction::Close, Vec::new()),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn only_commands_memcached_does_not_dispatch_close() {
    // memcached dispatches these by their first letter or by name, and
    // answers ERROR whatever their last token.
    for line in [
        &b"sget / HTTP/1.0\r\n"[..],
        b"delete_all HTTP/1.1\r\n",
        b"touchy HTTP/1.1\r\n",
        b"mx HTTP/1.1\r\n",
        b"replace HTTP/1.1\r\n",
        b"prepend x HTTP/1.1\r\n",
        b"G HTTP/1.1\r\n",
        b"GET / HTTP/1.1 x\r\n",
    ] {
        let (kind, action, reply) = memcache_error(line);
        assert_eq!(kind, ParseErrorKind::UnknownCommand, "{line:?}");
        assert_eq!(reply, b"ERROR\r\n");
        assert!(matches!(action, ErrorAction::Skip { bytes } if bytes == line.len()));
    }
    // memcached looks at the 23rd token of a longer line.
    let mut at_23 = b"FOO".to_vec();
    at_23.extend_from_slice(&b" a".repeat(21));
    at_23.extend_from_slice(b" HTTP/1.1 b c\r\n");
    assert_eq!(memcache_error(&at_23).0, ParseErrorKind::HttpRequest);
    let mut at_24 = b"FOO".to_vec();
    at_24.extend_from_slice(&b" a".repeat(22));
    at_24.extend_from_slice(b" HTTP/1.1\r\n");
    assert_eq!(memcache_error(&at_24).0, ParseErrorKind::UnknownCommand);
    // A get with such keys is still a get.
    assert!(memcache::parse(b"get / HTTP/1.0\r\n", &Limits::default()).is_ok());
}

#[test]
fn slabs_checks_its_numbers_like_memcached() {
    let bad = ParseErrorKind::BadCommandLine;
    let unknown = ParseErrorKind::UnknownCommand;
    for (line, kind, reply) in [
        (
            &b"slabs automove invalid\r\n"[..],
            bad,
            &b"CLIENT_ERROR bad command line format\r\n"[..],
        ),
        (b"slabs automove x noreply\r\n", bad, b""),
        (b"slabs automove 1 noreply\r\n", unknown, b""),
        (b"slabs automove 1\r\n", unknown, b"ERROR\r\n"),
        (b"slabs automove ratio x\r\n", unknown, b"ERROR\r\n"),
        (b"slabs automove\r\n", unknown, b"ERROR\r\n"),
        (
            b"slabs reassign x 1\r\n",
            bad,
            b"CLIENT_ERROR bad command line format\r\n",
        ),
        (b"slabs reassign 1 x noreply\r\n", unknown, b"ERROR\r\n"),
        (b"slabs\r\n", unknown, b"ERROR\r\n"),
    ] {
        let (got_kind, _, got_reply) = memcache_error(line);
        assert_eq!(
            (got_kind, got_reply.as_slice()),
            (kind, reply),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn verbosity_with_a_bad_level_is_a_client_error() {
    let (kind, _, reply) = memcache_error(b"verbosity invalid\r\n");
    assert_eq!(kind, ParseErrorKind::BadCommandLine);
    assert_eq!(reply, b"CLIENT_ERROR bad command line format\r\n");
}

#[test]
fn resp_post_and_host_close_silently() {
    for request in [
        &b"POST / HTTP/1.1\r\n"[..],
        b"post\r\n",
        b"Host: example.com\r\n",
        b"*1\r\n$5\r\nHOST:\r\n",
        b"*2\r\n$4\r\nPoSt\r\n$1\r\nx\r\n",
    ] {
        let error = resp::parse(request, &resp::Limits::default()).expect_err("refused");
        assert_eq!(
            error,
            resp::ParseError::Protocol(ProtocolError::CrossProtocolScripting)
        );
        assert!(error.action() == ErrorAction::Close);
        let mut reply = Vec::new();
        error.encode(&mut reply);
        assert!(reply.is_empty());
    }
    // Only the command name counts.
    assert!(resp::parse(b"ECHO post\r\n", &resp::Limits::default()).is_ok());
    assert!(resp::parse(b"hostx\r\n", &resp::Limits::default()).is_err());
    assert_ne!(
        resp::parse(b"hostx\r\n", &resp::Limits::default())
            .unwrap_err()
            .action(),
        ErrorAction::Close
    );
}
