//! One shard: its index, the segments it owns, its active segment per TTL bucket.
//! Everything here runs under the shard's lock and does bounded, allocation-free work.

use crate::config::{EvictionPolicy, Layout};
use crate::expiry::{self, TTL_BUCKET_COUNT};
use crate::index::{Index, SlotRef};
use crate::item::{self, Item};
use crate::meta::ItemMeta;
use crate::segment::{Pool, Segment};
use crate::slot;
use crate::stats::{ShardCounters, Stats};
use rand::rngs::SmallRng;
use rand::SeedableRng;

/// Bytes of per-shard bookkeeping outside the index and segment table.
pub const FIXED_BOOKKEEPING_BYTES: usize =
    TTL_BUCKET_COUNT * std::mem::size_of::<u32>() + std::mem::size_of::<Shard>();
/// Marks "no active segment" in a TTL bucket.
pub(crate) const NO_SEGMENT: u32 = u32::MAX;

/// What every shard operation needs from the engine, gathered once per call.
pub(crate) struct Ctx<'a> {
    pub pool: &'a Pool,
    pub hasher: &'a ahash::RandomState,
    pub clock: &'a dyn crate::Clock,
    /// The clock read once, on first need (0 = not yet): most gets never need it.
    pub now_unix_secs: std::cell::Cell<u32>,
    pub item_size_limit_bytes: usize,
    pub cas_enabled: bool,
    pub eviction: EvictionPolicy,
    /// Segments per shard if all were spread evenly: a shard below it takes memory
    /// from others instead of evicting its own.
    pub fair_share_segments: usize,
    /// Segments past which a shard whose index is nearly full evicts its own instead
    /// of taking from the pool (its index is sized for an even share).
    pub max_owned_segments: usize,
    /// The engine's flush word, `(sequence << 32) | flush_at_unix_secs`.
    pub flush: u64,
}

impl Ctx<'_> {
    /// The current time, read from the clock at most once per operation.
    pub fn now(&self) -> u32 {
        let mut now = self.now_unix_secs.get();
        if now == 0 {
            now = self.clock.now_unix_secs().max(1);
            self.now_unix_secs.set(now);
        }
        now
    }

    /// Whether a stored expiry (0 = never) has passed; reads the clock only if needed.
    pub fn has_expired(&self, expiry_unix_secs: u32) -> bool {
        expiry_unix_secs != 0 && expiry::has_expired(expiry_unix_secs, self.now())
    }
}

/// A shard of the engine.
pub(crate) struct Shard {
    pub(crate) index: Index,
    /// Owned segments by global id; `None` for segments owned elsewhere.
    pub(crate) segments: Vec<Option<Segment>>,
    /// Ids of owned segments, oldest first.
    pub(crate) owned: Vec<u32>,
    /// The segment being appended to, per TTL bucket.
    pub(crate) active: Box<[u32]>,
    pub(crate) rng: SmallRng,
    flush_seen: u64,
    pub(crate) live_items: u64,
    pub(crate) live_bytes: u64,
    pub(crate) counters: ShardCounters,
}

/// A live item found by key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found {
    pub hash: u64,
    pub at: SlotRef,
    pub slot: u64,
    pub segment_id: u32,
    pub offset: usize,
    pub item: Item,
}

impl Found {
    /// Where the value starts in its segment.
    pub fn value_start(&self) -> usize {
        self.offset + self.item.value_start()
    }
}

impl Shard {
    pub fn new(layout: &Layout) -> Shard {
        Shard {
            index: Index::new(
                layout.primary_buckets_per_shard,
                layout.overflow_buckets_per_shard,
            ),
            segments: (0..layout.segment_count).map(|_| None).collect(),
            owned: Vec::with_capacity(layout.segment_count),
            active: vec![NO_SEGMENT; TTL_BUCKET_COUNT].into_boxed_slice(),
            rng: SmallRng::from_entropy(),
            flush_seen: 0,
            live_items: 0,
            live_bytes: 0,
            counters: ShardCounters::default(),
        }
    }

    /// Age of the oldest owned segment (`u64::MAX` when none): the engine evicts
    /// from the shard holding the oldest, approximating one global order.
    pub fn oldest_sequence(&self) -> u64 {
        self.owned
            .first()
            .map_or(u64::MAX, |&id| self.segment(id).sequence)
    }

    pub fn count_inline_eviction(&mut self) {
        self.counters.inline_evictions += 1;
    }

    pub fn live_items(&self) -> u64 {
        self.live_items
    }

    pub(crate) fn segment(&self, id: u32) -> &Segment {
        self.segments[id as usize]
            .as_ref()
            .expect("segment owned by this shard")
    }

    pub(crate) fn segment_mut(&mut self, id: u32) -> &mut Segment {
        self.segments[id as usize]
            .as_mut()
            .expect("segment owned by this shard")
    }

    /// Applies a flush_all whose time has come, before anything else touches the shard,
    /// so no item written at or after the flush time is lost.
    pub fn check_flush(&mut self, ctx: &Ctx<'_>) {
        if ctx.flush == self.flush_seen || ctx.now() < ctx.flush as u32 {
            return;
        }
        self.flush_seen = ctx.flush;
        for &id in &self.owned {
            let segment = self.segments[id as usize].as_mut().expect("owned");
            segment.flushed = true;
            self.live_items -= segment.live_items as u64;
            self.live_bytes -= segment.live_bytes as u64;
            segment.live_items = 0;
            segment.live_bytes = 0;
        }
        self.active.fill(NO_SEGMENT);
    }

    /// The live item stored under `key`; drops what it finds expired or flushed.
    pub fn lookup(&mut self, ctx: &Ctx<'_>, hash: u64, key: &[u8]) -> Option<Found> {
        let segments = &self.segments;
        let at = self.index.find(hash, |value| {
            let Some(segment) = segments[slot::segment_id(value) as usize].as_ref() else {
                return false;
            };
            let data = &segment.data[slot::offset(value) as usize..];
            let item = item::read(data);
            &data[item.key_start..item.value_start()] == key
        })?;
        let value = self.index.get(at);
        let segment_id = slot::segment_id(value);
        let offset = slot::offset(value) as usize;
        let segment = self.segment(segment_id);
        let item = item::read(&segment.data[offset..]);
        if segment.flushed {
            self.index.remove(hash, at);
            return None;
        }
        let found = Found {
            hash,
            at,
            slot: value,
            segment_id,
            offset,
            item,
        };
        if ctx.has_expired(item.expiry_unix_secs) {
            self.drop_item(&found);
            self.counters.expired_items += 1;
            return None;
        }
        Some(found)
    }

    /// Unlinks a found item and takes it out of the live counts.
    pub(crate) fn drop_item(&mut self, found: &Found) {
        self.index.remove(found.hash, found.at);
        self.forget_item(found);
    }

    /// Takes a found item out of the live counts; its slot is about to be reused.
    pub(crate) fn forget_item(&mut self, found: &Found) {
        let len = found.item.total_len();
        let segment = self.segment_mut(found.segment_id);
        if !segment.flushed {
            segment.live_items -= 1;
            segment.live_bytes -= len;
            self.live_items -= 1;
            self.live_bytes -= len as u64;
        }
    }

    /// The item's CAS: explicit if stored, else derived from where it was written.
    pub(crate) fn cas_of(&self, ctx: &Ctx<'_>, found: &Found) -> u64 {
        if !ctx.cas_enabled {
            return 0;
        }
        let base = self.segment(found.segment_id).cas_base;
        found
            .item
            .explicit_cas
            .unwrap_or(base + found.offset as u64)
    }

    pub(crate) fn meta_of(&self, ctx: &Ctx<'_>, found: &Found) -> ItemMeta {
        ItemMeta {
            client_flags: found.item.client_flags,
            cas: self.cas_of(ctx, found),
            expiry_unix_secs: found.item.expiry_unix_secs,
            value_len: found.item.value_len,
            hit_before: slot::freq(found.slot) > 0,
            stale: found.item.bits & item::BIT_STALE != 0,
            win_token_issued: found.item.bits & item::BIT_WIN != 0,
        }
    }

    /// Reads a live item, counting the hit and bumping its read counter.
    pub fn get<R>(
        &mut self,
        ctx: &Ctx<'_>,
        hash: u64,
        key: &[u8],
        read: impl FnOnce(&[u8], &ItemMeta) -> R,
    ) -> Option<R> {
        let Some(found) = self.lookup(ctx, hash, key) else {
            self.counters.get_misses += 1;
            return None;
        };
        self.counters.get_hits += 1;
        let freq = slot::freq(found.slot);
        if freq < slot::MAX_FREQ {
            self.index
                .set(found.at, slot::with_freq(found.slot, freq + 1));
        }
        let meta = self.meta_of(ctx, &found);
        let start = found.value_start();
        let value = &self.segment(found.segment_id).data[start..start + found.item.value_len];
        Some(read(value, &meta))
    }

    pub fn add_stats(&self, stats: &mut Stats) {
        self.counters.add_to(stats);
        stats.items += self.live_items;
        stats.bytes_used += self.live_bytes;
        for &id in &self.owned {
            let segment = self.segment(id);
            stats.segments_used += 1;
            stats.segments_flushed += segment.flushed as u64;
            stats.bytes_free += segment.free_bytes() as u64;
        }
    }
}

/// Two distinct owned segments, both mutable.
pub(crate) fn two_segments_mut(
    segments: &mut [Option<Segment>],
    a: u32,
    b: u32,
) -> (&mut Segment, &mut Segment) {
    let (a, b) = (a as usize, b as usize);
    assert_ne!(a, b, "two distinct segments");
    if a < b {
        let (low, high) = segments.split_at_mut(b);
        (
            low[a].as_mut().expect("owned"),
            high[0].as_mut().expect("owned"),
        )
    } else {
        let (low, high) = segments.split_at_mut(a);
        (
            high[0].as_mut().expect("owned"),
            low[b].as_mut().expect("owned"),
        )
    }
}
