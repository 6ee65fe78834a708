//! Binary protocol packets: the server's responses, and requests for clients and
//! round-trip tests. Everything is written straight into the caller's `Vec<u8>`.

use super::binary::{
    BinaryCommand, BinaryHeader, BinaryRequest, BinaryStoreMode, Status, HEADER_BYTES,
    REQUEST_MAGIC, RESPONSE_MAGIC,
};

/// The parts of a response after its header.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResponseBody<'a> {
    /// Extras (4 bytes of flags for a get).
    pub extras: &'a [u8],
    /// The key (getk, gatk, stat).
    pub key: &'a [u8],
    /// Length of the value that follows; the caller appends it (a value is copied from
    /// the engine straight into the output).
    pub value_len: usize,
}

/// Writes a response header and the body's extras and key; the caller then appends
/// `body.value_len` bytes of value.
pub fn encode_response_head(
    output: &mut Vec<u8>,
    request: &BinaryHeader,
    status: Status,
    cas: u64,
    body: ResponseBody<'_>,
) {
    let body_bytes = body.extras.len() + body.key.len() + body.value_len;
    output.reserve(HEADER_BYTES + body_bytes);
    output.push(RESPONSE_MAGIC);
    output.push(request.opcode);
    output.extend_from_slice(&wire_u16(body.key.len()).to_be_bytes());
    output.push(u8::try_from(body.extras.len()).unwrap_or(u8::MAX));
    output.push(0); // data type: raw bytes
    output.extend_from_slice(&status.code().to_be_bytes());
    output.extend_from_slice(&wire_u32(body_bytes).to_be_bytes());
    output.extend_from_slice(&request.opaque.to_be_bytes());
    output.extend_from_slice(&cas.to_be_bytes());
    output.extend_from_slice(body.extras);
    output.extend_from_slice(body.key);
}

/// A whole response with a value already at hand.
pub fn encode_response(
    output: &mut Vec<u8>,
    request: &BinaryHeader,
    status: Status,
    cas: u64,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
) {
    let body = ResponseBody {
        extras,
        key,
        value_len: value.len(),
    };
    encode_response_head(output, request, status, cas, body);
    output.extend_from_slice(value);
}

/// An error response: the status and memcached's text for it, CAS 0.
pub fn encode_error(output: &mut Vec<u8>, request: &BinaryHeader, status: Status) {
    encode_response(output, request, status, 0, &[], &[], status.message());
}

/// A request packet (for clients and tests): `extras`, `key` and `value` as given.
pub fn encode_request(
    output: &mut Vec<u8>,
    header: &BinaryHeader,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
) {
    let body_bytes = extras.len() + key.len() + value.len();
    output.push(REQUEST_MAGIC);
    output.push(header.opcode);
    output.extend_from_slice(&wire_u16(key.len()).to_be_bytes());
    output.push(u8::try_from(extras.len()).unwrap_or(u8::MAX));
    output.push(0);
    output.extend_from_slice(&0u16.to_be_bytes()); // vbucket
    output.extend_from_slice(&wire_u32(body_bytes).to_be_bytes());
    output.extend_from_slice(&header.opaque.to_be_bytes());
    output.extend_from_slice(&header.cas.to_be_bytes());
    output.extend_from_slice(extras);
    output.extend_from_slice(key);
    output.extend_from_slice(value);
}

/// The packet of a parsed request, under its header's opcode (round trips, clients).
pub fn encode_binary_request(output: &mut Vec<u8>, request: &BinaryRequest<'_>) {
    let header = &request.header;
    let mut extras = Vec::new();
    let (key, value): (&[u8], &[u8]) = match request.command {
        BinaryCommand::Get {
            key, touch_exptime, ..
        } => {
            if let Some(exptime) = touch_exptime {
                extras.extend_from_slice(&exptime.to_be_bytes());
            }
            (key, &[])
        }
        BinaryCommand::Touch { key, exptime } => {
            extras.extend_from_slice(&exptime.to_be_bytes());
            (key, &[])
        }
        BinaryCommand::Store {
            mode,
            key,
            value,
            client_flags,
            exptime,
            ..
        } => {
            if !matches!(mode, BinaryStoreMode::Append | BinaryStoreMode::Prepend) {
                extras.extend_from_slice(&client_flags.to_be_bytes());
                extras.extend_from_slice(&exptime.to_be_bytes());
            }
            (key, value)
        }
        BinaryCommand::Delete { key, .. } => (key, &[]),
        BinaryCommand::Arithmetic {
            key,
            delta,
            initial,
            exptime,
            ..
        } => {
            extras.extend_from_slice(&delta.to_be_bytes());
            extras.extend_from_slice(&initial.to_be_bytes());
            extras.extend_from_slice(&exptime.to_be_bytes());
            (key, &[])
        }
        BinaryCommand::Flush { exptime, .. } => {
            if let Some(exptime) = exptime {
                extras.extend_from_slice(&exptime.to_be_bytes());
            }
            (&[], &[])
        }
        BinaryCommand::Quit { .. } | BinaryCommand::Noop | BinaryCommand::Version => (&[], &[]),
        BinaryCommand::Stat { group } => (group, &[]),
    };
    encode_request(output, header, &extras, key, value);
}

/// A length field of 16 bits: keys are at most 250 bytes, so it always fits.
fn wire_u16(len: usize) -> u16 {
    debug_assert!(len <= usize::from(u16::MAX));
    u16::try_from(len).unwrap_or(u16::MAX)
}

/// A body length: values are bounded by `-I` (below 2 GiB), so it always fits.
fn wire_u32(len: usize) -> u32 {
    debug_assert!(u32::try_from(len).is_ok());
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::super::binary::{
        opcode, parse_binary, BinaryCommand, BinaryParsed, BinaryStoreMode,
    };
    use super::*;
    use crate::memcache::Limits;
    use crate::ErrorAction;

    fn request(opcode: u8, extras: &[u8], key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let header = BinaryHeader {
            opcode,
            opaque: 0xdead_beef,
            cas: 7,
        };
        encode_request(&mut out, &header, extras, key, value);
        out
    }

    #[test]
    fn a_set_parses_with_its_flags_exptime_and_cas() {
        let mut extras = 19u32.to_be_bytes().to_vec();
        extras.extend_from_slice(&5u32.to_be_bytes());
        let packet = request(opcode::SETQ, &extras, b"x", b"value");
        let Ok(BinaryParsed::Complete {
            request,
            consumed_bytes,
        }) = parse_binary(&packet, &Limits::default())
        else {
            panic!("a whole set parses");
        };
        assert_eq!(consumed_bytes, packet.len());
        assert_eq!(request.header.opaque, 0xdead_beef);
        assert_eq!(request.header.cas, 7);
        assert_eq!(
            request.command,
            BinaryCommand::Store {
                mode: BinaryStoreMode::Set,
                key: b"x",
                value: b"value",
                client_flags: 19,
                exptime: 5,
                quiet: true,
            }
        );
        for cut in 0..packet.len() {
            assert!(matches!(
                parse_binary(&packet[..cut], &Limits::default()),
                Ok(BinaryParsed::Incomplete { .. })
            ));
        }
    }

    #[test]
    fn every_served_request_re_encodes_to_its_packet() {
        let store_extras = [0, 0, 0, 19, 0, 0, 0, 100];
        let arith_extras = [[0, 0, 0, 0, 0, 0, 0, 7], [0; 8]].concat();
        let arith_extras = [&arith_extras[..], &[0xff; 4]].concat();
        let packets = [
            request(opcode::GETKQ, &[], b"key", &[]),
            request(opcode::GATK, &[0, 0, 0, 9], b"key", &[]),
            request(opcode::TOUCH, &[0, 0, 0, 9], b"key", &[]),
            request(opcode::ADD, &store_extras, b"key", b"value"),
            request(opcode::PREPENDQ, &[], b"key", b"value"),
            request(opcode::DELETEQ, &[], b"key", &[]),
            request(opcode::DECREMENT, &arith_extras, b"key", &[]),
            request(opcode::FLUSHQ, &[0, 0, 0, 5], &[], &[]),
            request(opcode::FLUSH, &[], &[], &[]),
            request(opcode::QUITQ, &[], &[], &[]),
            request(opcode::STAT, &[], b"settings", &[]),
            request(opcode::VERSION, &[], &[], &[]),
        ];
        for packet in packets {
            let Ok(BinaryParsed::Complete { request, .. }) =
                parse_binary(&packet, &Limits::default())
            else {
                panic!("{packet:02x?} parses");
            };
            let mut again = Vec::new();
            encode_binary_request(&mut again, &request);
            assert_eq!(again, packet);
        }
    }

    #[test]
    fn a_bad_magic_closes_without_a_reply() {
        let mut packet = request(opcode::NOOP, &[], &[], &[]);
        packet[0] = b'g';
        let error = parse_binary(&packet, &Limits::default()).unwrap_err();
        assert_eq!(error.reply, None);
        assert_eq!(error.action, ErrorAction::Close);
    }

    #[test]
    fn a_long_key_is_invalid_and_closes() {
        let packet = request(opcode::GET, &[], &[b'k'; 251], &[]);
        let error = parse_binary(&packet, &Limits::default()).unwrap_err();
        assert_eq!(error.reply.map(|(s, _)| s), Some(Status::InvalidArguments));
        assert_eq!(error.action, ErrorAction::Close);
    }

    #[test]
    fn a_key_longer_than_the_body_is_unknown_and_closes() {
        let mut packet = request(opcode::GET, &[], b"abc", &[]);
        packet[11] = 2; // body length 2 < key length 3
        let error = parse_binary(&packet[..24], &Limits::default()).unwrap_err();
        assert_eq!(error.reply.map(|(s, _)| s), Some(Status::UnknownCommand));
        assert_eq!(error.action, ErrorAction::Close);
    }

    #[test]
    fn an_unknown_opcode_skips_its_packet() {
        let packet = request(0x1b, &[1, 2, 3, 4], b"", b"xyz");
        let error = parse_binary(&packet[..24], &Limits::default()).unwrap_err();
        assert_eq!(error.reply.map(|(s, _)| s), Some(Status::UnknownCommand));
        assert_eq!(
            error.action,
            ErrorAction::Skip {
                bytes: packet.len()
            }
        );
    }

    #[test]
    fn a_too_large_value_is_refused_once_its_key_is_in() {
        let limits = Limits {
            max_value_bytes: 10,
            ..Limits::default()
        };
        let packet = request(opcode::APPEND, &[], b"k", &[b'v'; 11]);
        assert_eq!(
            parse_binary(&packet[..24], &limits),
            Ok(BinaryParsed::Incomplete {
                needed_bytes_hint: 25
            })
        );
        let error = parse_binary(&packet[..25], &limits).unwrap_err();
        assert_eq!(error.reply.map(|(s, _)| s), Some(Status::TooLarge));
        assert_eq!(
            error.action,
            ErrorAction::Skip {
                bytes: packet.len()
            }
        );
    }

    #[test]
    fn a_get_with_extras_is_invalid() {
        let packet = request(opcode::GET, &[0; 4], b"k", &[]);
        let error = parse_binary(&packet, &Limits::default()).unwrap_err();
        assert_eq!(error.reply.map(|(s, _)| s), Some(Status::InvalidArguments));
    }

    #[test]
    fn an_error_response_carries_memcacheds_text() {
        let header = BinaryHeader {
            opcode: opcode::DELETE,
            opaque: 9,
            cas: 1,
        };
        let mut out = Vec::new();
        encode_error(&mut out, &header, Status::KeyNotFound);
        assert_eq!(&out[..2], &[RESPONSE_MAGIC, opcode::DELETE]);
        assert_eq!(&out[6..8], &1u16.to_be_bytes());
        assert_eq!(&out[8..12], &9u32.to_be_bytes());
        assert_eq!(&out[12..16], &9u32.to_be_bytes());
        assert_eq!(&out[16..24], &0u64.to_be_bytes());
        assert_eq!(&out[24..], b"Not found");
    }
}
