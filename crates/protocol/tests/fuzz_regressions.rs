//! Regression tests for inputs the fuzz targets (crates/protocol/fuzz) found, each also
//! kept in the committed corpus, plus the rules behind them checked against memcached
//! 1.6.18.
//!
//! `noreply` as a key: memcached looks for `noreply` in a classic command's last token,
//! except in a one-argument `delete`, whose last token is the key. The answers below are
//! what a real memcached 1.6.18 sent back to each line.

use tailcache_protocol::memcache::request_encode::encode_request;
use tailcache_protocol::memcache::{parse, Limits, Parsed, Request};

/// What one line (and data block) parses to, in a form a test can compare.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// A request on `key` (empty for keyless commands), with its `noreply`.
    Request { key: Vec<u8>, noreply: bool },
    /// An error whose reply is these bytes (empty: silenced by `noreply`).
    Error(Vec<u8>),
}

fn request(key: &str, noreply: bool) -> Outcome {
    Outcome::Request {
        key: key.as_bytes().to_vec(),
        noreply,
    }
}

fn error(reply: &str) -> Outcome {
    Outcome::Error(reply.as_bytes().to_vec())
}

fn key_and_noreply(request: &Request<'_>) -> (Vec<u8>, bool) {
    match request {
        Request::Store(store) => (store.key.to_vec(), store.noreply),
        Request::Get(get) => (get.keys.clone().collect::<Vec<_>>().join(&b' '), false),
        Request::Delete(delete) => (delete.key.to_vec(), delete.noreply),
        Request::Incr(incr) => (incr.key.to_vec(), incr.noreply),
        Request::Touch(touch) => (touch.key.to_vec(), touch.noreply),
        Request::FlushAll(flush) => (Vec::new(), flush.noreply),
        Request::Verbosity(verbosity) => (Vec::new(), verbosity.noreply),
        other => panic!("unexpected request {other:?}"),
    }
}

/// Parses `input`, which must be one whole request or error, and checks that a request
/// survives encode -> parse -> encode unchanged.
fn outcome(input: &[u8]) -> Outcome {
    let limits = Limits::default();
    match parse(input, &limits) {
        Ok(Parsed::Complete {
            request,
            consumed_bytes,
        }) => {
            assert_eq!(consumed_bytes, input.len());
            let mut first = Vec::new();
            encode_request(&mut first, &request);
            let Ok(Parsed::Complete {
                request: again,
                consumed_bytes,
            }) = parse(&first, &limits)
            else {
                panic!("{:?} does not parse", String::from_utf8_lossy(&first));
            };
            assert_eq!(consumed_bytes, first.len());
            assert_eq!(key_and_noreply(&again), key_and_noreply(&request));
            let mut second = Vec::new();
            encode_request(&mut second, &again);
            assert_eq!(
                String::from_utf8_lossy(&first),
                String::from_utf8_lossy(&second)
            );
            let (key, noreply) = key_and_noreply(&request);
            Outcome::Request { key, noreply }
        }
        Ok(Parsed::Incomplete { .. }) => panic!("incomplete"),
        Err(error) => Outcome::Error(error.reply().to_vec()),
    }
}

fn check(cases: &[(&str, Outcome)]) {
    for (input, expected) in cases {
        assert_eq!(&outcome(input.as_bytes()), expected, "{input:?}");
    }
}

const DELETE_USAGE: &str =
    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n";

/// The CI failure: `delete noreply 0` parsed as key `noreply` with a reply, was encoded
/// as `delete noreply`, which parsed back as silent.
#[test]
fn delete_of_the_key_noreply_round_trips() {
    check(&[
        ("delete noreply\r\n", request("noreply", false)),
        ("delete noreply noreply\r\n", request("noreply", true)),
        ("delete noreply 0\r\n", request("noreply", false)),
        ("delete noreply 0 noreply\r\n", request("noreply", true)),
    ]);
}

#[test]
fn delete_hold_time_and_noreply_as_memcached() {
    check(&[
        ("delete k 0\r\n", request("k", false)),
        ("delete k 0 noreply\r\n", request("k", true)),
        ("delete k noreply\r\n", request("k", true)),
        // Invalid, but the last token is noreply: memcached sends nothing.
        ("delete k noreply noreply\r\n", error("")),
        ("delete k 1 noreply\r\n", error("")),
        ("delete k 1\r\n", error(DELETE_USAGE)),
        ("delete k noreply 0\r\n", error(DELETE_USAGE)),
        ("delete k 0 0\r\n", error(DELETE_USAGE)),
        ("delete k 0 noreply x\r\n", error("ERROR\r\n")),
    ]);
}

#[test]
fn get_keys_named_noreply_are_keys() {
    check(&[
        ("get noreply\r\n", request("noreply", false)),
        (
            "gets noreply noreply\r\n",
            request("noreply noreply", false),
        ),
        ("gat 0 noreply\r\n", request("noreply", false)),
        (
            "gat noreply\r\n",
            error("CLIENT_ERROR invalid exptime argument\r\n"),
        ),
    ]);
}

#[test]
fn touch_incr_decr_read_noreply_from_the_last_token() {
    check(&[
        ("touch noreply 0\r\n", request("noreply", false)),
        ("touch noreply 0 noreply\r\n", request("noreply", true)),
        ("touch noreply noreply\r\n", error("")),
        ("touch k noreply\r\n", error("")),
        ("incr noreply 1\r\n", request("noreply", false)),
        ("incr noreply 1 noreply\r\n", request("noreply", true)),
        ("incr noreply noreply\r\n", error("")),
        ("incr k noreply\r\n", error("")),
        ("decr noreply 1\r\n", request("noreply", false)),
        ("decr k 1 x\r\n", request("k", false)),
    ]);
}

#[test]
fn storage_commands_read_noreply_from_the_last_token() {
    check(&[
        ("set noreply 0 0 1\r\na\r\n", request("noreply", false)),
        (
            "set noreply 0 0 1 noreply\r\na\r\n",
            request("noreply", true),
        ),
        (
            "add noreply 0 0 1 noreply\r\nb\r\n",
            request("noreply", true),
        ),
        ("append noreply 0 0 1\r\nb\r\n", request("noreply", false)),
        (
            "prepend noreply 0 0 1 noreply\r\nc\r\n",
            request("noreply", true),
        ),
        ("replace noreply 0 0 1\r\nd\r\n", request("noreply", false)),
        (
            "cas noreply 0 0 1 5 noreply\r\na\r\n",
            request("noreply", true),
        ),
        ("set k 0 0 1 x\r\na\r\n", request("k", false)),
        // The length (or cas) token is `noreply`: a bad line that memcached silences.
        ("set k 0 0 noreply\r\n", error("")),
        ("cas k 0 0 1 noreply\r\n", error("")),
        (
            "set k 0 noreply 1\r\n",
            error("CLIENT_ERROR bad command line format\r\n"),
        ),
    ]);
}

#[test]
fn verbosity_and_flush_all_read_noreply_from_the_last_token() {
    check(&[
        ("verbosity noreply\r\n", error("")),
        ("verbosity noreply noreply\r\n", error("")),
        ("verbosity 1 noreply\r\n", request("", true)),
        ("verbosity 0\r\n", request("", false)),
        ("verbosity 0 x\r\n", request("", false)),
        ("flush_all noreply\r\n", request("", true)),
        ("flush_all 0 noreply\r\n", request("", true)),
        ("flush_all noreply noreply\r\n", error("")),
        ("flush_all 5 6\r\n", request("", false)),
        ("flush_all 0\r\n", request("", false)),
    ]);
}
