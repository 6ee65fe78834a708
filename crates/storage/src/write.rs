//! Writes: every store mode, incr/decr, touch, delete and meta bits.
//!
//! A write first makes room (which may evict, even the item it is about to replace),
//! then looks the key up, checks its condition, and appends the new item. Looking up
//! after making room is what keeps append/incr/touch correct when eviction moved or
//! dropped the old item.

use crate::config::EvictionPolicy;
use crate::error::CacheError;
use crate::expiry::{self, Expiry};
use crate::item::{self, HeaderFields};
use crate::meta::{ItemMeta, MetaBitsUpdate, StoreMode, StoreOptions};
use crate::shard::{two_segments_mut, Ctx, Found, Shard, NO_SEGMENT};
use crate::{decimal, slot};

/// A piece of the value being written.
enum Part<'a> {
    /// Bytes from the caller.
    Bytes(&'a [u8]),
    /// Bytes already in a segment of this shard (the old value).
    Stored {
        segment_id: u32,
        start: usize,
        len: usize,
    },
}

/// Room made in a TTL bucket's active segment for one item.
#[derive(Clone, Copy)]
struct Room {
    bucket: u16,
    len: usize,
    fields: HeaderFields,
}

impl Shard {
    /// set, add, replace, cas, append, prepend.
    pub fn store(
        &mut self,
        ctx: &Ctx<'_>,
        hash: u64,
        mode: StoreMode,
        key: &[u8],
        value: &[u8],
        options: &StoreOptions,
    ) -> Result<u64, CacheError> {
        if let StoreMode::Append | StoreMode::Prepend = mode {
            return self.concat(ctx, hash, key, value, mode == StoreMode::Prepend);
        }
        let mut expiry = match options.exptime {
            0 => Expiry::Never,
            exptime => Expiry::from_exptime(exptime, ctx.now()),
        };
        if options.keep_ttl {
            expiry = match self.lookup(ctx, hash, key) {
                Some(found) if found.item.expiry_unix_secs != 0 => {
                    Expiry::At(found.item.expiry_unix_secs)
                }
                _ => Expiry::Never,
            };
        }
        let fields = HeaderFields {
            meta_bits: if options.stale { item::BIT_STALE } else { 0 },
            client_flags: options.client_flags,
            explicit_cas: options.new_cas.filter(|_| ctx.cas_enabled),
            expiry_unix_secs: expiry.unix_secs(),
        };
        if expiry == Expiry::Expired {
            // memcached stores it already expired: the old item is gone, nothing is readable.
            check_len(ctx, &fields, key, value.len())?;
            let existing = self.lookup(ctx, hash, key);
            self.check_condition(ctx, mode, existing.as_ref())?;
            if let Some(found) = existing {
                self.drop_item(&found);
            }
            return Ok(0);
        }
        let room = self.make_room(ctx, &fields, key, value.len())?;
        let existing = self.lookup(ctx, hash, key);
        self.check_condition(ctx, mode, existing.as_ref())?;
        Ok(self.commit(ctx, hash, key, room, &[Part::Bytes(value)], existing))
    }

    fn check_condition(
        &self,
        ctx: &Ctx<'_>,
        mode: StoreMode,
        existing: Option<&Found>,
    ) -> Result<(), CacheError> {
        match (mode, existing) {
            (StoreMode::Add, Some(_)) => Err(CacheError::NotStored),
            (StoreMode::Replace, None) => Err(CacheError::NotStored),
            (StoreMode::Cas(_), None) => Err(CacheError::NotFound),
            (StoreMode::Cas(expected), Some(found)) if self.cas_of(ctx, found) != expected => {
                Err(CacheError::Exists)
            }
            _ => Ok(()),
        }
    }

    fn concat(
        &mut self,
        ctx: &Ctx<'_>,
        hash: u64,
        key: &[u8],
        value: &[u8],
        prepend: bool,
    ) -> Result<u64, CacheError> {
        let old = self.lookup(ctx, hash, key).ok_or(CacheError::NotStored)?;
        let fields = HeaderFields {
            client_flags: old.item.client_flags,
            expiry_unix_secs: old.item.expiry_unix_secs,
            ..HeaderFields::default()
        };
        let room = self.make_room(ctx, &fields, key, old.item.value_len + value.len())?;
        let old = self.lookup(ctx, hash, key).ok_or(CacheError::NotStored)?;
        let stored = Part::Stored {
            segment_id: old.segment_id,
            start: old.value_start(),
            len: old.item.value_len,
        };
        let parts = if prepend {
            [Part::Bytes(value), stored]
        } else {
            [stored, Part::Bytes(value)]
        };
        Ok(self.commit(ctx, hash, key, room, &parts, Some(old)))
    }

    /// incr (`decrement == false`, wraps) or decr (stops at 0); returns the new value.
    pub fn arithmetic(
        &mut self,
        ctx: &Ctx<'_>,
        hash: u64,
        key: &[u8],
        delta: u64,
        decrement: bool,
    ) -> Result<u64, CacheError> {
        let old = self.lookup(ctx, hash, key).ok_or(CacheError::NotFound)?;
        let start = old.value_start();
        let text = &self.segment(old.segment_id).data[start..start + old.item.value_len];
        let current = decimal::parse(text).ok_or(CacheError::NonNumeric)?;
        let new = if decrement {
            current.saturating_sub(delta)
        } else {
            current.wrapping_add(delta)
        };
        let mut buf = [0u8; decimal::MAX_DIGITS];
        let digits = decimal::format(new, &mut buf);
        let fields = HeaderFields {
            meta_bits: 0,
            client_flags: old.item.client_flags,
            explicit_cas: None,
            expiry_unix_secs: old.item.expiry_unix_secs,
        };
        let room = self.make_room(ctx, &fields, key, digits.len())?;
        let old = self.lookup(ctx, hash, key).ok_or(CacheError::NotFound)?;
        self.commit(ctx, hash, key, room, &[Part::Bytes(digits)], Some(old));
        Ok(new)
    }

    /// Gives a live item a new expiry, keeping its CAS; returns the stored expiry.
    pub fn touch(
        &mut self,
        ctx: &Ctx<'_>,
        hash: u64,
        key: &[u8],
        exptime: i64,
    ) -> Result<u32, CacheError> {
        let old = self.lookup(ctx, hash, key).ok_or(CacheError::NotFound)?;
        let expiry = Expiry::from_exptime(exptime, ctx.now());
        let new_secs = match expiry {
            Expiry::Expired => {
                self.drop_item(&old);
                return Ok(expiry.unix_secs());
            }
            Expiry::At(at) if old.item.expiry_unix_secs != 0 => {
                // The header already has an expiry field: rewrite those 4 bytes in place.
                let field = old.offset + old.item.key_start - 4;
                let segment = self.segment_mut(old.segment_id);
                segment.data[field..field + 4].copy_from_slice(&at.to_le_bytes());
                segment.max_expiry_unix_secs = segment.max_expiry_unix_secs.max(at);
                return Ok(at);
            }
            other => other.unix_secs(),
        };
        let cas = self.cas_of(ctx, &old);
        let fields = HeaderFields {
            meta_bits: old.item.bits & (item::BIT_STALE | item::BIT_WIN),
            client_flags: old.item.client_flags,
            explicit_cas: Some(cas).filter(|_| ctx.cas_enabled),
            expiry_unix_secs: new_secs,
        };
        let room = self.make_room(ctx, &fields, key, old.item.value_len)?;
        let old = self.lookup(ctx, hash, key).ok_or(CacheError::NotFound)?;
        let stored = Part::Stored {
            segment_id: old.segment_id,
            start: old.value_start(),
            len: old.item.value_len,
        };
        let freq = slot::freq(old.slot);
        self.commit(ctx, hash, key, room, &[stored], Some(old));
        self.keep_freq(ctx, hash, key, freq);
        Ok(new_secs)
    }

    fn keep_freq(&mut self, ctx: &Ctx<'_>, hash: u64, key: &[u8], freq: u8) {
        if let Some(found) = self.lookup(ctx, hash, key) {
            self.index.set(found.at, slot::with_freq(found.slot, freq));
        }
    }

    /// Removes an item, if `expected_cas` is given only when it matches.
    pub fn delete(
        &mut self,
        ctx: &Ctx<'_>,
        hash: u64,
        key: &[u8],
        expected_cas: Option<u64>,
    ) -> Result<(), CacheError> {
        let found = self.lookup(ctx, hash, key).ok_or(CacheError::NotFound)?;
        if let Some(expected) = expected_cas {
            if self.cas_of(ctx, &found) != expected {
                return Err(CacheError::Exists);
            }
        }
        self.drop_item(&found);
        Ok(())
    }

    /// Sets or clears meta bits in the item's header, in place.
    pub fn update_meta_bits(
        &mut self,
        ctx: &Ctx<'_>,
        hash: u64,
        key: &[u8],
        update: MetaBitsUpdate,
    ) -> Result<ItemMeta, CacheError> {
        let mut found = self.lookup(ctx, hash, key).ok_or(CacheError::NotFound)?;
        let mut bits = found.item.bits;
        for (change, bit) in [
            (update.stale, item::BIT_STALE),
            (update.win_token_issued, item::BIT_WIN),
        ] {
            match change {
                Some(true) => bits |= bit,
                Some(false) => bits &= !bit,
                None => {}
            }
        }
        self.segment_mut(found.segment_id).data[found.offset] = bits;
        found.item.bits = bits;
        Ok(self.meta_of(ctx, &found))
    }

    /// Makes sure the TTL bucket for `fields` has an active segment with room for the item.
    fn make_room(
        &mut self,
        ctx: &Ctx<'_>,
        fields: &HeaderFields,
        key: &[u8],
        value_len: usize,
    ) -> Result<Room, CacheError> {
        let len = check_len(ctx, fields, key, value_len)?;
        let bucket = match fields.expiry_unix_secs {
            0 => 0,
            at => expiry::ttl_bucket(at, ctx.now()),
        };
        // Each turn either returns, installs a segment, or frees one; the pool holds
        // at most all segments, so this many turns always suffice when memory exists.
        for _ in 0..2 * self.segments.len() + 2 {
            let active = self.active[bucket as usize];
            if active != NO_SEGMENT {
                if self.segment(active).free_bytes() >= len {
                    return Ok(Room {
                        bucket,
                        len,
                        fields: *fields,
                    });
                }
                self.active[bucket as usize] = NO_SEGMENT;
            }
            // A shard whose index is nearly full evicts its own rather than take more
            // segments: items it could not index would be dropped from full chains
            // while their bytes stay stranded in segments.
            let at_cap = self.owned.len() >= ctx.max_owned_segments
                && self.index.overflow_nearly_full()
                && ctx.eviction != EvictionPolicy::None;
            if !at_cap {
                if let Some(segment) = ctx.pool.take(bucket) {
                    let id = segment.id;
                    self.segments[id as usize] = Some(segment);
                    self.owned.push(id);
                    self.active[bucket as usize] = id;
                    continue;
                }
            }
            if self.reclaim_expired(ctx, 1) == 1 {
                continue;
            }
            if at_cap {
                if !self.evict_one(ctx) {
                    return Err(CacheError::OutOfMemory);
                }
                self.counters.inline_evictions += 1;
                continue;
            }
            // Below its fair share a shard asks the engine to evict elsewhere, so
            // segments flow back from shards that grew large (no lasting imbalance).
            if self.owned.len() < ctx.fair_share_segments || !self.evict_one(ctx) {
                return Err(CacheError::OutOfMemory);
            }
            self.counters.inline_evictions += 1;
        }
        Err(CacheError::OutOfMemory)
    }

    /// Appends the item to the room made for it and points the index at it; returns its CAS.
    fn commit(
        &mut self,
        ctx: &Ctx<'_>,
        hash: u64,
        key: &[u8],
        room: Room,
        parts: &[Part<'_>],
        replacing: Option<Found>,
    ) -> u64 {
        let segment_id = self.active[room.bucket as usize];
        let fields = &room.fields;
        let value_len = parts.iter().map(Part::len).sum();
        let segment = self.segment_mut(segment_id);
        let offset = segment.write_offset;
        let mut at = offset + item::write_head(&mut segment.data[offset..], fields, key, value_len);
        for part in parts {
            self.copy_part(segment_id, at, part);
            at += part.len();
        }
        debug_assert_eq!(at - offset, room.len);
        let segment = self.segment_mut(segment_id);
        segment.write_offset += room.len;
        segment.live_items += 1;
        segment.live_bytes += room.len;
        segment.max_expiry_unix_secs = segment.max_expiry_unix_secs.max(fields.expiry_unix_secs);
        let cas = fields
            .explicit_cas
            .unwrap_or(segment.cas_base + offset as u64);
        self.live_items += 1;
        self.live_bytes += room.len as u64;
        self.counters.sets += 1;
        let new_slot = slot::pack(slot::tag_of(hash), 0, segment_id, offset as u32);
        match replacing {
            Some(old) => {
                self.forget_item(&old);
                self.index.set(old.at, new_slot);
            }
            None => self.insert_slot(ctx, hash, new_slot),
        }
        if ctx.cas_enabled {
            cas
        } else {
            0
        }
    }

    /// Inserts into the index; a full chain gives up its least-read item.
    fn insert_slot(&mut self, ctx: &Ctx<'_>, hash: u64, new_slot: u64) {
        if self.index.insert(hash, new_slot).is_some() {
            return;
        }
        let at = self.index.least_used(hash);
        let victim = self.index.get(at);
        let segment_id = slot::segment_id(victim);
        let offset = slot::offset(victim) as usize;
        let item = item::read(&self.segment(segment_id).data[offset..]);
        let found = Found {
            hash,
            at,
            slot: victim,
            segment_id,
            offset,
            item,
        };
        self.forget_item(&found);
        if ctx.has_expired(item.expiry_unix_secs) {
            self.counters.expired_items += 1;
        } else {
            self.counters.index_evictions += 1;
            self.counters.evicted_items += 1;
        }
        self.index.set(at, new_slot);
    }

    fn copy_part(&mut self, segment_id: u32, at: usize, part: &Part<'_>) {
        match *part {
            Part::Bytes(bytes) => {
                self.segment_mut(segment_id).data[at..at + bytes.len()].copy_from_slice(bytes);
            }
            Part::Stored {
                segment_id: source,
                start,
                len,
            } if source == segment_id => {
                self.segment_mut(segment_id)
                    .data
                    .copy_within(start..start + len, at);
            }
            Part::Stored {
                segment_id: source,
                start,
                len,
            } => {
                let (from, to) = two_segments_mut(&mut self.segments, source, segment_id);
                to.data[at..at + len].copy_from_slice(&from.data[start..start + len]);
            }
        }
    }
}

impl Part<'_> {
    fn len(&self) -> usize {
        match self {
            Part::Bytes(bytes) => bytes.len(),
            Part::Stored { len, .. } => *len,
        }
    }
}

/// Total item length, or the typed error when it is over the item size limit.
fn check_len(
    ctx: &Ctx<'_>,
    fields: &HeaderFields,
    key: &[u8],
    value_len: usize,
) -> Result<usize, CacheError> {
    let limit = ctx.item_size_limit_bytes;
    if value_len > limit {
        return Err(CacheError::ValueTooLarge {
            len: value_len,
            limit,
        });
    }
    let len = item::header_len(fields, value_len) + key.len() + value_len;
    if len > limit {
        return Err(CacheError::ValueTooLarge {
            len: value_len,
            limit,
        });
    }
    Ok(len)
}
