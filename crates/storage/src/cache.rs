//! The engine: its parts, how a key is found, and what it reports.
//!
//! Reads take no lock (`read.rs`); every write is one call that decides and writes
//! under one short hold of the key's two index buckets (`mutate`, `ops.rs`);
//! background work frees memory ahead of need in small resumable steps
//! (`maintenance.rs`, `evict.rs`). The pieces: the heap of segments (`heap.rs`,
//! `segment.rs`), TTL buckets and their chains of segments (`ttl.rs`), the free pool
//! (`pool.rs`), the index (`index`) and flush_all (`flush.rs`).

use crate::clock::{self, Clock, SystemClock};
use crate::config::{Config, Layout};
use crate::error::{CacheError, ConfigError};
use crate::expiry::{self, Expiry};
use crate::flush::Flush;
use crate::heap::Heap;
use crate::index::{Index, Pair, SlotRef};
use crate::item::{self, Header, MAX_HEADER_BYTES};
use crate::lock_hold::{LockHoldSnapshot, LockHolds};
use crate::maintenance::Maintenance;
use crate::meta::ItemMeta;
use crate::pool::Pool;
use crate::segment::{SegmentMeta, State};
use crate::slot;
use crate::stats::{Counters, Stats};
use crate::sync::{AtomicU64, AtomicUsize, Mutex, Ordering};
use crate::ttl::TtlBuckets;
use std::cell::Cell;
use std::sync::Arc;

/// Bookkeeping bytes per segment: its metadata and its place in the free list.
pub(crate) const BOOKKEEPING_BYTES_PER_SEGMENT: usize =
    std::mem::size_of::<SegmentMeta>() + std::mem::size_of::<u32>();
/// Bookkeeping bytes that do not grow with the heap.
pub(crate) const FIXED_BOOKKEEPING_BYTES: usize = std::mem::size_of::<Cache>()
    + TtlBuckets::FOOTPRINT_BYTES
    + LockHolds::FOOTPRINT_BYTES
    + Counters::FOOTPRINT_BYTES
    + std::mem::size_of::<Maintenance>();

/// A segment-structured cache with memcached semantics, shared by many threads.
pub struct Cache {
    pub(crate) config: Config,
    pub(crate) layout: Layout,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) hasher: ahash::RandomState,
    pub(crate) heap: Heap,
    pub(crate) index: Index,
    pub(crate) segments: Box<[SegmentMeta]>,
    pub(crate) ttl: TtlBuckets,
    pub(crate) pool: Pool,
    /// The next CAS to hand out: segments take a range of `segment_size` at once,
    /// explicit CAS values one at a time, so every CAS is unique and later ones larger.
    pub(crate) next_cas: AtomicU64,
    /// Age stamps of segments taken from the pool, and of flushes.
    pub(crate) next_sequence: AtomicU64,
    pub(crate) flush: Flush,
    pub(crate) counters: Counters,
    pub(crate) maintenance: Mutex<Maintenance>,
    /// Free segments the background keeps ready (from the recent write rate).
    pub(crate) reserve_target: AtomicUsize,
    /// Told of evicted items (`watch evictions`), once a server sets it.
    pub(crate) eviction_listener:
        std::sync::OnceLock<std::sync::Arc<dyn crate::eviction_listener::EvictionListener>>,
    /// The file the index and segments are mapped from, for a warm restart.
    #[cfg(not(loom))]
    pub(crate) heap_file: Option<Mutex<crate::heap_file::HeapFile>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("config", &self.config)
            .field("layout", &self.layout)
            .finish()
    }
}

/// The memory an engine is built over: where its bytes live and how keys hash.
pub(crate) struct Parts {
    pub heap: Heap,
    pub index: Index,
    pub hasher: ahash::RandomState,
}

/// Whether a found item may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    Live,
    Expired,
    Flushed,
}

/// An item the index points to under a key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found {
    pub at: SlotRef,
    pub slot: u64,
    pub segment: u32,
    pub offset: usize,
    pub header: Header,
    pub cas: u64,
    pub liveness: Liveness,
    /// Last access (unix seconds, coarse: see `item`).
    pub last_access_unix_secs: u32,
}

impl Found {
    /// The item's metadata as callers see it.
    pub(crate) fn meta(&self) -> ItemMeta {
        ItemMeta {
            client_flags: self.header.client_flags,
            cas: self.cas,
            expiry: Expiry::from_stored(self.header.expiry_unix_secs),
            value_len: self.header.value_len,
            hit_before: slot::freq(self.slot) > 0,
            stale: self.header.bits & item::BIT_STALE != 0,
            win_token_sent: self.header.bits & item::BIT_WIN != 0,
            last_access_unix_secs: self.last_access_unix_secs,
            key_binary: self.header.bits & item::BIT_KEY_BINARY != 0,
        }
    }

    pub(crate) fn is_live(&self) -> bool {
        self.liveness == Liveness::Live
    }
}

/// The clock read at most once per operation, on first need: most reads never need it.
pub(crate) struct Now<'a> {
    clock: &'a dyn Clock,
    unix_secs: Cell<Option<u32>>,
}

impl Now<'_> {
    pub(crate) fn get(&self) -> u32 {
        match self.unix_secs.get() {
            Some(now) => now,
            None => {
                let now = clock::unix_secs(self.clock);
                self.unix_secs.set(Some(now));
                now
            }
        }
    }
}

impl Cache {
    /// An engine on the system clock.
    pub fn new(config: Config) -> Result<Cache, ConfigError> {
        Cache::with_clock(config, Arc::new(SystemClock::new()))
    }

    /// An engine on the given clock; validates `config` and reserves all memory now.
    pub fn with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Cache, ConfigError> {
        let layout = config.layout()?;
        let heap = Heap::new(layout.segment_count * config.segment_size_bytes);
        let index = Index::new(layout.bucket_count);
        Ok(Cache::assemble(
            config,
            layout,
            clock,
            Parts {
                heap,
                index,
                hasher: ahash::RandomState::new(),
            },
        ))
    }

    /// An empty engine over `parts`: every segment free, as the index (if it was
    /// used before) must then be empty too, or a restore must follow.
    pub(crate) fn assemble(
        config: Config,
        layout: Layout,
        clock: Arc<dyn Clock>,
        parts: Parts,
    ) -> Cache {
        let Parts {
            heap,
            index,
            hasher,
        } = parts;
        let cache = Cache {
            heap,
            index,
            segments: (0..layout.segment_count)
                .map(|_| SegmentMeta::new())
                .collect(),
            ttl: TtlBuckets::new(),
            pool: Pool::new(layout.segment_count),
            next_cas: AtomicU64::new(1),
            next_sequence: AtomicU64::new(1),
            flush: Flush::new(),
            counters: Counters::new(),
            maintenance: Mutex::new(Maintenance::new()),
            reserve_target: AtomicUsize::new(0),
            eviction_listener: std::sync::OnceLock::new(),
            hasher,
            clock,
            config,
            layout,
            #[cfg(not(loom))]
            heap_file: None,
        };
        cache
            .reserve_target
            .store(cache.clamp_reserve(0), Ordering::Relaxed);
        cache
    }

    /// The configuration this engine was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The clock every expiry decision reads; protocols read "now" here too.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Whole unix seconds on the engine's clock.
    pub fn now_unix_secs(&self) -> u32 {
        clock::unix_secs(&*self.clock)
    }

    pub(crate) fn now(&self) -> Now<'_> {
        Now {
            clock: &*self.clock,
            unix_secs: Cell::new(None),
        }
    }

    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    pub(crate) fn segment(&self, id: u32) -> &SegmentMeta {
        &self.segments[id as usize]
    }

    /// Heap address of byte `offset` of segment `id`.
    pub(crate) fn addr(&self, id: u32, offset: usize) -> usize {
        id as usize * self.config.segment_size_bytes + offset
    }

    /// The header of the item at `offset` in segment `id`, if the bytes there are one
    /// (always, unless a lock-free reader raced a writer reusing them).
    pub(crate) fn read_header(&self, id: u32, offset: usize) -> Option<Header> {
        let room = self.config.segment_size_bytes.checked_sub(offset)?;
        let len = MAX_HEADER_BYTES.min(room);
        let mut bytes = [0u8; MAX_HEADER_BYTES];
        self.heap.read(self.addr(id, offset), &mut bytes[..len]);
        item::decode(&bytes[..len], room)
    }

    /// What the slot `value` at `at` points to, if its key is `key` (a tag match may
    /// be another key). `Err` when the bytes are not an item: only a racing reader.
    pub(crate) fn inspect(
        &self,
        at: SlotRef,
        value: u64,
        key: &[u8],
        now: &Now<'_>,
    ) -> Result<Option<Found>, ()> {
        let segment = slot::segment_id(value);
        let offset = slot::offset(value) as usize;
        let header = self.read_header(segment, offset).ok_or(())?;
        let key_at = self.addr(segment, offset + header.header_len);
        if header.key_len != key.len() || !self.heap.equals(key_at, key) {
            return Ok(None);
        }
        Ok(Some(self.found(at, value, header, now)))
    }

    /// A found item with its CAS and liveness worked out.
    pub(crate) fn found(&self, at: SlotRef, value: u64, header: Header, now: &Now<'_>) -> Found {
        let segment = slot::segment_id(value);
        let offset = slot::offset(value) as usize;
        let meta = self.segment(segment);
        let cas = if !self.config.cas_enabled {
            0
        } else {
            header
                .explicit_cas
                .unwrap_or(meta.cas_base.load(Ordering::Relaxed) + offset as u64)
        };
        let last_access_unix_secs = meta
            .time_base_unix_secs
            .load(Ordering::Relaxed)
            .saturating_add(u32::from(header.access_secs));
        let liveness = if self.flush.kills(meta.epoch.load(Ordering::Relaxed))
            || self.flush.kills_all_at(|| now.get())
        {
            Liveness::Flushed
        } else if header.expiry_unix_secs != 0
            && expiry::has_expired(header.expiry_unix_secs, now.get())
        {
            Liveness::Expired
        } else {
            Liveness::Live
        };
        Found {
            at,
            slot: value,
            segment,
            offset,
            header,
            cas,
            liveness,
            last_access_unix_secs,
        }
    }

    /// An access time as stored in segment `id`'s items.
    pub(crate) fn access_secs(&self, id: u32, unix_secs: u32) -> u16 {
        let base = self.segment(id).time_base_unix_secs.load(Ordering::Relaxed);
        u16::try_from(unix_secs.saturating_sub(base)).unwrap_or(u16::MAX)
    }

    /// Looks for `key` in `bucket` without a lock. `Err` when it met bytes that are not
    /// an item, which only a reader racing a writer can.
    pub(crate) fn find_in_bucket(
        &self,
        bucket: u32,
        tag: u16,
        key: &[u8],
        now: &Now<'_>,
    ) -> Result<Option<Found>, ()> {
        let mut result = Ok(None);
        self.index.scan(bucket, |at, value| {
            if slot::tag(value) != tag {
                return false;
            }
            match self.inspect(at, value, key, now) {
                Ok(None) => false,
                other => {
                    result = other;
                    true
                }
            }
        });
        result
    }

    /// Looks for `key` in both buckets of `pair`: meant for a caller that holds them
    /// (or has noted their versions and checks them after).
    pub(crate) fn find_in_pair(
        &self,
        pair: Pair,
        tag: u16,
        key: &[u8],
        now: &Now<'_>,
    ) -> Result<Option<Found>, ()> {
        match self.find_in_bucket(pair.first, tag, key, now)? {
            Some(found) => Ok(Some(found)),
            None if pair.second == pair.first => Ok(None),
            None => self.find_in_bucket(pair.second, tag, key, now),
        }
    }

    /// Live items (memcached `curr_items`), expired ones not yet reclaimed included.
    pub fn item_count(&self) -> u64 {
        self.apply_due_flush();
        self.segments
            .iter()
            .filter(|meta| {
                meta.state() != State::Free && !self.flush.kills(meta.epoch.load(Ordering::Relaxed))
            })
            .map(|meta| meta.live().0)
            .sum()
    }

    /// A snapshot of all counters and of memory use.
    pub fn stats(&self) -> Stats {
        self.apply_due_flush();
        let mut stats = Stats::default();
        self.counters.fill(&mut stats);
        let segment_bytes = self.config.segment_size_bytes as u64;
        let now_unix_secs = self.now_unix_secs();
        for meta in self.segments.iter() {
            let state = meta.state();
            if state == State::Free {
                continue;
            }
            stats.segments_used += 1;
            let flushed = self.flush.kills(meta.epoch.load(Ordering::Relaxed));
            if !flushed {
                let (items, bytes) = meta.live();
                stats.items += items;
                stats.bytes_used += bytes;
            }
            if state != State::InChain {
                stats.segments_emptying += 1;
            } else if flushed || segment_expired(meta, now_unix_secs) {
                stats.segments_expired += 1;
            }
            stats.bytes_free += segment_bytes.saturating_sub(meta.reserved_bytes() as u64);
        }
        stats.segments_free = self.pool.free_count() as u64;
        stats.bytes_free += stats.segments_free * segment_bytes;
        stats.segments_reserve_target = self.reserve_target.load(Ordering::Relaxed) as u64;
        stats.segment_size_bytes = segment_bytes;
        stats.index_bytes = self.layout.index_bytes as u64;
        stats.index_slots = (self.layout.bucket_count * crate::index::ITEM_SLOTS_PER_BUCKET) as u64;
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

    /// How long index buckets have been held by writers and background jobs (every
    /// hold is counted). Reads hold nothing.
    pub fn lock_holds(&self) -> LockHoldSnapshot {
        self.index.holds().snapshot()
    }

    /// Starts the lock-hold histogram over (memcached's `stats reset`).
    pub fn reset_lock_holds(&self) {
        self.index.holds().reset();
    }
}

/// Whether every item written to `meta` has expired by `now_unix_secs` (the test
/// the expiry job uses; a segment of items without expiry never expires).
fn segment_expired(meta: &SegmentMeta, now_unix_secs: u32) -> bool {
    let latest = meta.max_expiry_unix_secs.load(Ordering::Relaxed);
    latest != 0 && latest <= now_unix_secs
}

/// Refuses keys memcached refuses.
pub(crate) fn check_key(key: &[u8]) -> Result<(), CacheError> {
    if key.is_empty() {
        return Err(CacheError::KeyEmpty);
    }
    if key.len() > crate::MAX_KEY_LEN {
        return Err(CacheError::KeyTooLong { len: key.len() });
    }
    Ok(())
}
