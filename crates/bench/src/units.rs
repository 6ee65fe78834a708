//! Parsing of human-friendly numbers on the command line: counts and rates (`10k`,
//! `1.5M`), byte sizes as the server reads them (`512`, `4k` = 4 096), durations
//! (`500ms`, `10s`), and formatting of latencies.

use std::time::Duration;

/// Largest count or rate accepted anywhere on the command line.
pub const MAX_COUNT: f64 = 1e12;

/// Parses a count with an optional decimal suffix: `k` or `K` (thousand), `M`
/// (million), `G` (billion). A lowercase `m` or `g` is refused: in the server's
/// sizes `1m` is a MiB, and in durations `m` is minutes.
pub fn parse_count(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('G') => (&t[..t.len() - 1], 1e9),
        Some('m' | 'g') => {
            return Err(format!(
                "{text:?}: write M for millions or G for billions (a lowercase m or g \
                 would read as MiB or GiB in the server's sizes)"
            ))
        }
        _ => (t, 1.0),
    };
    let value: f64 = num.parse().map_err(|_| format!("not a number: {text:?}"))?;
    let value = value * mult;
    if !value.is_finite() || !(0.0..=MAX_COUNT).contains(&value) {
        return Err(format!("{text:?} is outside 0..={MAX_COUNT}"));
    }
    Ok(value)
}

/// Parses a size in bytes as the server reads its sizes (`-I 1m`): an optional `k`,
/// `m` or `g` suffix (either case) is a binary multiple, so `1k` is 1 024 bytes.
pub fn parse_size_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, multiplier) = match t.chars().last().map(|c| c.to_ascii_lowercase()) {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} is not a size in bytes (a whole number, optionally with k, m or g)"
        ));
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|number| number.checked_mul(multiplier))
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Parses a whole count (`100k` = 100 000).
pub fn parse_u64(text: &str) -> Result<u64, String> {
    let v = parse_count(text)?;
    if v.fract() != 0.0 {
        return Err(format!("{text:?} is not a whole number"));
    }
    Ok(v as u64)
}

/// Parses a duration: a number followed by `us`, `ms`, `s` or `m` (bare numbers are seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("not a duration: {text:?}"))?;
    let seconds = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "" | "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit in {text:?} (use us, ms, s or m)")),
    };
    // One day is far beyond any sensible run and keeps the arithmetic in range.
    if !seconds.is_finite() || !(0.0..=86_400.0).contains(&seconds) {
        return Err(format!("{text:?} is outside 0s..=1 day"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Formats nanoseconds with a unit that keeps three significant digits readable.
pub fn format_latency_ns(ns: u64) -> String {
    let v = ns as f64;
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.1}us", v / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2}ms", v / 1e6)
    } else {
        format!("{:.2}s", v / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_suffixes() {
        assert_eq!(parse_count("10k").unwrap(), 10_000.0);
        assert_eq!(parse_count("1.5M").unwrap(), 1_500_000.0);
        assert_eq!(parse_u64("250").unwrap(), 250);
        assert!(parse_count("-1").is_err());
        assert!(parse_count("abc").is_err());
        assert!(parse_u64("1.5").is_err());
        assert_eq!(parse_count("2G").unwrap(), 2e9);
        // `10m` is 10 MiB to the server and 10 minutes as a duration: refused here.
        let refused = parse_count("10m").unwrap_err();
        assert!(refused.contains("write M for millions"), "{refused}");
        assert!(parse_count("1g").is_err());
    }

    #[test]
    fn sizes_are_binary_multiples_as_in_the_server() {
        assert_eq!(parse_size_bytes("100").unwrap(), 100);
        assert_eq!(parse_size_bytes("1k").unwrap(), 1024);
        assert_eq!(parse_size_bytes("10m").unwrap(), 10 << 20);
        assert_eq!(parse_size_bytes("1G").unwrap(), 1 << 30);
        assert!(parse_size_bytes("1.5k").is_err());
        assert!(parse_size_bytes("k").is_err());
        assert!(parse_size_bytes("99999999999999999999").is_err());
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("2d").is_err());
    }

    #[test]
    fn latencies_format_with_units() {
        assert_eq!(format_latency_ns(999), "999ns");
        assert_eq!(format_latency_ns(12_345), "12.3us");
        assert_eq!(format_latency_ns(100_000_000), "100.00ms");
    }
}
