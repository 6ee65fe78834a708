//! parse -> encode_request -> parse again gives the same request, and canonical input
//! encodes back to itself byte for byte.

mod memcache_support;

use memcache_support::corpus;
use proptest::prelude::*;
use tailcache_protocol::memcache::request_encode::encode_request;
use tailcache_protocol::memcache::{parse, Limits, Parsed};

/// Parses every request in `input` and checks each one's round trip; returns how many.
fn check_round_trips(input: &[u8], limits: &Limits) -> usize {
    let mut position = 0;
    let mut requests = 0;
    while position < input.len() {
        match parse(&input[position..], limits) {
            Ok(Parsed::Complete {
                request,
                consumed_bytes,
            }) => {
                let mut first = Vec::new();
                encode_request(&mut first, &request);
                let Ok(Parsed::Complete {
                    request: again,
                    consumed_bytes: again_bytes,
                }) = parse(&first, limits)
                else {
                    panic!(
                        "re-encoded {:?} does not parse",
                        String::from_utf8_lossy(&first)
                    );
                };
                assert_eq!(again_bytes, first.len());
                let mut second = Vec::new();
                encode_request(&mut second, &again);
                assert_eq!(
                    String::from_utf8_lossy(&first),
                    String::from_utf8_lossy(&second)
                );
                position += consumed_bytes;
                requests += 1;
            }
            Ok(Parsed::Incomplete { .. }) => break,
            Err(error) => match error.action() {
                tailcache_protocol::ErrorAction::Skip { bytes } => position += bytes,
                tailcache_protocol::ErrorAction::Close => break,
            },
        }
    }
    requests
}

#[test]
fn corpus_round_trips() {
    let total: usize = corpus()
        .iter()
        .map(|input| check_round_trips(input, &Limits::default()))
        .sum();
    assert!(total > 30, "only {total} requests parsed");
}

#[test]
fn canonical_requests_encode_to_themselves() {
    for input in [
        &b"get a bb ccc\r\n"[..],
        b"gats -1 k\r\n",
        b"set k 1 2 3\r\nabc\r\n",
        b"cas k 0 0 1 77 noreply\r\nx\r\n",
        b"delete k noreply\r\n",
        b"decr k 5\r\n",
        b"touch k 10\r\n",
        b"flush_all 10 noreply\r\n",
        b"version\r\n",
        b"verbosity 1\r\n",
        b"stats detail on\r\n",
        b"quit\r\n",
        b"mn\r\n",
        b"mg k v c Oab q T30\r\n",
        b"ms k 3 T10 F5 MA\r\nabc\r\n",
        b"md k q I\r\n",
        b"ma k MD D5 v\r\n",
        b"me YQ== b\r\n",
    ] {
        let Ok(Parsed::Complete { request, .. }) = parse(input, &Limits::default()) else {
            panic!()
        };
        let mut encoded = Vec::new();
        encode_request(&mut encoded, &request);
        assert_eq!(
            String::from_utf8_lossy(&encoded),
            String::from_utf8_lossy(input)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn spaced_out_requests_round_trip(
        words in proptest::collection::vec(prop_oneof![
            Just("get".to_string()), Just("set".to_string()), Just("mg".to_string()), Just("ms".to_string()),
            Just("ma".to_string()), Just("md".to_string()), Just("0".to_string()), Just("3".to_string()),
            Just("noreply".to_string()), "[a-z]{1,4}", "[A-Za-z][0-9]{0,3}",
        ], 1..8),
        spaces in proptest::collection::vec(1usize..4, 8),
        value in proptest::collection::vec(any::<u8>(), 0..5),
    ) {
        let mut line = String::new();
        for (word, gap) in words.iter().zip(&spaces) {
            line.push_str(word);
            line.push_str(&" ".repeat(*gap));
        }
        let input = [line.as_bytes(), b"\r\n", &value, b"\r\n"].concat();
        check_round_trips(&input, &Limits::default());
    }
}
