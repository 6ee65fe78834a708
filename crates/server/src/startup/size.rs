//! Byte sizes as memcached writes them on the command line: `1048576`,
//! `512k`, `1m`, `2g` (binary multiples, case-insensitive).

/// Parses a size with an optional k/m/g suffix; `unit_bytes` scales a bare number.
pub fn parse_size(text: &str, unit_bytes: u64) -> Result<u64, String> {
    let text = text.trim();
    let (digits, multiplier) = match text.as_bytes().last() {
        Some(b'k' | b'K') => (&text[..text.len() - 1], 1u64 << 10),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 1 << 20),
        Some(b'g' | b'G') => (&text[..text.len() - 1], 1 << 30),
        Some(b't' | b'T') => (&text[..text.len() - 1], 1 << 40),
        _ => (text, unit_bytes),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "'{text}' is not a size (a number, optionally with k, m or g)"
        ));
    }
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is too large"))?;
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("'{text}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn suffixes_and_units() {
        assert_eq!(parse_size("1m", 1), Ok(1 << 20));
        assert_eq!(parse_size("512K", 1), Ok(512 << 10));
        assert_eq!(parse_size("2g", 1), Ok(2 << 30));
        assert_eq!(parse_size("64", 1 << 20), Ok(64 << 20));
        assert_eq!(parse_size("1048576", 1), Ok(1 << 20));
    }

    #[test]
    fn rejects_garbage_and_overflow() {
        assert!(parse_size("", 1).is_err());
        assert!(parse_size("m", 1).is_err());
        assert!(parse_size("-1", 1).is_err());
        assert!(parse_size("1.5m", 1).is_err());
        assert!(parse_size("99999999999999999999", 1).is_err());
        assert!(parse_size("99999999999t", 1).is_err());
    }
}
