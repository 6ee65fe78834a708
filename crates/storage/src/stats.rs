//! Counters kept per shard (under the shard's lock) and the summed snapshot.

/// Counters one shard bumps under its own lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ShardCounters {
    pub get_hits: u64,
    pub get_misses: u64,
    pub sets: u64,
    pub evicted_items: u64,
    pub evicted_segments: u64,
    pub inline_evictions: u64,
    pub merged_segments: u64,
    pub index_evictions: u64,
    pub expired_items: u64,
    pub expired_segments: u64,
}

/// A snapshot of the engine's counters and memory use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Reads that found a live item.
    pub get_hits: u64,
    /// Reads that found nothing (or an expired item).
    pub get_misses: u64,
    /// Items written by stores, incr/decr and moves on touch.
    pub sets: u64,
    /// Live items dropped to make room (segment eviction, merge, index chain full).
    pub evicted_items: u64,
    /// Segments evicted (merged segments included).
    pub evicted_segments: u64,
    /// Segment evictions a write had to do itself because no segment was free.
    pub inline_evictions: u64,
    /// Segments compacted by merge eviction.
    pub merged_segments: u64,
    /// Items dropped because their index chain was full.
    pub index_evictions: u64,
    /// Items found expired (on read or when their segment was reclaimed).
    pub expired_items: u64,
    /// Segments reclaimed because all their items had expired or been flushed.
    pub expired_segments: u64,
    /// Live items (memcached `curr_items`).
    pub items: u64,
    /// Bytes of live items, headers included.
    pub bytes_used: u64,
    /// Bytes in free segments plus unwritten space in owned segments.
    pub bytes_free: u64,
    /// Segments in the free pool.
    pub segments_free: u64,
    /// Segments owned by shards (holding items or being filled).
    pub segments_used: u64,
    /// Owned segments invalidated by flush_all and awaiting reclaim.
    pub segments_flushed: u64,
    /// Size of each segment in bytes.
    pub segment_size_bytes: u64,
    /// Bytes of the hash index.
    pub index_bytes: u64,
    /// The configured budget (memcached `limit_maxbytes`).
    pub limit_bytes: u64,
    /// Bytes actually reserved: segments + index + bookkeeping (always <= limit_bytes).
    pub reserved_bytes: u64,
}

impl ShardCounters {
    pub fn add_to(&self, stats: &mut Stats) {
        stats.get_hits += self.get_hits;
        stats.get_misses += self.get_misses;
        stats.sets += self.sets;
        stats.evicted_items += self.evicted_items;
        stats.evicted_segments += self.evicted_segments;
        stats.inline_evictions += self.inline_evictions;
        stats.merged_segments += self.merged_segments;
        stats.index_evictions += self.index_evictions;
        stats.expired_items += self.expired_items;
        stats.expired_segments += self.expired_segments;
    }
}
