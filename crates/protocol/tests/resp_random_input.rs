//! Arbitrary bytes never panic the parser, every answer is self-consistent, and a framed
//! request re-encoded as multibulk parses to the same command.

mod resp_support;

use proptest::prelude::*;
use tailcache_protocol::resp::{parse, parse_command, parse_frame, FrameParsed, Limits, Parsed};
use tailcache_protocol::ErrorAction;

/// Bytes biased towards RESP's syntax so the parser's deeper states are reached.
fn resp_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"-".to_vec()),
        "[0-9]{1,3}".prop_map(String::into_bytes),
        "[0-9]{17,22}".prop_map(String::into_bytes),
        Just(b"SET".to_vec()),
        Just(b"GET".to_vec()),
        Just(b"EX".to_vec()),
        proptest::collection::vec(any::<u8>(), 1..4),
    ];
    proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

fn small_limits() -> Limits {
    Limits {
        max_bulk_len_bytes: 64,
        max_arg_count: 8,
        max_inline_len_bytes: 48,
        max_key_len_bytes: 8,
        max_request_bytes: 200,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn answers_are_consistent(input in resp_like_bytes()) {
        for limits in [Limits::default(), small_limits()] {
            match parse(&input, &limits) {
                Ok(Parsed::Complete { consumed_bytes: consumed, .. }) => {
                    prop_assert!(consumed > 0 && consumed <= input.len());
                }
                Ok(Parsed::Incomplete { .. }) => {
                    // Waiting must stay within what the limits allow to buffer.
                    prop_assert!(
                        input.len() <= limits.max_inline_len_bytes.max(limits.max_request_bytes)
                    );
                }
                Err(error) => {
                    let framed = match error.action() {
                        ErrorAction::Close => true,
                        ErrorAction::Skip { bytes } => bytes > 0 && bytes <= input.len(),
                    };
                    prop_assert!(framed);
                    let mut reply = Vec::new();
                    error.encode(&mut reply);
                    prop_assert!(reply.starts_with(b"-") && reply.ends_with(b"\r\n"));
                    prop_assert_eq!(memchr::memchr_iter(b'\n', &reply).count(), 1);
                }
            }
        }
    }

    #[test]
    fn framed_requests_round_trip_through_the_encoder(input in resp_like_bytes()) {
        let limits = Limits::default();
        if let Ok(FrameParsed::Complete(frame)) = parse_frame(&input, &limits) {
            let mut encoded = Vec::new();
            tailcache_protocol::resp::encode::request(&mut encoded, frame.args);
            let Ok(FrameParsed::Complete(again)) = parse_frame(&encoded, &limits) else {
                panic!("re-encoded frame does not parse");
            };
            prop_assert_eq!(again.args, frame.args);
            prop_assert_eq!(again.consumed, encoded.len());
            prop_assert_eq!(parse_command(again.args, &limits), parse_command(frame.args, &limits));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse(&input, &Limits::default());
        let _ = parse(&input, &small_limits());
    }
}
