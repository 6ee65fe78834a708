//! RESP fuzz target: parse, re-encode, parse again, compare; plus the incremental
//! property on whatever frames the input holds.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tailcache_protocol::resp::{
    encode, parse, parse_command, parse_frame, FrameParsed, Limits, Parsed,
};
use tailcache_protocol::ErrorAction;

#[derive(Arbitrary, Debug)]
enum Input {
    /// Any bytes, as a client might send.
    Raw(Vec<u8>),
    /// A well-formed request built from arguments (reaches the command parsers more).
    Request {
        args: Vec<Vec<u8>>,
        small_limits: bool,
    },
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

fuzz_target!(|input: Input| {
    match input {
        Input::Raw(bytes) => {
            check_raw(&bytes, &Limits::default());
            check_raw(&bytes, &small_limits());
        }
        Input::Request {
            args,
            small_limits: small,
        } => {
            let limits = if small {
                small_limits()
            } else {
                Limits::default()
            };
            let mut request = Vec::new();
            encode::request(&mut request, args.iter().map(Vec::as_slice));
            match parse_frame(&request, &limits) {
                Ok(FrameParsed::Complete(frame)) => {
                    assert_eq!(frame.consumed, request.len());
                    assert!(frame.args.eq(args.iter().map(Vec::as_slice)));
                    check_raw(&request, &limits);
                }
                Ok(FrameParsed::Empty { consumed }) => {
                    assert!(args.is_empty() && consumed == request.len())
                }
                Ok(FrameParsed::Incomplete) => panic!("a whole request is never incomplete"),
                Err(_) => assert!(small, "default limits accept every small request"),
            }
        }
    }
});

fn check_raw(bytes: &[u8], limits: &Limits) {
    let outcome = parse(bytes, limits);
    match &outcome {
        Ok(Parsed::Complete { consumed_bytes: consumed, .. }) => {
            assert!(*consumed > 0 && *consumed <= bytes.len());
        }
        Ok(Parsed::Incomplete { .. }) => {}
        Err(error) => {
            let mut reply = Vec::new();
            error.encode(&mut reply);
            assert!(reply.starts_with(b"-") && reply.ends_with(b"\r\n"));
            assert_eq!(reply.iter().filter(|&&b| b == b'\n').count(), 1);
            assert!(match error.action() {
                ErrorAction::Close => true,
                ErrorAction::Skip { bytes: skip } => skip > 0 && skip <= bytes.len(),
            });
        }
    }
    let Ok(FrameParsed::Complete(frame)) = parse_frame(bytes, limits) else {
        return;
    };
    // Re-encode the arguments as multibulk: the same arguments and command come back.
    let mut reencoded = Vec::new();
    encode::request(&mut reencoded, frame.args);
    let Ok(FrameParsed::Complete(again)) = parse_frame(&reencoded, limits) else {
        panic!("re-encoded frame does not parse");
    };
    assert_eq!(again.args, frame.args);
    assert_eq!(again.consumed, reencoded.len());
    assert_eq!(
        parse_command(again.args, limits),
        parse_command(frame.args, limits)
    );
    // Incremental: every strict prefix of a multibulk frame is incomplete.
    if bytes[0] == b'*' {
        for end in 0..frame.consumed {
            assert_eq!(
                parse_frame(&bytes[..end], limits),
                Ok(FrameParsed::Incomplete)
            );
        }
    }
}
