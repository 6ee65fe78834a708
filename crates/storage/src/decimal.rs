//! Decimal u64 values for incr/decr, parsed and printed without allocating.

/// Most digits in a u64.
pub const MAX_DIGITS: usize = 20;

/// Parses a stored value as memcached does: optional surrounding spaces, then 1 to 20
/// ASCII digits that fit in a u64. Anything else is not a number.
pub fn parse(value: &[u8]) -> Option<u64> {
    let start = value.iter().position(|&b| b != b' ')?;
    let end = value.iter().rposition(|&b| b != b' ')? + 1;
    let digits = &value[start..end];
    if digits.len() > MAX_DIGITS || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |total, &d| {
        total.checked_mul(10)?.checked_add((d - b'0') as u64)
    })
}

/// Writes `value` in decimal into `buf` and returns the digits.
pub fn format(value: u64, buf: &mut [u8; MAX_DIGITS]) -> &[u8] {
    let mut at = MAX_DIGITS;
    let mut rest = value;
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            return &buf[at..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_memcached_numbers() {
        assert_eq!(parse(b"0"), Some(0));
        assert_eq!(parse(b"007"), Some(7));
        assert_eq!(parse(b"12  "), Some(12));
        assert_eq!(parse(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse(b"18446744073709551616"), None);
        assert_eq!(parse(b"000000000000000000001"), None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"   "), None);
        assert_eq!(parse(b"-1"), None);
        assert_eq!(parse(b"1 2"), None);
        assert_eq!(parse(b"abc"), None);
    }

    #[test]
    fn formats_extremes() {
        let mut buf = [0; MAX_DIGITS];
        assert_eq!(format(0, &mut buf), b"0");
        assert_eq!(format(u64::MAX, &mut buf), b"18446744073709551615");
        assert_eq!(format(1040, &mut buf), b"1040");
    }
}
