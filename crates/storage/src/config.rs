//! Engine configuration, its validation, and the memory layout derived from it.

use crate::error::ConfigError;
use crate::index::{Bucket, SLOTS_PER_BUCKET};
use crate::slot::{MAX_SEGMENTS, MAX_SEGMENT_SIZE_BYTES};

/// Longest key memcached accepts, in bytes.
pub const MAX_KEY_LEN: usize = 250;
/// Most shards an engine may be split into.
pub const MAX_SHARDS: usize = 256;
/// Smallest segment: a segment must hold a useful number of small items.
pub const MIN_SEGMENT_SIZE_BYTES: usize = 4096;
/// Segments each shard must be able to own so that eviction always has a victim.
const MIN_SEGMENTS_PER_SHARD: usize = 2;
/// Index slots provisioned per expected item: keeps chains short at full heap.
const INDEX_SLOTS_PER_ITEM_NUM: usize = 5;
const INDEX_SLOTS_PER_ITEM_DEN: usize = 4;
/// Overflow buckets as a fraction of primary buckets (1/OVERFLOW_DIVISOR).
const OVERFLOW_DIVISOR: usize = 4;

/// What to do when a write needs memory and no segment is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// Segcache's default: compact the oldest segments of a TTL bucket, keeping items read since written.
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
    /// Total bytes the engine may use: segments, index and bookkeeping (memcached `-m`).
    pub heap_size_bytes: usize,
    /// Size of one segment in bytes (default 1 MiB).
    pub segment_size_bytes: usize,
    /// Largest item (header + key + value) accepted, in bytes (memcached `-I`, default 1 MiB).
    pub item_size_limit_bytes: usize,
    /// Typical key + value size in bytes; sizes the index (default 64).
    pub expected_item_size_bytes: usize,
    /// What a write does when memory is full.
    pub eviction: EvictionPolicy,
    /// Whether items carry CAS values (memcached `-C` turns this off; then every CAS reads 0).
    pub cas_enabled: bool,
    /// Number of shards, a power of two; 0 picks one from the heap size and CPU count.
    pub shard_count: usize,
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
            shard_count: 0,
        }
    }
}

/// Sizes derived from a validated config; every byte is inside `heap_size_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub shard_count: usize,
    pub segment_count: usize,
    pub primary_buckets_per_shard: usize,
    pub overflow_buckets_per_shard: usize,
    pub index_bytes: usize,
    pub bookkeeping_bytes: usize,
}

impl Config {
    /// Checks every value and derives the memory layout.
    pub(crate) fn layout(&self) -> Result<Layout, ConfigError> {
        self.check_sizes()?;
        let shard_count = self.pick_shard_count()?;
        let item_bytes = self.expected_item_size_bytes + crate::item::MIN_HEADER_BYTES;
        let slot_bytes = 8 * INDEX_SLOTS_PER_ITEM_NUM / INDEX_SLOTS_PER_ITEM_DEN;
        let expected_items = self.heap_size_bytes / (item_bytes + slot_bytes);
        let slots = expected_items * INDEX_SLOTS_PER_ITEM_NUM / INDEX_SLOTS_PER_ITEM_DEN;
        let primary = (slots / SLOTS_PER_BUCKET / shard_count).max(1);
        let overflow = (primary / OVERFLOW_DIVISOR).max(1);
        let index_bytes = shard_count * (primary + overflow) * std::mem::size_of::<Bucket>();
        let per_segment_bookkeeping = crate::segment::BOOKKEEPING_BYTES_PER_SEGMENT;
        let min_segments = shard_count * MIN_SEGMENTS_PER_SHARD + 1;
        let fixed = index_bytes + shard_count * crate::shard::FIXED_BOOKKEEPING_BYTES;
        let per_segment = self.segment_size_bytes + per_segment_bookkeeping * shard_count;
        let segment_count = self.heap_size_bytes.saturating_sub(fixed) / per_segment;
        if segment_count < min_segments {
            let min_bytes = fixed + min_segments * per_segment;
            return Err(ConfigError::HeapTooSmall {
                heap_bytes: self.heap_size_bytes,
                min_bytes,
            });
        }
        if segment_count > MAX_SEGMENTS {
            let max_bytes = MAX_SEGMENTS * self.segment_size_bytes;
            return Err(ConfigError::HeapTooLarge {
                heap_bytes: self.heap_size_bytes,
                max_bytes,
            });
        }
        let bookkeeping_bytes =
            fixed - index_bytes + segment_count * per_segment_bookkeeping * shard_count;
        Ok(Layout {
            shard_count,
            segment_count,
            primary_buckets_per_shard: primary,
            overflow_buckets_per_shard: overflow,
            index_bytes,
            bookkeeping_bytes,
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
        // The limit covers the whole stored item (header + key + value), as memcached's -I.
        let max_item = segment;
        let limit = self.item_size_limit_bytes;
        if limit == 0 || limit > max_item {
            return Err(ConfigError::ItemSizeLimit {
                bytes: limit,
                max: max_item,
            });
        }
        let expected = self.expected_item_size_bytes;
        if expected == 0 || expected > limit {
            return Err(ConfigError::ExpectedItemSize { bytes: expected });
        }
        Ok(())
    }

    /// Explicit counts are checked; 0 picks 4 per CPU, capped so each shard owns
    /// at least 16 segments (fewer, fuller shards waste less in half-filled segments).
    fn pick_shard_count(&self) -> Result<usize, ConfigError> {
        let count = self.shard_count;
        if count != 0 {
            if !count.is_power_of_two() || count > MAX_SHARDS {
                return Err(ConfigError::ShardCount { count });
            }
            return Ok(count);
        }
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let by_cpu = (cpus * 4).next_power_of_two().min(MAX_SHARDS);
        let by_heap = (self.heap_size_bytes / self.segment_size_bytes / 16).max(1);
        let by_heap_pow2 = 1usize << (usize::BITS - 1 - by_heap.leading_zeros());
        Ok(by_cpu.min(by_heap_pow2))
    }
}
