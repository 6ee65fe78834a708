//! Latency recording: HdrHistogram in nanoseconds, three significant digits.

use hdrhistogram::Histogram;

/// Highest latency tracked exactly; larger values are clamped (and the clamping counted).
/// One hour: longer than any run can last, since every run is bounded in time.
pub const MAX_TRACKED_LATENCY_NS: u64 = 3_600_000_000_000;
/// Significant digits kept per value.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// A latency histogram plus the count of values beyond its range.
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
    clamped: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        let hist = Histogram::new_with_bounds(1, MAX_TRACKED_LATENCY_NS, SIGNIFICANT_DIGITS)
            .expect("constant histogram bounds are valid");
        Self { hist, clamped: 0 }
    }

    /// Records one latency.
    pub fn record_ns(&mut self, latency_ns: u64) {
        if latency_ns > MAX_TRACKED_LATENCY_NS {
            self.clamped += 1;
        }
        self.hist.saturating_record(latency_ns.max(1));
    }

    /// Adds every value of `other`: the merge of two histograms is the histogram of
    /// the union, which is why percentiles are merged this way and never averaged.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        // Same bounds on both sides, so addition cannot fail.
        self.hist.add(&other.hist).expect("histograms share bounds");
        self.clamped += other.clamped;
    }

    /// Forgets all values.
    pub fn reset(&mut self) {
        self.hist.reset();
        self.clamped = 0;
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Values that exceeded [`MAX_TRACKED_LATENCY_NS`].
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    /// The latency at percentile `p` (0..=100), in ns; 0 when empty.
    pub fn percentile_ns(&self, p: f64) -> u64 {
        if self.hist.is_empty() {
            return 0;
        }
        self.hist.value_at_quantile(p / 100.0)
    }

    /// The largest value recorded (to the histogram's precision).
    pub fn max_ns(&self) -> u64 {
        self.hist.max()
    }

    /// The mean, in ns.
    pub fn mean_ns(&self) -> f64 {
        self.hist.mean()
    }

    /// The underlying HdrHistogram, for export.
    pub fn inner(&self) -> &Histogram<u64> {
        &self.hist
    }
}

/// The percentiles every report shows.
pub const REPORT_PERCENTILES: [f64; 6] = [50.0, 90.0, 99.0, 99.9, 99.99, 100.0];

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn merged_histograms_equal_one_histogram_of_all_values() {
        let mut rng = SmallRng::seed_from_u64(5);
        let mut parts = [
            LatencyHistogram::new(),
            LatencyHistogram::new(),
            LatencyHistogram::new(),
        ];
        let mut whole = LatencyHistogram::new();
        for i in 0..30_000 {
            // Three different distributions, so a wrong merge (say, averaged percentiles) shows.
            let v = match i % 3 {
                0 => rng.gen_range(10_000..20_000),
                1 => rng.gen_range(50_000..60_000),
                _ => rng.gen_range(1_000_000..100_000_000),
            };
            parts[i % 3].record_ns(v);
            whole.record_ns(v);
        }
        let mut merged = LatencyHistogram::new();
        for p in &parts {
            merged.merge(p);
        }
        assert_eq!(merged.count(), whole.count());
        for p in [1.0, 25.0, 50.0, 66.0, 90.0, 99.0, 99.9, 100.0] {
            assert_eq!(merged.percentile_ns(p), whole.percentile_ns(p), "p{p}");
        }
        // The P50 of the union lies in the middle band, unlike the mean of the parts' P50s.
        let p50 = merged.percentile_ns(50.0);
        assert!((50_000..60_100).contains(&p50), "{p50}");
    }

    #[test]
    fn precision_is_three_digits_and_clamping_is_counted() {
        let mut h = LatencyHistogram::new();
        h.record_ns(123_456);
        let v = h.percentile_ns(50.0);
        assert!((v as f64 - 123_456.0).abs() / 123_456.0 < 0.001, "{v}");
        h.record_ns(u64::MAX);
        assert_eq!(h.clamped(), 1);
        assert_eq!(h.count(), 2);
        h.reset();
        assert_eq!((h.count(), h.clamped(), h.percentile_ns(99.0)), (0, 0, 0));
    }
}
