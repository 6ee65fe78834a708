//! The engine's public face: validates keys, picks the shard, and retries a write
//! after freeing memory in another shard when its own has nothing left to evict.

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, EvictionPolicy, Layout};
use crate::error::{CacheError, ConfigError};
use crate::meta::{ItemMeta, MetaBitsUpdate, Progress, StepBudget, StoreMode, StoreOptions};
use crate::segment::Pool;
use crate::shard::{Ctx, Shard};
use crate::stats::Stats;
use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How many times a write frees memory in other shards before giving up.
const MAX_WRITE_RETRIES: usize = 8;
/// Segments a shard may own beyond an even share. At least 1, so the shards together
/// can own every segment when the count does not divide evenly.
const OWNED_SEGMENTS_OVER_SHARE: usize = 1;

/// A shard lock on its own cache lines, so neighbours do not false-share, and the
/// age of the shard's oldest segment, published for choosing where to evict.
#[repr(align(128))]
struct Padded(Mutex<Shard>, AtomicU64);

/// A segment-structured cache with memcached semantics, shared by many threads.
pub struct Cache {
    shards: Box<[Padded]>,
    shard_shift: u32,
    pool: Pool,
    hasher: ahash::RandomState,
    clock: Arc<dyn Clock>,
    config: Config,
    layout: Layout,
    /// Pending flush: `(sequence << 32) | flush_at_unix_secs`.
    flush: AtomicU64,
    /// Serialises flush_all calls.
    flush_lock: Mutex<()>,
    /// Free segments the maintenance step keeps ready.
    free_watermark_segments: usize,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("config", &self.config)
            .field("layout", &self.layout)
            .finish()
    }
}

impl Cache {
    /// An engine on the system clock.
    pub fn new(config: Config) -> Result<Cache, ConfigError> {
        Cache::with_clock(config, Arc::new(SystemClock))
    }

    /// An engine on the given clock; validates `config` and reserves all memory now.
    pub fn with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Cache, ConfigError> {
        let layout = config.layout()?;
        let pool = Pool::new(layout.segment_count, config.segment_size_bytes);
        let shards = (0..layout.shard_count)
            .map(|_| Padded(Mutex::new(Shard::new(&layout)), AtomicU64::new(u64::MAX)))
            .collect::<Vec<_>>()
            .into_boxed_slice();
        let shard_bits = layout.shard_count.trailing_zeros();
        Ok(Cache {
            shards,
            shard_shift: if shard_bits == 0 { 64 } else { 64 - shard_bits },
            pool,
            hasher: ahash::RandomState::new(),
            clock,
            free_watermark_segments: (layout.segment_count / 64).max(1),
            config,
            layout,
            flush: AtomicU64::new(0),
            flush_lock: Mutex::new(()),
        })
    }

    /// The configuration this engine was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Calls `read` with the value and metadata of a live item, under the shard lock:
    /// keep `read` short (copy or encode, nothing that blocks).
    pub fn get_with<R>(
        &self,
        key: &[u8],
        read: impl FnOnce(&[u8], &ItemMeta) -> R,
    ) -> Result<Option<R>, CacheError> {
        check_key(key)?;
        let (hash, mut shard, ctx) = self.locate(key);
        Ok(shard.get(&ctx, hash, key, read))
    }

    /// Appends the value of a live item to `out` and returns its metadata.
    pub fn get_into(&self, key: &[u8], out: &mut Vec<u8>) -> Result<Option<ItemMeta>, CacheError> {
        self.get_with(key, |value, meta| {
            out.extend_from_slice(value);
            *meta
        })
    }

    /// Sets a live item's expiry (memcached exptime rules), then appends its value to `out`
    /// (memcached `gat`). An exptime in the past deletes the item after this read.
    pub fn get_and_touch_into(
        &self,
        key: &[u8],
        exptime: i64,
        out: &mut Vec<u8>,
    ) -> Result<Option<ItemMeta>, CacheError> {
        check_key(key)?;
        self.with_retry(key, |shard, ctx, hash| {
            let found = shard.get(ctx, hash, key, |value, meta| {
                out.extend_from_slice(value);
                *meta
            });
            let Some(mut meta) = found else {
                return Ok(None);
            };
            match shard.touch(ctx, hash, key, exptime) {
                Ok(expiry) => meta.expiry_unix_secs = expiry,
                Err(error) => {
                    out.truncate(out.len() - meta.value_len);
                    return Err(error);
                }
            }
            Ok(Some(meta))
        })
    }

    /// Stores `value` under `key` as `mode` says; returns the new item's CAS.
    pub fn store(
        &self,
        mode: StoreMode,
        key: &[u8],
        value: &[u8],
        options: StoreOptions,
    ) -> Result<u64, CacheError> {
        check_key(key)?;
        self.with_retry(key, |shard, ctx, hash| {
            shard.store(ctx, hash, mode, key, value, &options)
        })
    }

    /// Removes an item; with `expected_cas`, only if its CAS still matches
    /// (else [`CacheError::Exists`]).
    pub fn delete(&self, key: &[u8], expected_cas: Option<u64>) -> Result<(), CacheError> {
        check_key(key)?;
        let (hash, mut shard, ctx) = self.locate(key);
        shard.delete(&ctx, hash, key, expected_cas)
    }

    /// Adds `delta` to a decimal u64 value, wrapping at 2^64; returns the new value.
    pub fn incr(&self, key: &[u8], delta: u64) -> Result<u64, CacheError> {
        check_key(key)?;
        self.with_retry(key, |shard, ctx, hash| {
            shard.arithmetic(ctx, hash, key, delta, false)
        })
    }

    /// Subtracts `delta` from a decimal u64 value, stopping at 0; returns the new value.
    pub fn decr(&self, key: &[u8], delta: u64) -> Result<u64, CacheError> {
        check_key(key)?;
        self.with_retry(key, |shard, ctx, hash| {
            shard.arithmetic(ctx, hash, key, delta, true)
        })
    }

    /// Gives a live item a new expiry (memcached exptime rules); keeps its CAS.
    pub fn touch(&self, key: &[u8], exptime: i64) -> Result<(), CacheError> {
        check_key(key)?;
        self.with_retry(key, |shard, ctx, hash| {
            shard.touch(ctx, hash, key, exptime).map(|_| ())
        })
    }

    /// Sets or clears a live item's meta bits in place (its CAS does not change).
    pub fn update_meta_bits(
        &self,
        key: &[u8],
        update: MetaBitsUpdate,
    ) -> Result<ItemMeta, CacheError> {
        check_key(key)?;
        let (hash, mut shard, ctx) = self.locate(key);
        shard.update_meta_bits(&ctx, hash, key, update)
    }

    /// Invalidates every item stored before `delay_secs` from now (0 = now).
    pub fn flush_all(&self, delay_secs: u32) {
        let _one_flush_at_a_time = self.flush_lock.lock();
        let now = self.clock.now_unix_secs();
        // A flush that is due must reach every shard before a new one replaces it.
        self.apply_due_flush(now);
        let at = now.saturating_add(delay_secs);
        let sequence = (self.flush.load(Ordering::SeqCst) >> 32) + 1;
        self.flush
            .store((sequence << 32) | at as u64, Ordering::SeqCst);
        if delay_secs == 0 {
            self.apply_due_flush(now);
        }
    }

    fn apply_due_flush(&self, now_unix_secs: u32) {
        let ctx = self.ctx(now_unix_secs);
        for shard in self.shards.iter() {
            shard.0.lock().check_flush(&ctx);
        }
    }

    /// Live items in the engine.
    pub fn item_count(&self) -> u64 {
        let ctx = self.ctx(self.clock.now_unix_secs());
        self.shards
            .iter()
            .map(|shard| {
                let mut shard = shard.0.lock();
                shard.check_flush(&ctx);
                shard.live_items()
            })
            .sum()
    }

    /// A snapshot of all counters (each shard is locked briefly in turn).
    pub fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        let ctx = self.ctx(self.clock.now_unix_secs());
        for shard in self.shards.iter() {
            let mut shard = shard.0.lock();
            shard.check_flush(&ctx);
            shard.add_stats(&mut stats);
        }
        let segment_bytes = self.config.segment_size_bytes as u64;
        stats.segments_free = self.pool.free_count() as u64;
        stats.bytes_free += stats.segments_free * segment_bytes;
        stats.segment_size_bytes = segment_bytes;
        stats.index_bytes = self.layout.index_bytes as u64;
        stats.limit_bytes = self.config.heap_size_bytes as u64;
        stats.reserved_bytes = self.reserved_bytes() as u64;
        stats
    }

    /// Bytes reserved at start for segments, index and bookkeeping.
    pub fn reserved_bytes(&self) -> usize {
        self.layout.segment_count * self.config.segment_size_bytes
            + self.layout.index_bytes
            + self.layout.bookkeeping_bytes
    }

    /// One bounded slice of background work: reclaim segments whose items all expired
    /// (or were flushed), then evict ahead until the free pool is above its watermark.
    pub fn maintenance_step(&self, budget: StepBudget) -> Progress {
        let now = self.clock.now_unix_secs();
        let mut progress = Progress::default();
        let mut left = budget.max_segments;
        for shard in self.shards.iter() {
            let ctx = self.ctx(now);
            let mut guard = shard.0.lock();
            guard.check_flush(&ctx);
            let freed = guard.reclaim_expired(&ctx, left);
            shard.1.store(guard.oldest_sequence(), Ordering::Relaxed);
            progress.segments_expired += freed;
            left -= freed;
            if left == 0 {
                progress.more_work = true;
                return progress;
            }
        }
        if self.config.eviction == EvictionPolicy::None {
            return progress;
        }
        while left > 0 && self.pool.free_count() < self.free_watermark_segments {
            if !self.evict_oldest_shard(now, false) {
                break;
            }
            progress.segments_evicted += 1;
            left -= 1;
        }
        progress.more_work = left == 0 && self.pool.free_count() < self.free_watermark_segments;
        progress
    }

    /// The context of one operation; `now_unix_secs` 0 reads the clock on first need.
    fn ctx(&self, now_unix_secs: u32) -> Ctx<'_> {
        Ctx {
            pool: &self.pool,
            hasher: &self.hasher,
            clock: &*self.clock,
            now_unix_secs: std::cell::Cell::new(now_unix_secs),
            item_size_limit_bytes: self.config.item_size_limit_bytes,
            cas_enabled: self.config.cas_enabled,
            eviction: self.config.eviction,
            fair_share_segments: self.layout.segment_count / self.layout.shard_count,
            max_owned_segments: self.layout.segment_count / self.layout.shard_count
                + OWNED_SEGMENTS_OVER_SHARE,
            flush: self.flush.load(Ordering::SeqCst),
        }
    }

    fn locate(&self, key: &[u8]) -> (u64, MutexGuard<'_, Shard>, Ctx<'_>) {
        let hash = self.hasher.hash_one(key);
        let mut shard = self.shards[self.shard_index(hash)].0.lock();
        let ctx = self.ctx(0);
        shard.check_flush(&ctx);
        (hash, shard, ctx)
    }

    fn shard_index(&self, hash: u64) -> usize {
        hash.checked_shr(self.shard_shift).unwrap_or(0) as usize
    }

    /// Runs a write; when its shard should not evict its own segments, frees one in
    /// the shard holding the oldest segment (one lock at a time, so no deadlock) and
    /// tries again.
    fn with_retry<T>(
        &self,
        key: &[u8],
        mut write: impl FnMut(&mut Shard, &Ctx<'_>, u64) -> Result<T, CacheError>,
    ) -> Result<T, CacheError> {
        let mut attempt = 0;
        loop {
            let result = {
                let (hash, mut shard, mut ctx) = self.locate(key);
                if attempt >= MAX_WRITE_RETRIES / 2 {
                    // Others keep taking what we free: stop deferring and evict our own.
                    ctx.fair_share_segments = 0;
                }
                let result = write(&mut shard, &ctx, hash);
                self.shards[self.shard_index(hash)]
                    .1
                    .store(shard.oldest_sequence(), Ordering::Relaxed);
                result
            };
            if !matches!(result, Err(CacheError::OutOfMemory)) || attempt == MAX_WRITE_RETRIES {
                return result;
            }
            attempt += 1;
            if !self.evict_oldest_shard(self.clock.now_unix_secs(), true) {
                return result;
            }
        }
    }

    /// Frees one segment in the shard that holds the oldest segment (expired ones
    /// first); false when no shard could free anything.
    fn evict_oldest_shard(&self, now_unix_secs: u32, inline: bool) -> bool {
        let oldest =
            (0..self.shards.len()).min_by_key(|&i| self.shards[i].1.load(Ordering::Relaxed));
        let Some(first) = oldest else { return false };
        let ctx = self.ctx(now_unix_secs);
        for step in 0..self.shards.len() {
            let index = (first + step) % self.shards.len();
            let mut shard = self.shards[index].0.lock();
            shard.check_flush(&ctx);
            let freed = shard.reclaim_expired(&ctx, 1) == 1
                || (self.config.eviction != EvictionPolicy::None && shard.evict_one(&ctx));
            self.shards[index]
                .1
                .store(shard.oldest_sequence(), Ordering::Relaxed);
            if freed {
                if inline {
                    shard.count_inline_eviction();
                }
                return true;
            }
        }
        false
    }
}

fn check_key(key: &[u8]) -> Result<(), CacheError> {
    if key.is_empty() {
        return Err(CacheError::KeyEmpty);
    }
    if key.len() > crate::MAX_KEY_LEN {
        return Err(CacheError::KeyTooLong { len: key.len() });
    }
    Ok(())
}

#[cfg(test)]
mod balance_tests;
