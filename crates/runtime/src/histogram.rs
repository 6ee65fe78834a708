//! A lock-free latency histogram with power-of-two buckets: written by
//! workers with one relaxed add, read by the metrics page at any time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Buckets: bucket `i` counts values below `2^i` ns (and at least `2^(i-1)`);
/// the last one also takes everything longer (2^39 ns is about 9 minutes).
const BUCKETS: usize = 40;

/// Durations recorded by any thread.
#[derive(Debug)]
pub struct LatencyHistogram {
    counts: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
}

/// A point-in-time copy of a [`LatencyHistogram`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// `(upper bound in ns, values below it and at least the previous bound)`,
    /// ascending; the last bound stands for "everything longer" too.
    pub buckets: Vec<(u64, u64)>,
    /// Sum of all recorded values, in nanoseconds.
    pub sum_ns: u64,
}

impl HistogramSnapshot {
    /// The bucket-by-bucket sum of `snapshots` (of histograms of this type).
    pub fn sum(snapshots: impl IntoIterator<Item = HistogramSnapshot>) -> HistogramSnapshot {
        let mut total = HistogramSnapshot::default();
        for snapshot in snapshots {
            if total.buckets.is_empty() {
                total.buckets = snapshot
                    .buckets
                    .iter()
                    .map(|&(upper, _)| (upper, 0))
                    .collect();
            }
            for (sum, (_, count)) in total.buckets.iter_mut().zip(&snapshot.buckets) {
                sum.1 += count;
            }
            total.sum_ns += snapshot.sum_ns;
        }
        total
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|&(_, count)| count).sum()
    }

    /// Values recorded below `bound_ns` (rounded to whole buckets).
    pub fn count_below(&self, bound_ns: u64) -> u64 {
        self.buckets
            .iter()
            .filter(|&&(upper_ns, _)| upper_ns <= bound_ns)
            .map(|&(_, count)| count)
            .sum()
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_ns: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    /// Records one duration.
    pub fn record(&self, value: Duration) {
        let ns = u64::try_from(value.as_nanos()).unwrap_or(u64::MAX);
        let bucket = (u64::BITS - ns.leading_zeros()) as usize;
        self.counts[bucket.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: self
                .counts
                .iter()
                .enumerate()
                .map(|(i, count)| (1u64 << i, count.load(Ordering::Relaxed)))
                .collect(),
            sum_ns: self.sum_ns.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_below_their_bucket_bound() {
        let h = LatencyHistogram::default();
        h.record(Duration::ZERO);
        h.record(Duration::from_nanos(1));
        h.record(Duration::from_nanos(1000));
        h.record(Duration::from_secs(100_000));
        let s = h.snapshot();
        assert_eq!(s.count(), 4);
        assert_eq!(s.count_below(1), 1, "0 ns is below 1 ns");
        assert_eq!(s.count_below(2), 2);
        assert_eq!(s.count_below(1024), 3, "1000 ns is below 1024 ns");
        assert_eq!(s.buckets.last().unwrap().1, 1, "the longest is clamped");
        assert_eq!(s.sum_ns, 1001 + 100_000 * 1_000_000_000);
        let twice = HistogramSnapshot::sum([s.clone(), s.clone()]);
        assert_eq!((twice.count(), twice.count_below(2)), (8, 4));
        assert_eq!(twice.sum_ns, 2 * s.sum_ns);
    }
}
