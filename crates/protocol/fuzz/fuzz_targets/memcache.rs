//! memcache fuzz target: parse any bytes (or a request built from structured parts),
//! re-encode every complete request, parse again and compare; check that every prefix
//! of the first request is Incomplete or decides the same as the whole input. Raw bytes
//! go through the binary protocol's parser too, with the same checks.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tailcache_protocol::memcache::binary::{parse_binary, BinaryParsed};
use tailcache_protocol::ErrorAction;
use tailcache_protocol::memcache::binary_encode::encode_binary_request;
use tailcache_protocol::memcache::request_encode::encode_request;
use tailcache_protocol::memcache::{parse, Limits, Parsed};

/// Command words the structured input draws from, so that it reaches every parser.
const WORDS: &[&str] = &[
    "get",
    "gets",
    "gat",
    "gats",
    "set",
    "add",
    "replace",
    "append",
    "prepend",
    "cas",
    "delete",
    "incr",
    "decr",
    "touch",
    "flush_all",
    "version",
    "verbosity",
    "quit",
    "stats",
    "mg",
    "ms",
    "md",
    "ma",
    "mn",
    "me",
    "noreply",
    "0",
    "1",
    "-1",
    "3",
    "YQ==",
    "b",
    "v",
    "q",
    "k",
    "c",
    "T30",
    "N5",
    "Oab",
    "MA",
    "MD",
    "C1",
    "D2",
    "F7",
    "I",
    "x",
    "E9",
];

#[derive(Arbitrary, Debug)]
enum Token {
    Word(u8),
    Number(i64),
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Input {
    /// Any bytes, as a client might send.
    Raw(Vec<u8>),
    /// A line of tokens plus a data block, in small or default limits.
    Structured {
        tokens: Vec<Token>,
        data: Vec<u8>,
        small_limits: bool,
    },
}

fn small_limits() -> Limits {
    Limits {
        max_key_bytes: 8,
        max_line_bytes: 136,
        max_get_line_bytes: 300,
        max_keys_per_get: 4,
        max_value_bytes: 16,
        max_meta_tokens: 6,
    }
}

fuzz_target!(|input: Input| match input {
    Input::Raw(bytes) => {
        check_stream(&bytes, &Limits::default());
        check_stream(&bytes, &small_limits());
        check_binary_stream(&bytes, &Limits::default());
        check_binary_stream(&bytes, &small_limits());
    }
    Input::Structured {
        tokens,
        data,
        small_limits: small,
    } => {
        let mut line = Vec::new();
        for token in &tokens {
            match token {
                Token::Word(index) => {
                    line.extend_from_slice(WORDS[usize::from(*index) % WORDS.len()].as_bytes())
                }
                Token::Number(value) => line.extend_from_slice(value.to_string().as_bytes()),
                Token::Bytes(bytes) => line.extend(bytes.iter().filter(|&&b| b != b'\n')),
            }
            line.push(b' ');
        }
        let input = [&line[..], b"\r\n", &data, b"\r\n"].concat();
        let limits = if small {
            small_limits()
        } else {
            Limits::default()
        };
        check_stream(&input, &limits);
    }
});

/// Walks the whole stream like a session; checks each request's round trip and the
/// prefixes of the first request.
fn check_stream(input: &[u8], limits: &Limits) {
    check_prefixes(input, limits);
    let mut position = 0;
    // Every step consumes at least one byte.
    for _ in 0..=input.len() {
        if position >= input.len() {
            return;
        }
        match parse(&input[position..], limits) {
            Ok(Parsed::Complete {
                request,
                consumed_bytes,
            }) => {
                assert!(consumed_bytes > 0 && position + consumed_bytes <= input.len());
                check_round_trip(&request, limits);
                position += consumed_bytes;
            }
            Ok(Parsed::Incomplete { needed_bytes_hint }) => {
                assert!(needed_bytes_hint > input.len() - position);
                return;
            }
            Err(error) => match error.action() {
                ErrorAction::Skip { bytes } => {
                    assert!(bytes > 0);
                    position = position.saturating_add(bytes);
                }
                ErrorAction::Close => return,
            },
        }
    }
    panic!("the stream did not end");
}

fn check_round_trip(request: &tailcache_protocol::memcache::Request<'_>, limits: &Limits) {
    let mut first = Vec::new();
    encode_request(&mut first, request);
    match parse(&first, limits) {
        Ok(Parsed::Complete {
            request: again,
            consumed_bytes,
        }) => {
            assert_eq!(consumed_bytes, first.len());
            let mut second = Vec::new();
            encode_request(&mut second, &again);
            assert_eq!(first, second);
        }
        // Canonical spacing can only shorten a line, so it cannot break a limit.
        other => panic!(
            "{:?} re-encoded as {:?} gave {other:?}",
            request,
            String::from_utf8_lossy(&first)
        ),
    }
}

fn check_prefixes(input: &[u8], limits: &Limits) {
    let whole = format!("{:?}", parse(input, limits));
    let end = match parse(input, limits) {
        Ok(Parsed::Complete { consumed_bytes, .. }) => consumed_bytes,
        _ => input.len().min(4096),
    };
    for cut in 0..end {
        let partial = parse(&input[..cut], limits);
        if !matches!(partial, Ok(Parsed::Incomplete { .. })) {
            assert_eq!(format!("{partial:?}"), whole, "prefix {cut}");
        }
    }
}

/// The binary protocol's checks: every complete packet re-encodes to the same bytes,
/// a skip moves forward, and every prefix of a packet is Incomplete or decides the same.
fn check_binary_stream(input: &[u8], limits: &Limits) {
    let whole = format!("{:?}", parse_binary(input, limits));
    let end = match parse_binary(input, limits) {
        Ok(BinaryParsed::Complete { consumed_bytes, .. }) => consumed_bytes,
        _ => input.len().min(4096),
    };
    for cut in 0..end {
        let partial = parse_binary(&input[..cut], limits);
        if !matches!(partial, Ok(BinaryParsed::Incomplete { .. })) {
            assert_eq!(format!("{partial:?}"), whole, "binary prefix {cut}");
        }
    }
    let mut position = 0;
    while position < input.len() {
        match parse_binary(&input[position..], limits) {
            Ok(BinaryParsed::Complete {
                request,
                consumed_bytes,
            }) => {
                assert!(consumed_bytes >= 24 && position + consumed_bytes <= input.len());
                let mut encoded = Vec::new();
                encode_binary_request(&mut encoded, &request);
                // Only the vbucket and data type bytes are not kept.
                let original = &input[position..position + consumed_bytes];
                assert_eq!(encoded[..5], original[..5]);
                assert_eq!(encoded[8..], original[8..]);
                position += consumed_bytes;
            }
            Ok(BinaryParsed::Incomplete { needed_bytes_hint }) => {
                assert!(needed_bytes_hint > input.len() - position);
                return;
            }
            Err(error) => match error.action {
                ErrorAction::Skip { bytes } => {
                    assert!(bytes >= 24);
                    position = position.saturating_add(bytes);
                }
                ErrorAction::Close => return,
            },
        }
    }
}
