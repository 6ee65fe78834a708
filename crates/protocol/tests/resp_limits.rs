//! Every RESP limit is enforced with its own error, before the bytes it guards arrive.

mod resp_support;

use tailcache_protocol::resp::{parse, CommandError, Limits, ParseError, Parsed, ProtocolError};

fn limits() -> Limits {
    Limits {
        max_bulk_len_bytes: 10,
        max_arg_count: 4,
        max_inline_len_bytes: 32,
        max_key_len_bytes: 5,
        max_request_bytes: 100,
    }
}

fn protocol_error(input: &[u8]) -> ProtocolError {
    match parse(input, &limits()) {
        Err(ParseError::Protocol(error)) => error,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

#[test]
fn bulk_length_limit_is_checked_from_the_header_alone() {
    assert_eq!(
        protocol_error(b"*2\r\n$3\r\nGET\r\n$11\r\n"),
        ProtocolError::InvalidBulkLength
    );
    assert!(matches!(
        parse(b"*2\r\n$3\r\nGET\r\n$10\r\n", &limits()),
        Ok(Parsed::Incomplete { .. })
    ));
}

#[test]
fn argument_count_limit_applies_to_both_forms() {
    assert_eq!(
        protocol_error(b"*5\r\n"),
        ProtocolError::InvalidMultibulkLength
    );
    assert_eq!(
        protocol_error(b"*99999999999999999999\r\n"),
        ProtocolError::InvalidMultibulkLength
    );
    assert_eq!(
        protocol_error(b"MGET a b c d\r\n"),
        ProtocolError::InvalidMultibulkLength
    );
    assert!(matches!(
        parse(b"MGET a b c\r\n", &limits()),
        Ok(Parsed::Complete { .. })
    ));
}

#[test]
fn inline_and_header_lines_are_bounded() {
    let long_inline = vec![b'a'; 33];
    assert_eq!(
        protocol_error(&long_inline),
        ProtocolError::TooBigInlineRequest
    );
    assert!(matches!(
        parse(&long_inline[..32], &limits()),
        Ok(Parsed::Incomplete { .. })
    ));
    let mut long_line = vec![b'a'; 40];
    long_line.extend_from_slice(b"\r\n");
    assert_eq!(
        protocol_error(&long_line),
        ProtocolError::TooBigInlineRequest
    );
    let mut count = b"*".to_vec();
    count.extend(std::iter::repeat_n(b'1', 40));
    assert_eq!(
        protocol_error(&count),
        ProtocolError::TooBigMbulkCountString
    );
    let mut len = b"*1\r\n$".to_vec();
    len.extend(std::iter::repeat_n(b'1', 40));
    assert_eq!(protocol_error(&len), ProtocolError::TooBigBulkCountString);
}

#[test]
fn request_size_is_bounded_before_the_data_arrives() {
    // Four 10-byte arguments fit every other limit, but not 60 bytes in all.
    let limits = Limits {
        max_request_bytes: 60,
        ..limits()
    };
    let mut request = b"*4\r\n$3\r\nSET\r\n$10\r\n0123456789\r\n$10\r\n0123456789\r\n".to_vec();
    assert!(matches!(
        parse(&request, &limits),
        Ok(Parsed::Incomplete { .. })
    ));
    request.extend_from_slice(b"$10\r\n");
    assert_eq!(
        parse(&request, &limits),
        Err(ParseError::Protocol(ProtocolError::RequestTooLarge))
    );
    let mut reply = Vec::new();
    ProtocolError::RequestTooLarge.encode(&mut reply);
    assert_eq!(reply, b"-ERR Protocol error: request too large\r\n");
}

#[test]
fn keys_are_bounded_in_every_key_position() {
    let too_long = CommandError::KeyTooLong { max_bytes: 5 };
    let limits = Limits {
        max_arg_count: 8,
        ..limits()
    };
    for line in [
        "GET abcdef",
        "SET abcdef v",
        "MGET a abcdef",
        "DEL abcdef",
        "MSET a 1 abcdef 2",
    ] {
        match parse(&resp_support::command(line), &limits) {
            Err(ParseError::Command { error, .. }) => assert_eq!(error, too_long, "{line}"),
            other => panic!("{line}: {other:?}"),
        }
    }
    // Values are not keys: MSET's long values are fine.
    assert!(matches!(
        parse(&resp_support::command("MSET a 1234567"), &limits),
        Ok(Parsed::Complete { .. })
    ));
}

#[test]
fn default_limits_are_documented_values() {
    let limits = Limits::default();
    assert_eq!(limits.max_key_len_bytes, 250);
    assert_eq!(limits.max_bulk_len_bytes, 1024 * 1024);
    assert_eq!(limits.max_inline_len_bytes, 64 * 1024);
    assert_eq!(limits.max_arg_count, 64 * 1024);
    assert_eq!(limits.max_request_bytes, 16 * 1024 * 1024);
}
