//! Incremental parsing: a request split at any byte, across any number of reads, parses
//! exactly as it does whole; a prefix of a valid request is never an error.

mod memcache_support;

use memcache_support::{corpus, run_chunked, run_stream, small_limits};
use proptest::prelude::*;
use tailcache_protocol::memcache::{parse, Limits, Parsed};

/// Every strict prefix of a complete request is Incomplete, and a decision taken on a
/// prefix (complete or error) is the decision on the whole input.
fn check_prefixes(input: &[u8], limits: &Limits) {
    let whole = format!("{:?}", parse(input, limits));
    for cut in 0..input.len() {
        let partial = parse(&input[..cut], limits);
        match &partial {
            Ok(Parsed::Incomplete { needed_bytes_hint }) => assert!(*needed_bytes_hint > cut),
            _ => assert_eq!(
                format!("{partial:?}"),
                whole,
                "prefix {cut} of {:?}",
                String::from_utf8_lossy(input)
            ),
        }
    }
    if let Ok(Parsed::Complete { consumed_bytes, .. }) = parse(input, limits) {
        for cut in 0..consumed_bytes {
            assert!(matches!(
                parse(&input[..cut], limits),
                Ok(Parsed::Incomplete { .. })
            ));
        }
    }
}

#[test]
fn every_prefix_of_the_corpus() {
    for limits in [Limits::default(), small_limits()] {
        for input in corpus() {
            check_prefixes(&input, &limits);
        }
    }
}

#[test]
fn every_two_way_split_of_the_corpus_matches_the_whole() {
    for limits in [Limits::default(), small_limits()] {
        for input in corpus() {
            let whole = run_stream(&input, &limits);
            for cut in 0..=input.len() {
                let (head, tail) = input.split_at(cut);
                assert_eq!(
                    run_chunked(&[head, tail], &limits),
                    whole,
                    "cut {cut} of {:?}",
                    String::from_utf8_lossy(&input)
                );
            }
        }
    }
}

#[test]
fn a_pipeline_of_the_whole_corpus_byte_by_byte() {
    let limits = Limits::default();
    // Close-causing inputs end the stream, so leave them out of the pipeline.
    let pipeline: Vec<u8> = corpus()
        .into_iter()
        .filter(|input| !run_stream(input, &limits).closed)
        .flatten()
        .collect();
    let whole = run_stream(&pipeline, &limits);
    let bytes: Vec<&[u8]> = pipeline.chunks(1).collect();
    assert_eq!(run_chunked(&bytes, &limits), whole);
    assert_eq!(whole.leftover_bytes, 0);
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_:/.-]{1,16}",
        Just("k".repeat(250)),
        Just("k".repeat(251)),
    ]
}

fn classic_request() -> impl Strategy<Value = Vec<u8>> {
    let value = proptest::collection::vec(any::<u8>(), 0..40);
    let store = (
        "(set|add|replace|append|prepend)",
        key(),
        any::<u32>(),
        -5i64..100_000,
        value.clone(),
        any::<bool>(),
    )
        .prop_map(|(command, key, flags, exptime, value, noreply)| {
            let noreply = if noreply { " noreply" } else { "" };
            let head = format!(
                "{command} {key} {flags} {exptime} {}{noreply}\r\n",
                value.len()
            );
            [head.as_bytes(), &value, b"\r\n"].concat()
        });
    let cas = (key(), any::<u64>(), value).prop_map(|(key, cas, value)| {
        [
            format!("cas {key} 0 0 {} {cas}\r\n", value.len()).as_bytes(),
            &value,
            b"\r\n",
        ]
        .concat()
    });
    let get = (
        "(get|gets|gat 5|gats 0)",
        proptest::collection::vec(key(), 1..12),
    )
        .prop_map(|(command, keys)| format!("{command} {}\r\n", keys.join(" ")).into_bytes());
    let simple = (
        key(),
        any::<u64>(),
        "(incr|decr|touch|delete)",
        any::<bool>(),
    )
        .prop_map(|(key, number, command, noreply)| {
            let argument = if command == "delete" {
                String::new()
            } else {
                format!(" {number}")
            };
            format!(
                "{command} {key}{argument}{}\r\n",
                if noreply { " noreply" } else { "" }
            )
            .into_bytes()
        });
    prop_oneof![store, cas, get, simple]
}

fn meta_request() -> impl Strategy<Value = Vec<u8>> {
    let flag = prop_oneof![
        "[bcfhklqstuvIxPL]".prop_map(|s| s.to_string()),
        ("[NTR]", -10i64..100_000).prop_map(|(f, n)| format!("{f}{n}")),
        ("[CEJD]", any::<u64>()).prop_map(|(f, n)| format!("{f}{n}")),
        "O[a-z0-9]{0,40}",
        "M[EAPRSID+-]",
        "F[0-9]{1,11}",
        "[a-zA-Z!]{1,3}",
    ];
    let flags = proptest::collection::vec(flag, 0..20).prop_map(|flags| flags.join(" "));
    let value = proptest::collection::vec(any::<u8>(), 0..40);
    (
        prop_oneof![
            Just("mg"),
            Just("md"),
            Just("ma"),
            Just("me"),
            Just("ms"),
            Just("mn")
        ],
        key(),
        flags,
        value,
    )
        .prop_map(|(command, key, flags, value)| {
            if command == "ms" {
                [
                    format!("ms {key} {} {flags}\r\n", value.len()).as_bytes(),
                    &value,
                    b"\r\n",
                ]
                .concat()
            } else {
                format!("{command} {key} {flags}\r\n").into_bytes()
            }
        })
}

fn pipeline() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![4 => classic_request(), 4 => meta_request(), 1 => proptest::collection::vec(any::<u8>(), 0..12)];
    proptest::collection::vec(piece, 1..6).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn generated_requests_split_anywhere(input in prop_oneof![classic_request(), meta_request()]) {
        check_prefixes(&input, &Limits::default());
        check_prefixes(&input, &small_limits());
    }

    #[test]
    fn generated_pipelines_in_random_reads(input in pipeline(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let limits = small_limits();
        let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(input.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for point in points {
            pieces.push(&input[start..point]);
            start = point;
        }
        pieces.push(&input[start..]);
        prop_assert_eq!(run_chunked(&pieces, &limits), run_stream(&input, &limits));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_always_progress(input in proptest::collection::vec(any::<u8>(), 0..3000)) {
        for limits in [Limits::default(), small_limits()] {
            match parse(&input, &limits) {
                Ok(Parsed::Complete { consumed_bytes, .. }) => prop_assert!(consumed_bytes > 0 && consumed_bytes <= input.len()),
                Ok(Parsed::Incomplete { needed_bytes_hint }) => prop_assert!(needed_bytes_hint > input.len()),
                Err(error) => {
                    if let tailcache_protocol::ErrorAction::Skip { bytes } = error.action() {
                        prop_assert!(bytes > 0);
                    }
                }
            }
            let _ = run_stream(&input, &limits);
        }
    }
}
