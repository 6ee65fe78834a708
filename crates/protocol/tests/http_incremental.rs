//! HTTP parsing is incremental (a pipeline split anywhere parses as whole, every prefix
//! is incomplete) and arbitrary bytes never panic it.

use proptest::prelude::*;
use tailcache_protocol::http::{parse, route, Limits, Parsed};

fn request() -> impl Strategy<Value = Vec<u8>> {
    let key = "[a-zA-Z0-9%:_-]{1,20}";
    let body = proptest::collection::vec(any::<u8>(), 0..64);
    prop_oneof![
        key.prop_map(|key| format!("GET /keys/{key} HTTP/1.1\r\nHost: h\r\n\r\n").into_bytes()),
        key.prop_map(|key| format!("HEAD /keys/{key} HTTP/1.1\r\nHost: h\r\n\r\n").into_bytes()),
        (key, body, 0u64..100_000).prop_map(|(key, body, ttl)| {
            let head = format!(
                "PUT /keys/{key}?ttl={ttl} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nX-Flags: 3\r\n\r\n",
                body.len()
            );
            [head.into_bytes(), body].concat()
        }),
        key.prop_map(|key| format!("DELETE /keys/{key} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes()),
        Just(b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept: */*\r\n\r\n".to_vec()),
        Just(b"POST /keys/x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab".to_vec()),
    ]
}

/// Parses and routes; returns the outcome as text and the bytes consumed.
fn step(input: &[u8]) -> Option<(String, usize)> {
    let limits = Limits::default();
    match parse(input, &limits) {
        Ok(Parsed::Incomplete { .. }) => None,
        Ok(Parsed::Complete {
            request,
            consumed_bytes: consumed,
        }) => Some((
            format!("{:?} {:?}", request, route(&request, &limits)),
            consumed,
        )),
        Err(error) => panic!("generated requests are well framed: {error:?}"),
    }
}

fn outcomes_split(input: &[u8], split: usize) -> Vec<String> {
    let mut outcomes = Vec::new();
    let mut buffer = input[..split].to_vec();
    for read in [&input[split..], &[][..]] {
        while let Some((outcome, consumed)) = step(&buffer) {
            outcomes.push(outcome);
            buffer.drain(..consumed);
        }
        buffer.extend_from_slice(read);
    }
    assert!(buffer.is_empty());
    outcomes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn split_anywhere_parses_as_whole(requests in proptest::collection::vec(request(), 1..4)) {
        let input = requests.concat();
        let whole = outcomes_split(&input, input.len());
        prop_assert_eq!(whole.len(), requests.len());
        for split in 0..input.len() {
            prop_assert_eq!(&outcomes_split(&input, split), &whole, "split at {}", split);
        }
    }

    #[test]
    fn every_strict_prefix_is_incomplete(request in request()) {
        for end in 0..request.len() {
            let outcome = parse(&request[..end], &Limits::default());
            prop_assert!(matches!(outcome, Ok(Parsed::Incomplete { .. })), "prefix {}: {:?}", end, outcome);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..400)) {
        let limits = Limits { max_head_bytes: 128, max_request_line_bytes: 64, max_header_count: 4, ..Limits::default() };
        for limits in [Limits::default(), limits] {
            match parse(&input, &limits) {
                Ok(Parsed::Complete { request, consumed_bytes: consumed }) => {
                    prop_assert!(consumed > 0 && consumed <= input.len());
                    let _ = route(&request, &limits);
                }
                Ok(Parsed::Incomplete { .. }) => prop_assert!(input.len() <= limits.max_head_bytes + limits.max_body_bytes + limits.max_request_line_bytes),
                Err(error) => prop_assert!(error.must_close()),
            }
        }
    }
}
