//! Encoders for classic replies; each appends to the caller's buffer, no `String` built.

use crate::number::{write_u64, Decimal};

/// Fixed reply lines of the classic protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reply {
    /// `STORED`
    Stored,
    /// `NOT_STORED`: add/replace/append/prepend condition not met.
    NotStored,
    /// `EXISTS`: cas mismatch.
    Exists,
    /// `NOT_FOUND`
    NotFound,
    /// `DELETED`
    Deleted,
    /// `TOUCHED`
    Touched,
    /// `OK` (flush_all, verbosity)
    Ok,
    /// `END` (after retrieval and stats)
    End,
    /// `RESET` (stats reset)
    Reset,
    /// `ERROR`: unknown command (or an unknown stats group).
    Error,
    /// `CLIENT_ERROR cannot increment or decrement non-numeric value`
    NonNumericValue,
    /// `SERVER_ERROR object too large for cache` (storage refused the item's size).
    ObjectTooLarge,
    /// `SERVER_ERROR out of memory storing object` (eviction off or nothing to evict).
    OutOfMemory,
    /// `CLIENT_ERROR usage: stats detail on|off|dump`
    StatsDetailUsage,
}

impl Reply {
    /// The exact line, `\r\n` included.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Reply::Stored => b"STORED\r\n",
            Reply::NotStored => b"NOT_STORED\r\n",
            Reply::Exists => b"EXISTS\r\n",
            Reply::NotFound => b"NOT_FOUND\r\n",
            Reply::Deleted => b"DELETED\r\n",
            Reply::Touched => b"TOUCHED\r\n",
            Reply::Ok => b"OK\r\n",
            Reply::End => b"END\r\n",
            Reply::Reset => b"RESET\r\n",
            Reply::Error => b"ERROR\r\n",
            Reply::NonNumericValue => {
                b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
            }
            Reply::ObjectTooLarge => b"SERVER_ERROR object too large for cache\r\n",
            Reply::OutOfMemory => b"SERVER_ERROR out of memory storing object\r\n",
            Reply::StatsDetailUsage => b"CLIENT_ERROR usage: stats detail on|off|dump\r\n",
        }
    }
}

/// Appends a fixed reply line.
#[inline]
pub fn encode_reply(out: &mut Vec<u8>, reply: Reply) {
    out.extend_from_slice(reply.bytes());
}

/// Appends `VALUE <key> <flags> <bytes>[ <cas>]\r\n`; the caller appends the value
/// (e.g. copied straight from storage) and then [`encode_data_trailer`].
#[inline]
pub fn encode_value_header(
    out: &mut Vec<u8>,
    key: &[u8],
    client_flags: u32,
    value_bytes: usize,
    cas: Option<u64>,
) {
    out.extend_from_slice(b"VALUE ");
    out.extend_from_slice(key);
    out.push(b' ');
    write_u64(out, u64::from(client_flags));
    out.push(b' ');
    write_u64(out, value_bytes as u64);
    if let Some(cas) = cas {
        out.push(b' ');
        write_u64(out, cas);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends the `\r\n` that ends every data block.
#[inline]
pub fn encode_data_trailer(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\r\n");
}

/// Appends a whole VALUE item: header, data, trailer.
pub fn encode_value(
    out: &mut Vec<u8>,
    key: &[u8],
    client_flags: u32,
    value: &[u8],
    cas: Option<u64>,
) {
    encode_value_header(out, key, client_flags, value.len(), cas);
    out.extend_from_slice(value);
    encode_data_trailer(out);
}

/// Appends an incr/decr result: `<value>\r\n`.
pub fn encode_number(out: &mut Vec<u8>, value: u64) {
    write_u64(out, value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `VERSION <version>\r\n`.
pub fn encode_version(out: &mut Vec<u8>, version: &[u8]) {
    out.extend_from_slice(b"VERSION ");
    out.extend_from_slice(version);
    out.extend_from_slice(b"\r\n");
}

/// Appends `STAT <name> <value>\r\n` with a text value.
pub fn encode_stat(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(b"STAT ");
    out.extend_from_slice(name);
    out.push(b' ');
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `STAT <name> <value>\r\n` with an unsigned number.
pub fn encode_stat_u64(out: &mut Vec<u8>, name: &[u8], value: u64) {
    encode_stat(out, name, Decimal::from_u64(value).as_bytes());
}

/// Appends `STAT <name> <value>\r\n` with a signed number.
pub fn encode_stat_i64(out: &mut Vec<u8>, name: &[u8], value: i64) {
    encode_stat(out, name, Decimal::from_i64(value).as_bytes());
}

/// Appends `STAT <name> <seconds>.<micros>\r\n` (memcached's rusage format, 6 digits).
pub fn encode_stat_seconds_micros(out: &mut Vec<u8>, name: &[u8], seconds: u64, micros: u32) {
    out.extend_from_slice(b"STAT ");
    out.extend_from_slice(name);
    out.push(b' ');
    write_u64(out, seconds);
    out.push(b'.');
    let micros = micros.min(999_999);
    let mut digits = [b'0'; 6];
    let mut rest = micros;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits);
    out.extend_from_slice(b"\r\n");
}

/// Appends `CLIENT_ERROR <message>\r\n`.
pub fn encode_client_error(out: &mut Vec<u8>, message: &[u8]) {
    out.extend_from_slice(b"CLIENT_ERROR ");
    out.extend_from_slice(message);
    out.extend_from_slice(b"\r\n");
}

/// Appends `SERVER_ERROR <message>\r\n`.
pub fn encode_server_error(out: &mut Vec<u8>, message: &[u8]) {
    out.extend_from_slice(b"SERVER_ERROR ");
    out.extend_from_slice(message);
    out.extend_from_slice(b"\r\n");
}

/// A key as memcached writes it in key dumps and `watch` lines (its `uriencode`):
/// ASCII letters, digits and `-._~` as they are, every other byte as `%XX`
/// (upper-case hex).
pub fn encode_uri_key(out: &mut Vec<u8>, key: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in key {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte);
        } else {
            out.extend_from_slice(&[
                b'%',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 15)],
            ]);
        }
    }
}
