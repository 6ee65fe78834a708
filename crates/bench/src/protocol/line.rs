//! CRLF-terminated lines and length-prefixed blocks, shared by the text protocols.

use super::{ProtocolError, MAX_REPLY_VALUE_BYTES};

/// Longest reply line accepted (status lines, headers, VALUE lines).
pub const MAX_LINE_BYTES: usize = 8 * 1024;

/// The line starting at `from` (without CRLF) and the offset just past its CRLF.
pub fn next_line(buf: &[u8], from: usize) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    let rest = &buf[from.min(buf.len())..];
    match rest.iter().position(|&b| b == b'\n') {
        Some(nl) => {
            let line = &rest[..nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            Ok(Some((line, from + nl + 1)))
        }
        None if rest.len() > MAX_LINE_BYTES => Err(ProtocolError::LineTooLong),
        None => Ok(None),
    }
}

/// Parses a decimal length field, bounded by [`MAX_REPLY_VALUE_BYTES`].
pub fn parse_length(field: &[u8]) -> Result<usize, ProtocolError> {
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n <= MAX_REPLY_VALUE_BYTES)
        .ok_or_else(|| ProtocolError::BadLength(String::from_utf8_lossy(field).into_owned()))
}

/// Skips a `len`-byte block plus CRLF at `from`; `None` when not all there yet.
pub fn skip_block(buf: &[u8], from: usize, len: usize) -> Result<Option<usize>, ProtocolError> {
    let end = from + len + 2;
    if buf.len() < end {
        return Ok(None);
    }
    if &buf[end - 2..end] != b"\r\n" {
        return Err(ProtocolError::MissingTerminator);
    }
    Ok(Some(end))
}

/// True for memcached's error replies (`ERROR`, `CLIENT_ERROR ..`, `SERVER_ERROR ..`).
pub fn is_memcache_error(line: &[u8]) -> bool {
    line == b"ERROR" || line.starts_with(b"CLIENT_ERROR") || line.starts_with(b"SERVER_ERROR")
}

/// An `Unexpected` error quoting the first bytes of the reply.
pub fn unexpected(line: &[u8]) -> ProtocolError {
    let shown = &line[..line.len().min(64)];
    ProtocolError::Unexpected(String::from_utf8_lossy(shown).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_blocks() {
        assert_eq!(next_line(b"END\r\nX", 0).unwrap(), Some((&b"END"[..], 5)));
        assert_eq!(next_line(b"EN", 0).unwrap(), None);
        assert_eq!(
            next_line(&vec![b'a'; MAX_LINE_BYTES + 1], 0),
            Err(ProtocolError::LineTooLong)
        );
        assert_eq!(skip_block(b"abc\r\n", 0, 3).unwrap(), Some(5));
        assert_eq!(skip_block(b"abc\r", 0, 3).unwrap(), None);
        assert_eq!(
            skip_block(b"abcd\r\n", 0, 3),
            Err(ProtocolError::MissingTerminator)
        );
        assert!(parse_length(b"99999999999").is_err());
        assert!(parse_length(b"-1").is_err());
    }
}
