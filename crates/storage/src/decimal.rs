//! Decimal u64 values for incr/decr, parsed and printed without allocating.

/// Most digits in a u64.
pub const MAX_DIGITS: usize = 20;

/// Parses a stored value as memcached does (C's `strtoull` in base 10, then its own
/// checks): leading white space, an optional sign, at least one digit, any number of
/// leading zeros, a value that fits in a u64, then white space, a NUL or the end of
/// the value; whatever follows that is ignored. `-0` is 0; other negative numbers are
/// not numbers.
pub fn parse(value: &[u8]) -> Option<u64> {
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let mut at = value.iter().position(|&b| !is_space(b))?;
    let negative = match value[at] {
        b'-' => true,
        b'+' => false,
        _ => {
            at = at.wrapping_sub(1);
            false
        }
    };
    at = at.wrapping_add(1);
    let digits_start = at;
    let mut total = Some(0u64);
    while let Some(&digit) = value.get(at).filter(|b| b.is_ascii_digit()) {
        total = total.and_then(|t| t.checked_mul(10)?.checked_add(u64::from(digit - b'0')));
        at += 1;
    }
    let total = total.filter(|_| at > digits_start)?;
    if value.get(at).is_some_and(|&b| b != 0 && !is_space(b)) {
        return None;
    }
    let result = if negative {
        total.wrapping_neg()
    } else {
        total
    };
    // memcached refuses what reads as negative only when a '-' is in the text.
    let text = value.split(|&b| b == 0).next().unwrap_or_default();
    if (result as i64) < 0 && text.contains(&b'-') {
        return None;
    }
    Some(result)
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
        assert_eq!(parse(b"000000000000000000001"), Some(1));
        assert_eq!(parse(b"018446744073709551614"), Some(u64::MAX - 1));
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"   "), None);
        assert_eq!(parse(b"-1"), None);
        assert_eq!(parse(b"-0"), Some(0));
        assert_eq!(parse(b"+5"), Some(5));
        assert_eq!(parse(b"+"), None);
        assert_eq!(parse(b" \t7\r"), Some(7));
        assert_eq!(parse(b"1 2"), Some(1), "text after white space is ignored");
        assert_eq!(parse(b"12abc"), None);
        assert_eq!(parse(b"5\0x"), Some(5));
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
