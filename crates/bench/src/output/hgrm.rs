//! The percentile distribution in HdrHistogram's text format (`.hgrm`, as written by
//! Java's `outputPercentileDistribution`), readable by the HdrHistogram plotter.
//! Values are in microseconds.

use crate::histogram::LatencyHistogram;
use std::fmt::Write;

/// Ticks per half-distance to 100%, as HdrHistogram's default output uses.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// The `.hgrm` text of `h`, values in microseconds.
pub fn percentile_distribution(h: &LatencyHistogram) -> String {
    let hist = h.inner();
    let mut out = String::from("       Value     Percentile TotalCount 1/(1-Percentile)\n\n");
    let mut total = 0u64;
    if !hist.is_empty() {
        for v in hist.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += v.count_since_last_iteration();
            let value_us = hist.highest_equivalent(v.value_iterated_to()) as f64 / 1_000.0;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(
                    out,
                    "{value_us:12.3} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(out, "{value_us:12.3} {q:2.12} {total:10}");
            }
        }
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        hist.mean() / 1_000.0,
        hist.stdev() / 1_000.0
    );
    let _ = writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        hist.max() as f64 / 1_000.0,
        hist.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        hist.buckets(),
        sub_buckets(hist.sigfig())
    );
    out
}

/// HdrHistogram's sub-bucket count for a precision: the power of two that covers
/// `2 * 10^digits` (2048 for three digits), as the Java footer prints it.
fn sub_buckets(digits: u8) -> u64 {
    (2.0 * 10f64.powi(i32::from(digits))).log2().ceil().exp2() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_has_header_rows_and_footer() {
        let mut h = LatencyHistogram::new();
        for i in 1..=1000u64 {
            h.record_ns(i * 1_000);
        }
        let text = percentile_distribution(&h);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("Value") && lines[0].contains("1/(1-Percentile)"));
        let first: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(first[0], "1.000");
        assert!(text.contains("Total count    =         1000]"));
        assert!(text.contains("SubBuckets     =         2048]"), "{text}");
        // Percentiles rise to 1.0 and the last data row has the max.
        let last_row = lines.iter().rev().find(|l| !l.starts_with('#')).unwrap();
        let cols: Vec<&str> = last_row.split_whitespace().collect();
        assert_eq!(cols[1], "1.000000000000");
        assert!(cols[0].starts_with("100"), "{last_row}");
    }
}
