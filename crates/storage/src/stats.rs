//! The engine's counters, striped per thread, and the summed snapshot.
//!
//! Reads bump no counter at all (servers count hits and misses per worker); writes and
//! background jobs bump these, each thread in its own stripe.

use crate::stripe;
use crate::sync::{AtomicU64, Ordering::Relaxed};

/// What the engine counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Counter {
    Sets,
    EvictedItems,
    EvictedSegments,
    InlineEvictions,
    MergedSegments,
    MergeKeptItems,
    IndexEvictions,
    ExpiredItems,
    ExpiredSegments,
    FlushedItems,
    WriteRetries,
    ReadsExpired,
    ReadsFlushed,
}

/// How many counters there are.
pub(crate) const COUNTERS: usize = Counter::ReadsFlushed as usize + 1;

#[repr(align(128))]
struct Stripe([AtomicU64; COUNTERS]);

/// Every counter, one stripe per thread.
pub(crate) struct Counters {
    stripes: Box<[Stripe]>,
}

impl Counters {
    pub(crate) fn new() -> Counters {
        Counters {
            stripes: (0..stripe::COUNT)
                .map(|_| Stripe(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
        }
    }

    /// Bytes the counters take (counted in the engine's budget).
    pub(crate) const FOOTPRINT_BYTES: usize = stripe::COUNT * std::mem::size_of::<Stripe>();

    /// Adds `by` to `counter`.
    pub(crate) fn add(&self, counter: Counter, by: u64) {
        self.stripes[stripe::current()].0[counter as usize].fetch_add(by, Relaxed);
    }

    /// Adds one to `counter`.
    pub(crate) fn incr(&self, counter: Counter) {
        self.add(counter, 1);
    }

    /// Every counter summed over stripes, in `Counter` order (for the heap file).
    pub(crate) fn all(&self) -> [u64; COUNTERS] {
        std::array::from_fn(|counter| {
            self.stripes
                .iter()
                .map(|stripe| stripe.0[counter].load(Relaxed))
                .sum()
        })
    }

    /// Sets every counter to `values` (from [`Self::all`]).
    pub(crate) fn restore(&self, values: [u64; COUNTERS]) {
        for (index, stripe) in self.stripes.iter().enumerate() {
            for (counter, value) in stripe.0.iter().zip(values) {
                counter.store(if index == 0 { value } else { 0 }, Relaxed);
            }
        }
    }

    /// `counter` summed over stripes.
    pub(crate) fn get(&self, counter: Counter) -> u64 {
        self.stripes
            .iter()
            .map(|stripe| stripe.0[counter as usize].load(Relaxed))
            .sum()
    }
}

/// A snapshot of the engine's counters and memory use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Items written by stores, arithmetic, touches that moved an item, and merges.
    pub sets: u64,
    /// Live items dropped to make room (segment eviction, merge, index collisions).
    pub evicted_items: u64,
    /// Segments freed by eviction.
    pub evicted_segments: u64,
    /// Writes that found no free segment and had to free one themselves.
    pub inline_evictions: u64,
    /// Segments merged (sources of merge eviction).
    pub merged_segments: u64,
    /// Items a merge kept, moved into its target.
    pub merge_kept_items: u64,
    /// Items dropped because both of their index buckets were full.
    pub index_evictions: u64,
    /// Expired items removed (found on write, or when their segment was reclaimed).
    pub expired_items: u64,
    /// Segments reclaimed because all their items had expired or been flushed.
    pub expired_segments: u64,
    /// Items removed because flush_all invalidated them.
    pub flushed_items: u64,
    /// Writes that started over because another writer changed their buckets first.
    pub write_retries: u64,
    /// Reads that found their key's item expired (memcached `get_expired`).
    pub reads_expired: u64,
    /// Reads that found their key's item flushed (memcached `get_flushed`).
    pub reads_flushed: u64,
    /// Live items (memcached `curr_items`); includes expired ones not yet reclaimed.
    pub items: u64,
    /// Bytes of live items, headers included.
    pub bytes_used: u64,
    /// Bytes in free segments plus unwritten space in segments in use.
    pub bytes_free: u64,
    /// Segments in the free pool.
    pub segments_free: u64,
    /// Segments in use (holding items or being filled).
    pub segments_used: u64,
    /// Segments in use whose items have all expired or been flushed, waiting to be
    /// reclaimed (part of `segments_used`).
    pub segments_expired: u64,
    /// Segments out of their chain while a job empties them (eviction, expiry,
    /// flush reclaim) or a merge fills them (part of `segments_used`).
    pub segments_emptying: u64,
    /// Free segments the background keeps ready for writes (from the recent write rate).
    pub segments_reserve_target: u64,
    /// Size of each segment in bytes.
    pub segment_size_bytes: u64,
    /// Bytes of the hash index.
    pub index_bytes: u64,
    /// Item slots of the hash index (each bucket also holds one version word).
    pub index_slots: u64,
    /// The configured budget (memcached `limit_maxbytes`).
    pub limit_bytes: u64,
    /// Bytes actually reserved: segments + index + bookkeeping (always <= limit_bytes).
    pub reserved_bytes: u64,
}

impl Counters {
    /// Copies every counter into `stats`.
    pub(crate) fn fill(&self, stats: &mut Stats) {
        stats.sets = self.get(Counter::Sets);
        stats.evicted_items = self.get(Counter::EvictedItems);
        stats.evicted_segments = self.get(Counter::EvictedSegments);
        stats.inline_evictions = self.get(Counter::InlineEvictions);
        stats.merged_segments = self.get(Counter::MergedSegments);
        stats.merge_kept_items = self.get(Counter::MergeKeptItems);
        stats.index_evictions = self.get(Counter::IndexEvictions);
        stats.expired_items = self.get(Counter::ExpiredItems);
        stats.expired_segments = self.get(Counter::ExpiredSegments);
        stats.flushed_items = self.get(Counter::FlushedItems);
        stats.write_retries = self.get(Counter::WriteRetries);
        stats.reads_expired = self.get(Counter::ReadsExpired);
        stats.reads_flushed = self.get(Counter::ReadsFlushed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;

    use crate::{Cache, Config, Expiry, ManualClock, StepBudget, StoreMode, StoreOptions};

    const START_UNIX_SECS: u32 = 1_800_000_000;

    fn store(cache: &Cache, key: &str, expiry: Expiry) {
        let options = StoreOptions {
            expiry,
            ..StoreOptions::default()
        };
        cache
            .store(StoreMode::Set, key.as_bytes(), &[b'v'; 100], options)
            .expect("store");
    }

    /// Every used segment is in exactly one of live, expired or emptying, and each
    /// moves between them as the expiry job and flush_all act on it.
    #[test]
    fn segments_are_reported_by_state() {
        let clock = Arc::new(ManualClock::new(START_UNIX_SECS));
        let config = Config {
            heap_size_bytes: 4 << 20,
            segment_size_bytes: 64 << 10,
            item_size_limit_bytes: 64 << 10,
            ..Config::default()
        };
        let cache = Cache::with_clock(config, clock.clone()).expect("valid config");
        let total = cache.stats().segments_free;
        assert!(total > 4, "{:?}", cache.stats());

        for n in 0..50 {
            store(
                &cache,
                &format!("ttl:{n}"),
                Expiry::At(START_UNIX_SECS + 10),
            );
            store(&cache, &format!("keep:{n}"), Expiry::Never);
        }
        let stats = cache.stats();
        assert_eq!(stats.segments_used, 2, "{stats:?}");
        assert_eq!((stats.segments_expired, stats.segments_emptying), (0, 0));
        assert_eq!(stats.segments_free + stats.segments_used, total);

        clock.advance(20);
        let stats = cache.stats();
        assert_eq!((stats.segments_expired, stats.segments_emptying), (1, 0));

        // Finding the segment costs one item of the budget, unlinking one more: the
        // job stops halfway, its segment out of the chain.
        cache.maintenance_step(StepBudget { max_items: 2 });
        let stats = cache.stats();
        assert_eq!((stats.segments_expired, stats.segments_emptying), (0, 1));
        assert_eq!(stats.segments_used, 2, "{stats:?}");

        cache.maintenance_step(StepBudget { max_items: 1000 });
        let stats = cache.stats();
        assert_eq!(stats.segments_used, 1, "{stats:?}");
        assert_eq!((stats.segments_expired, stats.segments_emptying), (0, 0));

        cache.flush_all();
        let stats = cache.stats();
        assert_eq!((stats.segments_expired, stats.segments_emptying), (1, 0));
    }
}
