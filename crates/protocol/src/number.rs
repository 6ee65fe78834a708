//! Decimal integers on the wire, in each dialect we speak: memcached's `safe_strto*`,
//! Redis's `string2ll` and plain HTTP digits. Formatting writes into a caller's buffer
//! or onto the stack, never through an intermediate `String`.

/// Longest decimal a u64 (20 digits) or an i64 (19 digits and a sign) can need.
pub const MAX_DECIMAL_BYTES: usize = 20;

/// Parses a non-empty run of ASCII digits (leading zeros allowed); `None` on any other
/// byte or on u64 overflow.
fn parse_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))?;
    }
    Some(value)
}

/// Parses an unsigned decimal as memcached's `safe_strtoull`: an optional `+`, leading
/// zeros allowed; `None` if empty, not digits, or over u64.
pub(crate) fn parse_memcache_u64(token: &[u8]) -> Option<u64> {
    parse_digits(token.strip_prefix(b"+").unwrap_or(token))
}

/// Parses a signed decimal as memcached's `safe_strtoll`: an optional `+` or `-`;
/// `None` if malformed or out of i64.
pub(crate) fn parse_memcache_i64(token: &[u8]) -> Option<i64> {
    match token.split_first() {
        Some((b'-', digits)) if !digits.starts_with(b"+") => {
            0i64.checked_sub_unsigned(parse_digits(digits)?)
        }
        _ => i64::try_from(parse_memcache_u64(token)?).ok(),
    }
}

/// Parses client flags as memcached does: any u64, truncated to 32 bits
/// (`set k 4294967297 0 1` stores flags 1).
pub(crate) fn parse_client_flags(token: &[u8]) -> Option<u32> {
    // Truncation is memcached 1.6's observed behaviour, kept for compatibility.
    parse_memcache_u64(token).map(|value| value as u32)
}

/// Parses a decimal i64 exactly as Redis's `string2ll`: optional `-`, no `+`, no
/// leading zeros, no spaces, at most 20 bytes, no overflow.
pub fn parse_redis_i64(bytes: &[u8]) -> Option<i64> {
    if bytes.len() > MAX_DECIMAL_BYTES {
        return None;
    }
    if bytes == b"0" {
        return Some(0);
    }
    let (negative, digits) = match bytes.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, bytes),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    let magnitude = parse_digits(digits)?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Parses a plain unsigned decimal (digits only, leading zeros allowed, at most 20
/// bytes); used where HTTP and other text formats are more lenient than Redis.
pub(crate) fn parse_u64_digits(digits: &[u8]) -> Option<u64> {
    if digits.len() > MAX_DECIMAL_BYTES {
        return None;
    }
    parse_digits(digits)
}

/// An integer's decimal form, formatted on the stack.
pub struct Decimal {
    bytes: [u8; MAX_DECIMAL_BYTES],
    start: usize,
}

impl Decimal {
    /// The decimal form of `value`.
    #[inline]
    pub fn from_u64(value: u64) -> Self {
        let mut decimal = Decimal {
            bytes: [0; MAX_DECIMAL_BYTES],
            start: MAX_DECIMAL_BYTES,
        };
        decimal.push_digits(value);
        decimal
    }

    /// The decimal form of `value`, with `-` when negative.
    #[inline]
    pub fn from_i64(value: i64) -> Self {
        let mut decimal = Decimal::from_u64(value.unsigned_abs());
        if value < 0 {
            // i64::MIN has 19 digits, so a sign always fits in the 20 bytes.
            decimal.start -= 1;
            decimal.bytes[decimal.start] = b'-';
        }
        decimal
    }

    /// The ASCII bytes, without padding.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    fn push_digits(&mut self, mut value: u64) {
        loop {
            self.start -= 1;
            self.bytes[self.start] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
    }
}

/// Appends the decimal form of `value` to `out`.
#[inline]
pub(crate) fn write_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(Decimal::from_u64(value).as_bytes());
}

/// Appends the decimal form of `value` (with `-` when negative) to `out`.
#[inline]
pub(crate) fn write_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(Decimal::from_i64(value).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memcache_u64_parses_like_strtoul() {
        assert_eq!(parse_memcache_u64(b"0"), Some(0));
        assert_eq!(parse_memcache_u64(b"+7"), Some(7));
        assert_eq!(parse_memcache_u64(b"007"), Some(7));
        assert_eq!(parse_memcache_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_memcache_u64(b"18446744073709551616"), None);
        assert_eq!(parse_memcache_u64(b""), None);
        assert_eq!(parse_memcache_u64(b"+"), None);
        assert_eq!(parse_memcache_u64(b"-1"), None);
        assert_eq!(parse_memcache_u64(b"1x"), None);
    }

    #[test]
    fn memcache_i64_parses_signed() {
        assert_eq!(parse_memcache_i64(b"-1"), Some(-1));
        assert_eq!(parse_memcache_i64(b"+5"), Some(5));
        assert_eq!(parse_memcache_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_memcache_i64(b"9223372036854775808"), None);
        assert_eq!(parse_memcache_i64(b"-"), None);
        assert_eq!(parse_memcache_i64(b"-+1"), None);
        assert_eq!(parse_memcache_i64(b"--1"), None);
    }

    #[test]
    fn client_flags_truncate_to_32_bits() {
        assert_eq!(parse_client_flags(b"4294967296"), Some(0));
        assert_eq!(parse_client_flags(b"4294967297"), Some(1));
    }

    #[test]
    fn redis_i64_is_as_strict_as_string2ll() {
        assert_eq!(parse_redis_i64(b"0"), Some(0));
        assert_eq!(parse_redis_i64(b"-1"), Some(-1));
        assert_eq!(parse_redis_i64(b"-12"), Some(-12));
        assert_eq!(parse_redis_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_redis_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1a",
            b"1x",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"123456789012345678901",
        ] {
            assert_eq!(
                parse_redis_i64(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn u64_digits_allow_leading_zeros_but_no_sign_and_at_most_20_bytes() {
        assert_eq!(parse_u64_digits(b"0"), Some(0));
        assert_eq!(parse_u64_digits(b"007"), Some(7));
        assert_eq!(parse_u64_digits(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"+1",
            b"-1",
            b"1x",
            b"18446744073709551616",
            b"000000000000000000001",
        ] {
            assert_eq!(
                parse_u64_digits(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn writes_unsigned_decimals() {
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
    }

    #[test]
    fn signed_decimals_match_to_string_at_every_sign_and_extreme() {
        for value in [
            0,
            1,
            -1,
            7,
            -7,
            9,
            10,
            12345,
            1234567890,
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = Vec::new();
            write_i64(&mut out, value);
            assert_eq!(out, value.to_string().into_bytes());
            assert_eq!(
                Decimal::from_i64(value).as_bytes(),
                value.to_string().as_bytes()
            );
        }
    }
}
