//! Percent-decoding of the key in `/keys/{key}`.
//!
//! Rules: `%XX` (hex digits, either case) is the byte XX; every other byte stands for
//! itself, including `+` (this is a path, not a form) and `/` (so `/keys/a/b` names
//! the key `a/b`, as does `/keys/a%2Fb`). A `%` not followed by two hex digits is an
//! error. A key without `%` is borrowed; only a key with escapes is copied.

use std::borrow::Cow;

/// Decodes `raw`; `None` when a `%` is not followed by two hex digits.
pub(crate) fn decode(raw: &[u8]) -> Option<Cow<'_, [u8]>> {
    if memchr::memchr(b'%', raw).is_none() {
        return Some(Cow::Borrowed(raw));
    }
    let mut decoded = Vec::with_capacity(raw.len());
    let mut position = 0;
    while position < raw.len() {
        let byte = raw[position];
        if byte == b'%' {
            let high = hex_value(*raw.get(position + 1)?)?;
            let low = hex_value(*raw.get(position + 2)?)?;
            decoded.push(high << 4 | low);
            position += 3;
        } else {
            decoded.push(byte);
            position += 1;
        }
    }
    Some(Cow::Owned(decoded))
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_keeps_the_rest() {
        assert!(matches!(
            decode(b"plain+key/x"),
            Some(Cow::Borrowed(b"plain+key/x"))
        ));
        assert_eq!(decode(b"a%20b%2Fc%2f").as_deref(), Some(&b"a b/c/"[..]));
        assert_eq!(decode(b"%00%FF").as_deref(), Some(&[0u8, 255][..]));
        for bad in [&b"%"[..], b"%2", b"%zz", b"a%g0"] {
            assert_eq!(decode(bad), None);
        }
    }
}
