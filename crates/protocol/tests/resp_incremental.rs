//! Incremental parsing: a pipeline split at any byte parses exactly as it does whole,
//! and every strict prefix of a request is `Incomplete`, never an error.

mod resp_support;

use proptest::prelude::*;
use tailcache_protocol::resp::{parse, Command, Limits, Parsed};
use tailcache_protocol::ErrorAction;

/// One request, as bytes, in either form.
fn request() -> impl Strategy<Value = Vec<u8>> {
    let word = "[a-zA-Z0-9_:.-]{1,12}";
    let binary = proptest::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        (word, binary.clone()).prop_map(|(key, value)| {
            resp_support::multibulk(&[b"SET", key.as_bytes(), &value, b"EX", b"100"])
        }),
        word.prop_map(|key| resp_support::multibulk(&[b"GET", key.as_bytes()])),
        proptest::collection::vec(word, 1..20).prop_map(|keys| {
            let mut args: Vec<&[u8]> = vec![b"MGET"];
            args.extend(keys.iter().map(|key| key.as_bytes()));
            resp_support::multibulk(&args)
        }),
        (word, any::<i64>())
            .prop_map(|(key, delta)| format!("INCRBY {key} {delta}\r\n").into_bytes()),
        word.prop_map(|key| format!("GET \"{key}\"\n").into_bytes()),
        Just(b"PING\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"*0\r\n".to_vec()),
        // Refused requests keep the stream going and must split the same way too.
        binary.prop_map(|arg| resp_support::multibulk(&[b"NOSUCH", &arg])),
        Just(resp_support::command("GET a b")),
        Just(resp_support::command("SET k v EX 0")),
    ]
}

/// Parses a whole pipeline, returning each outcome as text.
fn outcomes_whole(input: &[u8], limits: &Limits) -> Vec<String> {
    let mut outcomes = Vec::new();
    let mut position = 0;
    while position < input.len() {
        let (outcome, consumed) =
            step(&input[position..], limits).expect("whole input is complete");
        outcomes.push(outcome);
        position += consumed;
    }
    outcomes
}

/// One parse: its outcome as text and the bytes to drop, or `None` when incomplete.
fn step(input: &[u8], limits: &Limits) -> Option<(String, usize)> {
    match parse(input, limits) {
        Ok(Parsed::Incomplete { .. }) => None,
        Ok(Parsed::Complete {
            request: Command::Empty,
            consumed_bytes,
        }) => Some(("empty".to_string(), consumed_bytes)),
        Ok(Parsed::Complete {
            request: command,
            consumed_bytes: consumed,
        }) => Some((format!("{command:?}"), consumed)),
        Err(error) => match error.action() {
            ErrorAction::Skip { bytes } => Some((format!("{error:?}"), bytes)),
            ErrorAction::Close => panic!("generated requests never break framing: {error:?}"),
        },
    }
}

/// Feeds `input` in two reads split at `split`, the way a session buffer fills.
fn outcomes_split(input: &[u8], split: usize, limits: &Limits) -> Vec<String> {
    let mut outcomes = Vec::new();
    let mut buffer: Vec<u8> = input[..split].to_vec();
    for read in [&input[split..], &[][..]] {
        while let Some((outcome, consumed)) = step(&buffer, limits) {
            outcomes.push(outcome);
            buffer.drain(..consumed);
        }
        buffer.extend_from_slice(read);
    }
    assert!(buffer.is_empty(), "bytes left over");
    outcomes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn split_anywhere_parses_as_whole(requests in proptest::collection::vec(request(), 1..6)) {
        let limits = Limits::default();
        let input: Vec<u8> = requests.concat();
        let whole = outcomes_whole(&input, &limits);
        prop_assert_eq!(whole.len(), requests.len());
        for split in 0..=input.len() {
            prop_assert_eq!(&outcomes_split(&input, split, &limits), &whole, "split at {}", split);
        }
    }

    #[test]
    fn every_strict_prefix_is_incomplete(request in request()) {
        let limits = Limits::default();
        // A blank line is whole at its `\n`; every other generated request is longer.
        for end in 0..request.len() {
            let prefix = &request[..end];
            let outcome = parse(prefix, &limits);
            let is_blank_line = prefix == b"\r";
            prop_assert!(
                matches!(outcome, Ok(Parsed::Incomplete { .. })) || (is_blank_line && outcome.is_ok()),
                "prefix {:?}: {:?}", String::from_utf8_lossy(prefix), outcome
            );
        }
    }
}
