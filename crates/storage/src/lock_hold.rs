//! How long chain locks are held: a histogram kept by the engine on every hold.
//!
//! Holds are timed with the CPU's time-stamp counter (quanta), about 10 ns a read,
//! and counted in per-thread stripes so that recording never shares a cache line
//! between cores. Buckets are log-linear: each power of two of nanoseconds is cut
//! into [`SUB_BUCKETS`] equal parts, so any value is within 12.5% of its bucket's
//! upper bound.

use crate::stripe;
use crate::sync::AtomicU64;
#[cfg(not(loom))]
use crate::sync::Ordering::Relaxed;

/// Equal parts each power of two is cut into.
const SUB_BUCKETS: usize = 8;
/// Powers of two covered: values up to 2^40 ns (about 18 minutes).
const POWERS: usize = 40;
/// Buckets per stripe: values below `SUB_BUCKETS` ns get one bucket each.
const BUCKETS: usize = POWERS * SUB_BUCKETS;

/// One thread's share of the histogram.
#[repr(align(128))]
struct Stripe {
    counts: [AtomicU64; BUCKETS],
    max_ns: AtomicU64,
}

/// The engine's lock-hold histogram (empty under loom, which would have to model
/// every one of its thousands of counters).
pub(crate) struct LockHolds {
    #[cfg(not(loom))]
    stripes: Box<[Stripe]>,
    #[cfg(not(loom))]
    clock: quanta::Clock,
}

/// A hold in progress: when it started, in the clock's raw units.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HoldStart(u64);

/// What the histogram holds now: counts per bucket, with each bucket's upper bound.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockHoldSnapshot {
    /// `(upper_bound_ns, count)` for every bucket with a count, in increasing order.
    pub buckets: Vec<(u64, u64)>,
    /// The longest hold seen, in nanoseconds.
    pub max_ns: u64,
}

impl LockHoldSnapshot {
    /// Holds counted.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|&(_, count)| count).sum()
    }

    /// The upper bound of the bucket holding the `quantile` (0..=1) hold, in ns.
    pub fn quantile_ns(&self, quantile: f64) -> u64 {
        let total = self.count();
        if total == 0 {
            return 0;
        }
        let rank = ((quantile.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for &(upper_ns, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                return upper_ns.min(self.max_ns);
            }
        }
        self.max_ns
    }
}

impl LockHolds {
    /// An empty histogram with a stripe per [`stripe::COUNT`].
    pub(crate) fn new() -> LockHolds {
        LockHolds {
            #[cfg(not(loom))]
            stripes: (0..stripe::COUNT)
                .map(|_| Stripe {
                    counts: std::array::from_fn(|_| AtomicU64::new(0)),
                    max_ns: AtomicU64::new(0),
                })
                .collect(),
            #[cfg(not(loom))]
            clock: quanta::Clock::new(),
        }
    }

    /// Bytes this histogram takes (counted in the engine's budget).
    pub(crate) const FOOTPRINT_BYTES: usize = stripe::COUNT * std::mem::size_of::<Stripe>();

    /// Notes the start of a hold.
    pub(crate) fn start(&self) -> HoldStart {
        #[cfg(not(loom))]
        return HoldStart(self.clock.raw());
        #[cfg(loom)]
        return HoldStart(0);
    }

    /// Counts a hold that started at `start` and ends now.
    pub(crate) fn finish(&self, start: HoldStart) {
        #[cfg(not(loom))]
        {
            let ns = self.clock.delta_as_nanos(start.0, self.clock.raw());
            self.record_ns(ns);
        }
        #[cfg(loom)]
        let _ = start;
    }

    /// Counts one hold of `ns` nanoseconds.
    #[cfg(not(loom))]
    pub(crate) fn record_ns(&self, ns: u64) {
        let stripe = &self.stripes[stripe::current()];
        stripe.counts[bucket_of(ns)].fetch_add(1, Relaxed);
        // Almost never a new maximum: a load, not a read-modify-write, on the way.
        if ns > stripe.max_ns.load(Relaxed) {
            stripe.max_ns.fetch_max(ns, Relaxed);
        }
    }

    /// Forgets every hold counted so far (memcached's `stats reset`, or a benchmark's
    /// warm-up). Holds counted while it runs may survive it.
    #[cfg(loom)]
    pub(crate) fn reset(&self) {}

    /// Nothing is counted under loom.
    #[cfg(loom)]
    pub(crate) fn snapshot(&self) -> LockHoldSnapshot {
        LockHoldSnapshot::default()
    }

    #[cfg(not(loom))]
    pub(crate) fn reset(&self) {
        for stripe in self.stripes.iter() {
            for count in &stripe.counts {
                count.store(0, Relaxed);
            }
            stripe.max_ns.store(0, Relaxed);
        }
    }

    /// The histogram summed over stripes.
    #[cfg(not(loom))]
    pub(crate) fn snapshot(&self) -> LockHoldSnapshot {
        let mut counts = [0u64; BUCKETS];
        let mut max_ns = 0;
        for stripe in self.stripes.iter() {
            for (total, count) in counts.iter_mut().zip(&stripe.counts) {
                *total += count.load(Relaxed);
            }
            max_ns = max_ns.max(stripe.max_ns.load(Relaxed));
        }
        LockHoldSnapshot {
            buckets: counts
                .iter()
                .enumerate()
                .filter(|&(_, &count)| count > 0)
                .map(|(bucket, &count)| (upper_bound_ns(bucket), count))
                .collect(),
            max_ns,
        }
    }
}

/// The bucket `ns` falls in.
fn bucket_of(ns: u64) -> usize {
    if ns < SUB_BUCKETS as u64 {
        return ns as usize;
    }
    let power = 63 - ns.leading_zeros() as usize; // 2^power <= ns
    let sub_bits = SUB_BUCKETS.trailing_zeros() as usize;
    let sub = ((ns >> (power - sub_bits)) as usize) & (SUB_BUCKETS - 1);
    ((power - sub_bits + 1) * SUB_BUCKETS + sub).min(BUCKETS - 1)
}

/// The largest value that falls in `bucket`.
fn upper_bound_ns(bucket: usize) -> u64 {
    if bucket < SUB_BUCKETS {
        return bucket as u64;
    }
    let sub_bits = SUB_BUCKETS.trailing_zeros() as usize;
    let power = bucket / SUB_BUCKETS + sub_bits - 1;
    let sub = (bucket % SUB_BUCKETS) as u64;
    let width = 1u64 << (power - sub_bits);
    (1u64 << power) + (sub + 1) * width - 1
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_a_bucket_whose_bound_is_within_an_eighth() {
        let mut previous_bucket = 0;
        for ns in (0..100_000u64).chain([1 << 20, (1 << 30) + 12345, u64::MAX >> 25]) {
            let bucket = bucket_of(ns);
            assert!(
                bucket >= previous_bucket || ns > 100_000,
                "monotonic at {ns}"
            );
            previous_bucket = bucket;
            let upper = upper_bound_ns(bucket);
            assert!(upper >= ns, "{ns} above its bucket's bound {upper}");
            assert!(upper - ns <= ns / 8 + 1, "{ns} too far below {upper}");
            if bucket > 0 {
                assert!(upper_bound_ns(bucket - 1) < ns, "{ns} belongs lower");
            }
        }
    }

    #[test]
    fn quantiles_come_from_the_counts() {
        let holds = LockHolds::new();
        for _ in 0..9_999 {
            holds.record_ns(100);
        }
        holds.record_ns(50_000);
        let snapshot = holds.snapshot();
        assert_eq!(snapshot.count(), 10_000);
        assert_eq!(snapshot.max_ns, 50_000);
        assert!((100..=112).contains(&snapshot.quantile_ns(0.5)));
        assert!((100..=112).contains(&snapshot.quantile_ns(0.9999)));
        assert_eq!(snapshot.quantile_ns(1.0), 50_000);
    }

    #[test]
    fn a_timed_hold_is_counted() {
        let holds = LockHolds::new();
        let start = holds.start();
        std::thread::sleep(std::time::Duration::from_millis(2));
        holds.finish(start);
        let snapshot = holds.snapshot();
        assert_eq!(snapshot.count(), 1);
        assert!(snapshot.max_ns >= 1_000_000, "{snapshot:?}");
    }
}
