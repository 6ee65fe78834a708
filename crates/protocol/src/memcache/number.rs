//! Decimal numbers on the wire: parsing as memcached's `safe_strto*` accept them, and
//! formatting into a caller's buffer without an intermediate `String`.

/// Parses an unsigned decimal with an optional `+`; `None` if empty, not digits, or over u64.
pub(crate) fn parse_u64(token: &[u8]) -> Option<u64> {
    let digits = token.strip_prefix(b"+").unwrap_or(token);
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &b in digits {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    Some(value)
}

/// Parses a signed decimal with an optional `+` or `-`; `None` if malformed or out of i64.
pub(crate) fn parse_i64(token: &[u8]) -> Option<i64> {
    match token.split_first() {
        Some((b'-', digits)) if !digits.starts_with(b"+") => {
            let magnitude = parse_u64(digits)?;
            0i64.checked_sub_unsigned(magnitude)
        }
        _ => i64::try_from(parse_u64(token)?).ok(),
    }
}

/// Parses client flags as memcached does: any u64, truncated to 32 bits
/// (`set k 4294967297 0 1` stores flags 1).
pub(crate) fn parse_client_flags(token: &[u8]) -> Option<u32> {
    // Truncation is memcached 1.6's observed behaviour, kept for compatibility.
    parse_u64(token).map(|value| value as u32)
}

/// Longest decimal an i64 or u64 can need: 20 digits plus a sign.
const MAX_DECIMAL_BYTES: usize = 21;

/// Appends the decimal form of `value`.
#[inline]
pub(crate) fn write_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut buf = [0u8; MAX_DECIMAL_BYTES];
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[start..]);
}

/// Appends the decimal form of `value`, with `-` when negative.
#[inline]
pub(crate) fn write_i64(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    write_u64(out, value.unsigned_abs());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_strtoul() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"+7"), Some(7));
        assert_eq!(parse_u64(b"007"), Some(7));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"+"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"1x"), None);
    }

    #[test]
    fn parses_signed() {
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"+5"), Some(5));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b"-+1"), None);
        assert_eq!(parse_i64(b"--1"), None);
    }

    #[test]
    fn flags_truncate_to_32_bits() {
        assert_eq!(parse_client_flags(b"4294967296"), Some(0));
        assert_eq!(parse_client_flags(b"4294967297"), Some(1));
    }

    #[test]
    fn writes_decimals() {
        let mut out = Vec::new();
        for (value, text) in [
            (0u64, "0"),
            (9, "9"),
            (10, "10"),
            (u64::MAX, "18446744073709551615"),
        ] {
            out.clear();
            write_u64(&mut out, value);
            assert_eq!(out, text.as_bytes());
        }
        out.clear();
        write_i64(&mut out, i64::MIN);
        assert_eq!(out, b"-9223372036854775808");
        out.clear();
        write_i64(&mut out, -1);
        assert_eq!(out, b"-1");
    }
}
