//! Parsing of human-friendly numbers and durations on the command line
//! (`10k`, `1.5M`, `500ms`, `10s`), and formatting of latencies.

use std::time::Duration;

/// Largest count or rate accepted anywhere on the command line.
pub const MAX_COUNT: f64 = 1e12;

/// Parses a count with an optional `k`/`m`/`g` suffix (`10k` = 10 000).
pub fn parse_count(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_lowercase()) {
        Some('k') => (&t[..t.len() - 1], 1e3),
        Some('m') => (&t[..t.len() - 1], 1e6),
        Some('g') => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    let value: f64 = num.parse().map_err(|_| format!("not a number: {text:?}"))?;
    let value = value * mult;
    if !value.is_finite() || !(0.0..=MAX_COUNT).contains(&value) {
        return Err(format!("{text:?} is outside 0..={MAX_COUNT}"));
    }
    Ok(value)
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
