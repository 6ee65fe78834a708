//! Freeing segments: reclaiming expired or flushed ones, and evicting by policy.
//!
//! Every function here frees whole segments under the owning shard's lock, walking
//! each item once to unlink it from the index: work bounded by one segment's items.

use crate::config::EvictionPolicy;
use crate::item::{self, HeaderFields};
use crate::shard::{two_segments_mut, Ctx, Shard, NO_SEGMENT};
use crate::slot;
use rand::Rng;

/// Segments of one TTL bucket that merge eviction compacts into one.
const MERGE_SEGMENTS: usize = 4;
/// Bytes an item's header grows by when it moves and must keep its CAS explicitly.
const EXPLICIT_CAS_BYTES: usize = 8;

/// Why a segment is being emptied (decides which counter its live items go to).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reason {
    Evicted,
    Expired,
}

impl Shard {
    /// Frees up to `max` owned segments that were flushed or whose items have all expired.
    pub fn reclaim_expired(&mut self, ctx: &Ctx<'_>, max: usize) -> usize {
        let mut freed = 0;
        let mut at = 0;
        while at < self.owned.len() && freed < max {
            let id = self.owned[at];
            let segment = self.segment(id);
            let all_expired = segment.ttl_bucket != 0
                && segment.max_expiry_unix_secs != 0
                && segment.max_expiry_unix_secs <= ctx.now();
            if segment.flushed || all_expired {
                self.empty_segment(ctx, id, Reason::Expired);
                self.counters.expired_segments += 1;
                freed += 1;
            } else {
                at += 1;
            }
        }
        freed
    }

    /// Frees at least one owned segment by the configured policy; false if it cannot.
    pub fn evict_one(&mut self, ctx: &Ctx<'_>) -> bool {
        if self.owned.is_empty() {
            return false;
        }
        let victim = match ctx.eviction {
            EvictionPolicy::None => return false,
            EvictionPolicy::Fifo => self.owned[0],
            EvictionPolicy::Random => self.owned[self.rng.gen_range(0..self.owned.len())],
            EvictionPolicy::Merge => {
                if self.merge(ctx) {
                    return true;
                }
                self.owned[0]
            }
        };
        self.empty_segment(ctx, victim, Reason::Evicted);
        self.counters.evicted_segments += 1;
        true
    }

    /// Unlinks every item the index still points to in `id`, and returns it to the pool.
    fn empty_segment(&mut self, ctx: &Ctx<'_>, id: u32, reason: Reason) {
        let position = self
            .owned
            .iter()
            .position(|&owned| owned == id)
            .expect("owned");
        self.owned.remove(position);
        let segment = self.segments[id as usize].take().expect("owned");
        if self.active[segment.ttl_bucket as usize] == id {
            self.active[segment.ttl_bucket as usize] = NO_SEGMENT;
        }
        let mut offset = 0;
        while offset < segment.write_offset {
            let item = item::read(&segment.data[offset..]);
            let key = &segment.data[offset + item.key_start..offset + item.value_start()];
            let hash = ctx.hasher.hash_one(key);
            let here = |value: u64| {
                slot::segment_id(value) == id && slot::offset(value) as usize == offset
            };
            if let Some(at) = self.index.find(hash, here) {
                self.index.remove(hash, at);
                if !segment.flushed {
                    self.live_items -= 1;
                    self.live_bytes -= item.total_len() as u64;
                    let expired = ctx.has_expired(item.expiry_unix_secs);
                    if expired || reason == Reason::Expired {
                        self.counters.expired_items += 1;
                    } else {
                        self.counters.evicted_items += 1;
                    }
                }
            }
            offset += item.total_len();
        }
        ctx.pool.give_back(segment);
    }

    /// Segcache's merge: the oldest segments of the oldest segment's TTL bucket are
    /// compacted into the first; items read since their last move survive (with their
    /// read counter halved), the rest are evicted; the others go back to the pool.
    /// When nothing in the first survives, only it is freed. False when the bucket
    /// has only one segment (the caller falls back to FIFO).
    fn merge(&mut self, ctx: &Ctx<'_>) -> bool {
        let bucket = self.segment(self.owned[0]).ttl_bucket;
        let mut group = [NO_SEGMENT; MERGE_SEGMENTS];
        let mut count = 0;
        for &id in &self.owned {
            if count < MERGE_SEGMENTS
                && self.segment(id).ttl_bucket == bucket
                && !self.segment(id).flushed
            {
                group[count] = id;
                count += 1;
            }
        }
        if count < 2 {
            return false;
        }
        let target = group[0];
        self.compact_in_place(ctx, target);
        if self.segment(target).write_offset == 0 {
            // Nothing in the target survived: freeing it alone frees what was asked
            // for, and leaves the rest of the group for later, as fifo would. Freeing
            // the whole group now would park up to three segments in the pool, and an
            // empty target kept owned but not active would strand a whole segment.
            self.empty_segment(ctx, target, Reason::Evicted);
            self.counters.evicted_segments += 1;
            self.counters.merged_segments += 1;
            return true;
        }
        if group[..count].contains(&self.active[bucket as usize]) {
            self.active[bucket as usize] = NO_SEGMENT;
        }
        for &source in &group[1..count] {
            self.move_survivors(ctx, source, target);
            self.empty_segment(ctx, source, Reason::Evicted);
            self.counters.evicted_segments += 1;
        }
        self.counters.merged_segments += count as u64;
        // Like Segcache's merge cursor: the merged segment goes to the back of the
        // line, so its survivors are not merged again before every other segment is.
        let position = self
            .owned
            .iter()
            .position(|&id| id == target)
            .expect("owned");
        self.owned.remove(position);
        self.owned.push(target);
        self.segment_mut(target).sequence = ctx.pool.next_sequence();
        // The target is never appended to again: a new item at an offset a dropped
        // item had would get that item's CAS (`cas_base + offset`), and a client still
        // holding it could overwrite a value it never saw. Its tail waits for the
        // next merge, as in Segcache.
        true
    }

    /// Whether the item at `offset` of `id` should survive a merge, and its slot.
    fn survivor(
        &self,
        ctx: &Ctx<'_>,
        id: u32,
        offset: usize,
    ) -> (Option<crate::index::SlotRef>, bool) {
        let data = &self.segment(id).data[offset..];
        let item = item::read(data);
        let hash = ctx
            .hasher
            .hash_one(&data[item.key_start..item.value_start()]);
        let here =
            |value: u64| slot::segment_id(value) == id && slot::offset(value) as usize == offset;
        let Some(at) = self.index.find(hash, here) else {
            return (None, false);
        };
        let alive = !ctx.has_expired(item.expiry_unix_secs);
        (Some(at), alive && slot::freq(self.index.get(at)) > 0)
    }

    /// Drops a live item during a merge, counting it as expired or evicted.
    fn drop_during_merge(
        &mut self,
        ctx: &Ctx<'_>,
        id: u32,
        offset: usize,
        at: crate::index::SlotRef,
    ) {
        let item = item::read(&self.segment(id).data[offset..]);
        let data = &self.segment(id).data[offset..];
        let hash = ctx
            .hasher
            .hash_one(&data[item.key_start..item.value_start()]);
        let found = crate::shard::Found {
            hash,
            at,
            slot: self.index.get(at),
            segment_id: id,
            offset,
            item,
        };
        self.drop_item(&found);
        if ctx.has_expired(item.expiry_unix_secs) {
            self.counters.expired_items += 1;
        } else {
            self.counters.evicted_items += 1;
        }
    }

    /// Slides the target's survivors to its front; an item that moves keeps its CAS
    /// explicitly, and is dropped if the gap behind it is too small for that.
    fn compact_in_place(&mut self, ctx: &Ctx<'_>, id: u32) {
        let end = self.segment(id).write_offset;
        let (mut read_at, mut write_at) = (0, 0);
        while read_at < end {
            let item = item::read(&self.segment(id).data[read_at..]);
            let len = item.total_len();
            let (slot_at, keep) = self.survivor(ctx, id, read_at);
            match (slot_at, keep) {
                (Some(at), true) if read_at == write_at => {
                    let value = self.index.get(at);
                    self.index
                        .set(at, slot::with_freq(value, slot::freq(value) / 2));
                    write_at += len;
                }
                (Some(at), true) => {
                    let grow = if item.explicit_cas.is_none() && ctx.cas_enabled {
                        EXPLICIT_CAS_BYTES
                    } else {
                        0
                    };
                    if write_at + len + grow <= read_at {
                        let new_len = self.move_within(ctx, id, read_at, write_at);
                        let value = self.index.get(at);
                        let moved = slot::pack(
                            slot::tag(value),
                            slot::freq(value) / 2,
                            id,
                            write_at as u32,
                        );
                        self.index.set(at, moved);
                        write_at += new_len;
                    } else {
                        self.drop_during_merge(ctx, id, read_at, at);
                    }
                }
                (Some(at), false) => self.drop_during_merge(ctx, id, read_at, at),
                (None, _) => {}
            }
            read_at += len;
        }
        self.segment_mut(id).write_offset = write_at;
    }

    /// Copies the item at `from` to `to` (< from) in the same segment with an explicit
    /// CAS; returns its new length.
    fn move_within(&mut self, ctx: &Ctx<'_>, id: u32, from: usize, to: usize) -> usize {
        let segment = self.segment_mut(id);
        let item = item::read(&segment.data[from..]);
        let cas = item.explicit_cas.unwrap_or(segment.cas_base + from as u64);
        let fields = moved_fields(ctx, &item, cas);
        let (low, high) = segment.data.split_at_mut(from);
        let key = &high[item.key_start..item.value_start()];
        let value_at = to + item::write_head(&mut low[to..], &fields, key, item.value_len);
        low[value_at..value_at + item.value_len]
            .copy_from_slice(&high[item.value_start()..item.value_start() + item.value_len]);
        let new_len = value_at + item.value_len - to;
        segment.live_bytes = segment.live_bytes + new_len - item.total_len();
        self.live_bytes = self.live_bytes + new_len as u64 - item.total_len() as u64;
        new_len
    }

    /// Appends `source`'s survivors to `target` while they fit; the rest stay to be evicted.
    fn move_survivors(&mut self, ctx: &Ctx<'_>, source: u32, target: u32) {
        let end = self.segment(source).write_offset;
        let mut read_at = 0;
        while read_at < end {
            let item = item::read(&self.segment(source).data[read_at..]);
            if let (Some(at), true) = self.survivor(ctx, source, read_at) {
                let (from, to) = two_segments_mut(&mut self.segments, source, target);
                let cas = item.explicit_cas.unwrap_or(from.cas_base + read_at as u64);
                let fields = moved_fields(ctx, &item, cas);
                let new_len =
                    item::header_len(&fields, item.value_len) + item.key_len + item.value_len;
                if to.free_bytes() >= new_len {
                    let write_at = to.write_offset;
                    let data = &from.data[read_at..read_at + item.total_len()];
                    let value_at = write_at
                        + item::write_head(
                            &mut to.data[write_at..],
                            &fields,
                            &data[item.key_start..item.value_start()],
                            item.value_len,
                        );
                    to.data[value_at..value_at + item.value_len]
                        .copy_from_slice(&data[item.value_start()..]);
                    to.write_offset += new_len;
                    to.live_items += 1;
                    to.live_bytes += new_len;
                    to.max_expiry_unix_secs = to.max_expiry_unix_secs.max(item.expiry_unix_secs);
                    from.live_items -= 1;
                    from.live_bytes -= item.total_len();
                    self.live_bytes = self.live_bytes + new_len as u64 - item.total_len() as u64;
                    let value = self.index.get(at);
                    let moved = slot::pack(
                        slot::tag(value),
                        slot::freq(value) / 2,
                        target,
                        write_at as u32,
                    );
                    self.index.set(at, moved);
                }
            }
            read_at += item.total_len();
        }
    }
}

/// Header of a moved item: same fields, CAS made explicit so moving never changes it.
fn moved_fields(ctx: &Ctx<'_>, item: &item::Item, cas: u64) -> HeaderFields {
    HeaderFields {
        meta_bits: item.bits & (item::BIT_STALE | item::BIT_WIN),
        client_flags: item.client_flags,
        explicit_cas: Some(cas).filter(|_| ctx.cas_enabled),
        expiry_unix_secs: item.expiry_unix_secs,
    }
}
