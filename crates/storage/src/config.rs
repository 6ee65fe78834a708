//! Engine configuration, its validation, and the memory layout derived from it.
//!
//! Every byte the engine keeps is inside `heap_size_bytes`: the segments, the index,
//! the per-segment bookkeeping, the TTL buckets, the free list and the striped
//! counters and histograms. `Layout` is where that sum is made.

use crate::error::ConfigError;
use crate::index::{BUCKET_BYTES, ITEM_SLOTS_PER_BUCKET};
use crate::slot::{MAX_SEGMENTS, MAX_SEGMENT_SIZE_BYTES};

/// Longest key memcached accepts, in bytes.
pub const MAX_KEY_LEN: usize = 250;
/// Smallest segment: a segment must hold a useful number of small items.
pub const MIN_SEGMENT_SIZE_BYTES: usize = 4096;
/// Fewest segments an engine runs with: a TTL bucket's active segment, a merge's
/// target, and two to evict between.
const MIN_SEGMENTS: usize = 4;
/// Index slots provisioned per expected item, as a fraction. With two candidate
/// buckets per key and one cuckoo move, 1.1 slots per item keep collisions (an insert
/// that must give up an item) near 0.01% of writes at a full heap; fewer slots cost
/// more items than they save (`benches/memory.rs`: 1.05 holds 0.1% fewer, 1.0 0.8%).
const INDEX_SLOTS_PER_ITEM_NUM: usize = 11;
const INDEX_SLOTS_PER_ITEM_DEN: usize = 10;

/// What to do when a write needs memory and no segment is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// Segcache's default: compact the oldest segments of a TTL bucket, keeping items
    /// read since they were written or last moved.
    Merge,
    /// Drop the oldest segment.
    Fifo,
    /// Drop a random segment.
    Random,
    /// Never evict: the write fails with [`crate::CacheError::OutOfMemory`] (memcached `-M`).
    None,
}

/// Engine configuration; [`crate::Cache::new`] validates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Total bytes the engine may use, everything included (memcached `-m`).
    pub heap_size_bytes: usize,
    /// Size of one segment in bytes (default 1 MiB); at least the item size limit.
    pub segment_size_bytes: usize,
    /// Largest item accepted, in bytes (memcached `-I`, default 1 MiB). An item counts
    /// its key, its value and the largest header it could ever need (25 bytes), so
    /// that touch and merge can always move it.
    pub item_size_limit_bytes: usize,
    /// Typical key + value size in bytes; sizes the index (default 64).
    pub expected_item_size_bytes: usize,
    /// What a write does when memory is full.
    pub eviction: EvictionPolicy,
    /// Whether items carry CAS values (memcached `-C` turns this off; then every CAS reads 0).
    pub cas_enabled: bool,
    /// Whether background maintenance keeps a reserve of free segments sized from the
    /// write rate and reclaims expired segments (default). Off (memcached's
    /// `-o no_lru_maintainer`), the reserve is only what the policy needs, writes
    /// evict inline and take expired segments first, and only flush reclaim runs in
    /// the background; expired items stay until a write needs their room, a read meets
    /// them or `Cache::reclaim_step` reclaims them, as in memcached without its maintainer.
    pub evict_ahead: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            heap_size_bytes: 64 << 20,
            segment_size_bytes: 1 << 20,
            item_size_limit_bytes: 1 << 20,
            expected_item_size_bytes: 64,
            eviction: EvictionPolicy::Merge,
            cas_enabled: true,
            evict_ahead: true,
        }
    }
}

/// Sizes derived from a validated config; every byte is inside `heap_size_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub segment_count: usize,
    pub bucket_count: usize,
    pub index_bytes: usize,
    pub bookkeeping_bytes: usize,
}

impl Config {
    /// Checks every value as [`crate::Cache::new`] would, without reserving memory.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.layout().map(|_| ())
    }

    /// Checks every value and derives the memory layout.
    pub(crate) fn layout(&self) -> Result<Layout, ConfigError> {
        self.check_sizes()?;
        // Bytes an expected item costs in segments and in the index together.
        let item_bytes = self.expected_item_size_bytes + crate::item::MIN_HEADER_BYTES;
        let index_bytes_per_item = BUCKET_BYTES * INDEX_SLOTS_PER_ITEM_NUM
            / (ITEM_SLOTS_PER_BUCKET * INDEX_SLOTS_PER_ITEM_DEN);
        let expected_items = self.heap_size_bytes / (item_bytes + index_bytes_per_item);
        let slots = expected_items * INDEX_SLOTS_PER_ITEM_NUM / INDEX_SLOTS_PER_ITEM_DEN;
        let bucket_count = slots.div_ceil(ITEM_SLOTS_PER_BUCKET).max(1);
        let index_bytes = bucket_count * BUCKET_BYTES;
        let fixed = index_bytes + crate::cache::FIXED_BOOKKEEPING_BYTES;
        let per_segment = self.segment_size_bytes + crate::cache::BOOKKEEPING_BYTES_PER_SEGMENT;
        let segment_count = self.heap_size_bytes.saturating_sub(fixed) / per_segment;
        if segment_count < MIN_SEGMENTS {
            return Err(ConfigError::HeapTooSmall {
                heap_bytes: self.heap_size_bytes,
                min_bytes: fixed + MIN_SEGMENTS * per_segment,
            });
        }
        if segment_count > MAX_SEGMENTS || bucket_count >= u32::MAX as usize {
            return Err(ConfigError::HeapTooLarge {
                heap_bytes: self.heap_size_bytes,
                max_bytes: MAX_SEGMENTS * self.segment_size_bytes,
            });
        }
        Ok(Layout {
            segment_count,
            bucket_count,
            index_bytes,
            bookkeeping_bytes: crate::cache::FIXED_BOOKKEEPING_BYTES
                + segment_count * crate::cache::BOOKKEEPING_BYTES_PER_SEGMENT,
        })
    }

    fn check_sizes(&self) -> Result<(), ConfigError> {
        let segment = self.segment_size_bytes;
        if !(MIN_SEGMENT_SIZE_BYTES..=MAX_SEGMENT_SIZE_BYTES).contains(&segment) {
            return Err(ConfigError::SegmentSize {
                bytes: segment,
                min: MIN_SEGMENT_SIZE_BYTES,
                max: MAX_SEGMENT_SIZE_BYTES,
            });
        }
        // A largest item, even after a move adds an explicit CAS, fits in one segment.
        let limit = self.item_size_limit_bytes;
        let smallest_item = crate::item::MAX_HEADER_BYTES + 1;
        if limit < smallest_item || limit > segment {
            return Err(ConfigError::ItemSizeLimit {
                bytes: limit,
                min: smallest_item,
                max: segment,
            });
        }
        let expected = self.expected_item_size_bytes;
        if expected == 0 || expected > limit {
            return Err(ConfigError::ExpectedItemSize { bytes: expected });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_fits_the_budget_and_sizes_the_index_per_item() {
        for heap in [1 << 20, 64 << 20, 1 << 30] {
            let config = Config {
                heap_size_bytes: heap,
                segment_size_bytes: 64 << 10,
                item_size_limit_bytes: 64 << 10,
                expected_item_size_bytes: 48,
                ..Config::default()
            };
            let layout = config.layout().expect("valid");
            let total = layout.segment_count * config.segment_size_bytes
                + layout.index_bytes
                + layout.bookkeeping_bytes;
            assert!(total <= heap, "{total} over {heap}");
            assert!(
                heap - total
                    < config.segment_size_bytes + crate::cache::BOOKKEEPING_BYTES_PER_SEGMENT
            );
            if heap >= 64 << 20 {
                // Fixed bookkeeping (TTL buckets, histograms) skews small heaps.
                let items = layout.segment_count * config.segment_size_bytes / 51;
                let slots = layout.bucket_count * ITEM_SLOTS_PER_BUCKET;
                assert!(
                    slots >= items && slots * 10 <= items * 12,
                    "{slots} slots for {items} items"
                );
            }
        }
    }

    #[test]
    fn bad_sizes_are_refused_with_the_limit() {
        let small = Config {
            heap_size_bytes: 1 << 20,
            ..Config::default()
        };
        assert!(matches!(
            small.layout(),
            Err(ConfigError::HeapTooSmall { .. })
        ));
        let limit_over_segment = Config {
            item_size_limit_bytes: 2 << 20,
            ..Config::default()
        };
        assert!(matches!(
            limit_over_segment.layout(),
            Err(ConfigError::ItemSizeLimit { max, .. }) if max == 1 << 20
        ));
        let odd_segment = Config {
            segment_size_bytes: 100,
            ..Config::default()
        };
        assert!(matches!(
            odd_segment.layout(),
            Err(ConfigError::SegmentSize { .. })
        ));
    }
}
