//! Live progress on stderr, one line per second.

use crate::driver::stats::{IntervalReport, Phase};
use crate::units::format_latency_ns;

/// Prints progress lines unless quiet.
#[derive(Debug)]
pub struct Printer {
    quiet: bool,
}

impl Printer {
    /// A printer; `quiet` silences it.
    pub fn new(quiet: bool) -> Self {
        Self { quiet }
    }

    /// Announces the next run.
    pub fn start(&self, what: &str) {
        if !self.quiet {
            eprintln!("--- {what}");
        }
    }

    /// One second's line.
    pub fn second(&self, s: &IntervalReport) {
        if !self.quiet {
            eprintln!("{}", line(s));
        }
    }
}

/// `[  3s measure] 10000/s  errors 0  hits 99.1%  p50 45.0us  p99 120.0us  p99.9 1.20ms`
pub fn line(s: &IntervalReport) -> String {
    let phase = match s.phase {
        Phase::Warmup => "warmup",
        Phase::Measure => "measure",
        Phase::Drain => "drain",
    };
    let hits = s
        .hit_ratio
        .map_or("-".into(), |h| format!("{:.1}%", h * 100.0));
    format!(
        "[{:>4}s {phase:>7}] {:>9.0}/s  errors {}  hits {hits}  p50 {}  p99 {}  p99.9 {}",
        s.second + 1,
        s.rate_per_s,
        s.errors,
        format_latency_ns(s.p50_ns),
        format_latency_ns(s.p99_ns),
        format_latency_ns(s.p999_ns)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_shows_rate_errors_hits_and_tail() {
        let s = IntervalReport {
            second: 2,
            phase: Phase::Measure,
            rate_per_s: 10_000.0,
            errors: 3,
            hit_ratio: Some(0.5),
            p50_ns: 45_000,
            p99_ns: 120_000,
            p999_ns: 1_200_000,
        };
        let l = line(&s);
        assert!(l.contains("3s measure") && l.contains("10000/s") && l.contains("errors 3"));
        assert!(l.contains("hits 50.0%") && l.contains("p99.9 1.20ms"));
    }
}
