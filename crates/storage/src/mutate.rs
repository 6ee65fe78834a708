//! The write path: every write is one decision over the key's current item, applied
//! under one hold of the key's two index buckets.
//!
//! A write first runs optimistically. It notes the buckets' versions, finds the key's
//! current item and lets the operation decide (`Mutation::decide`) as if nothing else
//! were happening, then checks the versions; a failed condition is answered only from
//! a read that checked out, and never after freeing memory, so a failing add, cas or
//! replace never evicts anything. A new version is written into room reserved in its
//! TTL bucket's active segment (copying a large value takes no lock), and only then
//! are the buckets taken, and only if their versions have not moved since the read
//! (`Index::try_lock_at`): the hold covers relinking one slot and nothing else. If the
//! versions moved, another writer got there first and the write starts over; the room
//! it wrote stays in its segment as a dead item, reclaimed with the segment.
//!
//! After `OPTIMISTIC_ATTEMPTS` lost races (a key written by many clients at once) the
//! write takes the buckets first and decides and writes under the hold, so it cannot
//! lose again. Taking a free segment never waits for eviction under a hold: when the
//! pool is empty the write lets go, frees memory itself (`free_inline`), and starts over.

use crate::cache::{check_key, Cache, Found, Liveness, Now};
use crate::error::CacheError;
use crate::expiry;
use crate::index::{Index, Pair, PairGuard};
use crate::item::{self, Fields, MAX_HEADER_BYTES};
use crate::meta::ItemMeta;
use crate::slot;
use crate::stats::Counter;
use crate::sync::{fence, Ordering};
use crate::ttl::{NoSpace, Room};

/// Races lost before a write takes the buckets up front.
const OPTIMISTIC_ATTEMPTS: usize = 8;
/// Attempts in all; past the optimistic ones only an empty pool makes a write start
/// over, each time after freeing memory itself.
const MAX_ATTEMPTS: usize = OPTIMISTIC_ATTEMPTS + 32;

/// What an operation decided to do with the key's current item.
pub(crate) enum Plan<'a> {
    /// Write nothing; optionally count the item as read.
    Keep { bump: bool },
    /// Rewrite the current item's header bits and/or expiry where it is.
    InPlace {
        set_bits: u8,
        clear_bits: u8,
        expiry_unix_secs: Option<u32>,
        bump: bool,
    },
    /// Unlink the current item.
    Remove,
    /// Append a new version and point the key at it.
    Write(NewItem<'a>),
}

/// A new version of the key's item.
pub(crate) struct NewItem<'a> {
    pub meta_bits: u8,
    pub client_flags: u32,
    pub expiry_unix_secs: u32,
    pub cas: NewCas,
    /// The value, in up to two parts.
    pub value: [Part<'a>; 2],
    pub freq: Freq,
}

/// Where a new version's CAS comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NewCas {
    /// A new one, larger than every CAS handed out before.
    Fresh,
    /// The current item's, because the item only moved (touch).
    Keep(u64),
    /// The client's (meta `E`).
    Given(u64),
}

/// A piece of a new value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part<'a> {
    None,
    Bytes(&'a [u8]),
    /// The current item's whole value.
    Current,
}

/// The new version's read counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freq {
    /// Not read yet (a new value).
    Zero,
    /// Read once (created by a read).
    One,
    /// As the current item's, plus one when `bump` (a move).
    Keep { bump: bool },
}

/// One write, as the driver runs it.
pub(crate) trait Mutation {
    /// What the caller gets back.
    type Output;
    /// Decides from the key's live item (`None`: absent, expired or flushed). Runs
    /// again on every attempt, and its answer counts only if the read checks out, so
    /// it must not act: only decide (it may copy the current value for the caller).
    fn decide(
        &mut self,
        cache: &Cache,
        current: Option<&Found>,
        now: &Now<'_>,
    ) -> Result<Plan<'_>, CacheError>;
    /// Builds the result once the plan is applied.
    fn finish(self, applied: Applied) -> Self::Output;
}

/// What a write did to the key.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Applied {
    /// The live item before.
    pub before: Option<ItemMeta>,
    /// The item after (`None`: absent or removed).
    pub after: Option<ItemMeta>,
}

/// Bytes gathered to be written to the heap at once: a small item goes out as one
/// run of whole words, with partial words (merged atomically) only at its two ends.
struct Staged {
    bytes: [u8; STAGED_BYTES],
    len: usize,
    /// Heap address of `bytes[0]`.
    at: usize,
}

/// Bytes of an item staged before writing (header, key and a small value).
const STAGED_BYTES: usize = 128;

impl Staged {
    fn new(at: usize) -> Staged {
        Staged {
            bytes: [0; STAGED_BYTES],
            len: 0,
            at,
        }
    }

    /// Adds `piece` after what is staged; a piece that does not fit is written at once.
    fn push(&mut self, heap: &crate::heap::Heap, piece: &[u8]) {
        if self.len + piece.len() <= STAGED_BYTES {
            self.bytes[self.len..self.len + piece.len()].copy_from_slice(piece);
            self.len += piece.len();
            return;
        }
        self.flush(heap);
        heap.write(self.at, piece);
        self.at += piece.len();
    }

    /// Writes what is staged.
    fn flush(&mut self, heap: &crate::heap::Heap) {
        if self.len > 0 {
            heap.write(self.at, &self.bytes[..self.len]);
            self.at += self.len;
            self.len = 0;
        }
    }
}

/// A new version written into its room, not yet linked.
#[derive(Debug, Clone, Copy)]
struct Written {
    room: Room,
    fields: Fields,
    len: usize,
    value_len: usize,
}

/// How a write looks at the key's buckets this attempt.
enum Hold<'a> {
    /// Read without a lock under these versions.
    Versions(Observed),
    /// Held.
    Held(PairGuard<'a>),
}

/// What an optimistic read must find unchanged before it writes: the bucket the key
/// was found in (a replacement touches that bucket alone, and a held bucket keeps
/// its keys from moving), or both buckets when the key is absent (an insert may go
/// to either, or move an item between them).
#[derive(Debug, Clone, Copy)]
struct Observed {
    lock: Pair,
    versions: (u64, u64),
}

/// Why an attempt did not finish.
enum Retry {
    /// Another writer changed the buckets first.
    Raced,
    /// No free segment: free memory, then try again.
    NoSpace,
}

impl Cache {
    /// Runs `op` on `key` (see the module docs).
    pub(crate) fn mutate<M: Mutation>(
        &self,
        key: &[u8],
        mut op: M,
    ) -> Result<M::Output, CacheError> {
        check_key(key)?;
        self.apply_due_flush();
        let hash = self.hash(key);
        let pair = self.index.pair(hash);
        let tag = Index::tag(hash);
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                self.counters.incr(Counter::WriteRetries);
            }
            let held = (attempt >= OPTIMISTIC_ATTEMPTS).then(|| self.index.lock(pair));
            match self.attempt(key, pair, tag, held, &mut op) {
                Ok(applied) => return Ok(op.finish(applied)),
                Err(Ok(Retry::Raced)) => continue,
                Err(Ok(Retry::NoSpace)) => self.free_inline()?,
                Err(Err(error)) => return Err(error),
            }
        }
        Err(CacheError::OutOfMemory)
    }

    /// The versions of both buckets of `pair`, for an optimistic read.
    pub(crate) fn begin_pair(&self, pair: Pair) -> (u64, u64) {
        let first = self.index.read_begin(pair.first);
        let second = if pair.second == pair.first {
            first
        } else {
            self.index.read_begin(pair.second)
        };
        (first, second)
    }

    /// Whether neither bucket of `pair` moved from `versions`.
    pub(crate) fn pair_valid(&self, pair: Pair, versions: (u64, u64)) -> bool {
        self.index.read_valid(pair.first, versions.0)
            && (pair.second == pair.first || self.index.read_valid(pair.second, versions.1))
    }

    /// One attempt: `Err(Ok(_))` to try again, `Err(Err(_))` for the operation's answer.
    fn attempt<M: Mutation>(
        &self,
        key: &[u8],
        pair: Pair,
        tag: u16,
        held: Option<PairGuard<'_>>,
        op: &mut M,
    ) -> Result<Applied, Result<Retry, CacheError>> {
        let now = self.now();
        let (current, hold) = match held {
            Some(guard) => {
                let current = self
                    .find_in_pair(pair, tag, key, &now)
                    .expect("an item under a held bucket is well formed");
                (current, Hold::Held(guard))
            }
            None => {
                let (current, observed) =
                    self.observe(pair, tag, key, &now).ok_or(Ok(Retry::Raced))?;
                (current, Hold::Versions(observed))
            }
        };
        let live = current.filter(Found::is_live);
        let plan = op.decide(self, live.as_ref(), &now);
        if let Hold::Versions(observed) = hold {
            if !self.pair_valid(observed.lock, observed.versions) {
                return Err(Ok(Retry::Raced));
            }
        }
        let plan = plan.map_err(Err)?;
        let before = live.map(|found| found.meta());
        let take = |hold| self.take(hold);
        match plan {
            Plan::Keep { bump } => {
                drop(hold);
                if let (true, Some(found)) = (bump, live) {
                    self.bump(&found);
                }
                Ok(Applied {
                    before,
                    after: before,
                })
            }
            Plan::InPlace {
                set_bits,
                clear_bits,
                expiry_unix_secs,
                bump,
            } => {
                let found = live.expect("an in-place change needs an item");
                let guard = take(hold).ok_or(Ok(Retry::Raced))?;
                let after = self.rewrite_in_place(&found, set_bits, clear_bits, expiry_unix_secs);
                if bump {
                    let freq = slot::freq(found.slot);
                    if freq == 1 {
                        let access = self.access_secs(found.segment, now.get());
                        let field = self.addr(found.segment, found.offset)
                            + found.header.access_field_offset();
                        self.heap.write(field, &access.to_le_bytes());
                    }
                    guard.set(
                        found.at,
                        slot::with_freq(found.slot, freq.saturating_add(1).min(slot::MAX_FREQ)),
                    );
                }
                drop(guard);
                Ok(Applied {
                    before,
                    after: Some(after),
                })
            }
            Plan::Remove => {
                let found = live.expect("a removal needs an item");
                let mut guard = take(hold).ok_or(Ok(Retry::Raced))?;
                self.unlink(&mut guard, &found);
                drop(guard);
                Ok(Applied {
                    before,
                    after: None,
                })
            }
            Plan::Write(new) => {
                let written = self.write_new(key, &new, current.as_ref(), live.as_ref(), &now);
                let written = match written {
                    Ok(Some(written)) => written,
                    Ok(None) => return Err(Ok(Retry::Raced)),
                    Err(NoSpace) => return Err(Ok(Retry::NoSpace)),
                };
                let segment = self.segment(written.room.segment);
                let Some(mut guard) = take(hold) else {
                    segment.remove_live(written.len);
                    segment.finish_write();
                    return Err(Ok(Retry::Raced));
                };
                let after = self.link(&mut guard, tag, &written, new.freq, current.as_ref(), &now);
                drop(guard);
                self.counters.incr(Counter::Sets);
                segment.finish_write();
                Ok(Applied {
                    before,
                    after: Some(after),
                })
            }
        }
    }

    /// The held buckets: already held, or taken now if unchanged since the read.
    fn take<'a>(&'a self, hold: Hold<'a>) -> Option<PairGuard<'a>> {
        match hold {
            Hold::Held(guard) => Some(guard),
            Hold::Versions(observed) => self.index.try_lock_at(observed.lock, observed.versions),
        }
    }

    /// Finds `key` without a lock, looking in its second bucket only if it is not in
    /// the first; `None` if the read raced a writer and must start over.
    fn observe(
        &self,
        pair: Pair,
        tag: u16,
        key: &[u8],
        now: &Now<'_>,
    ) -> Option<(Option<Found>, Observed)> {
        let one = |bucket: u32, version: u64| Observed {
            lock: Pair {
                first: bucket,
                second: bucket,
            },
            versions: (version, version),
        };
        let first = self.index.read_begin(pair.first);
        // Both versions before either bucket is scanned, so that the two cache misses
        // overlap; a version noted earlier only makes the final check stricter.
        let second = (pair.second != pair.first).then(|| self.index.read_begin(pair.second));
        if let Some(found) = self.find_in_bucket(pair.first, tag, key, now).ok()? {
            return Some((Some(found), one(pair.first, first)));
        }
        let Some(second) = second else {
            return Some((None, one(pair.first, first)));
        };
        let found = self.find_in_bucket(pair.second, tag, key, now).ok()?;
        Some(match found {
            Some(found) => (Some(found), one(pair.second, second)),
            None => (
                None,
                Observed {
                    lock: pair,
                    versions: (first, second),
                },
            ),
        })
    }

    /// Reserves room for `new` and writes it there, unlinked. `Ok(None)` when the
    /// current value to copy was reused under a racing read (the attempt is lost).
    fn write_new(
        &self,
        key: &[u8],
        new: &NewItem<'_>,
        current: Option<&Found>,
        live: Option<&Found>,
        now: &Now<'_>,
    ) -> Result<Option<Written>, NoSpace> {
        let value_len: usize = new.value.iter().map(|part| self.part_len(part, live)).sum();
        let bucket = match new.expiry_unix_secs {
            0 => 0,
            at => expiry::ttl_bucket(at, now.get()),
        };
        let explicit_cas = match new.cas {
            _ if !self.config.cas_enabled => None,
            NewCas::Keep(cas) | NewCas::Given(cas) => Some(cas),
            NewCas::Fresh => {
                // A derived CAS is only used when it is sure to be above the key's
                // previous one; otherwise the item stores a fresh one explicitly.
                let floor = self.derived_cas_floor(bucket);
                current
                    .filter(|previous| floor <= previous.cas)
                    .map(|_| self.next_cas.fetch_add(1, Ordering::Relaxed))
            }
        };
        // A moved item keeps its access time unless this is its second read (as
        // memcached's segmented LRU); a new value is accessed now.
        let accessed_unix_secs = match (new.freq, live) {
            (Freq::Keep { bump }, Some(found)) if !(bump && slot::freq(found.slot) == 1) => {
                found.last_access_unix_secs
            }
            _ => now.get(),
        };
        let mut fields = Fields {
            meta_bits: new.meta_bits,
            client_flags: new.client_flags,
            explicit_cas,
            expiry_unix_secs: new.expiry_unix_secs,
            access_secs: 0,
        };
        let len = fields.item_len(key.len(), value_len);
        let room = self.reserve(bucket, len)?;
        fields.access_secs = self.access_secs(room.segment, accessed_unix_secs);
        let mut header = [0u8; MAX_HEADER_BYTES];
        let header_len = item::encode(&fields, key.len(), value_len, &mut header);
        let mut at = self.addr(room.segment, room.offset);
        let mut staged = Staged::new(at);
        staged.push(&self.heap, &header[..header_len]);
        staged.push(&self.heap, key);
        at += header_len + key.len();
        let mut whole = true;
        for part in &new.value {
            match *part {
                Part::None => {}
                Part::Bytes(bytes) => staged.push(&self.heap, bytes),
                Part::Current => {
                    staged.flush(&self.heap);
                    let found = live.expect("a value part from the current item needs one");
                    let from = self.addr(found.segment, found.offset + found.header.value_start());
                    let len = found.header.value_len;
                    if from + len <= at || at + len <= from {
                        self.heap.copy(from, at, len);
                    } else {
                        // Only a racing read: the old item's segment was reused for
                        // this very room. Its bytes stay as they are (still a whole,
                        // unlinked item) and the attempt is lost.
                        whole = false;
                    }
                    staged = Staged::new(at + found.header.value_len);
                }
            }
            at += self.part_len(part, live);
        }
        staged.flush(&self.heap);
        if !whole {
            self.segment(room.segment).finish_write();
            return Ok(None);
        }
        // Counted before the item is linked, so that no writer replacing it can take
        // it out of the count first; the hold then covers relinking only (the active
        // segment's counters are shared by every writer). An attempt that loses its
        // race takes it out again before `finish_write`.
        let segment = self.segment(room.segment);
        segment.add_live(len);
        // An item stored already expired (memcached links it, and the next read
        // counts as get_expired) keeps its segment for the second it was written in,
        // so that background expiry does not take it before that read.
        let reclaimable_at = match fields.expiry_unix_secs {
            0 => 0,
            at => at.max(now.get().saturating_add(1)),
        };
        segment.note_expiry(reclaimable_at);
        debug_assert_eq!(at, self.addr(room.segment, room.offset) + len);
        Ok(Some(Written {
            room,
            fields,
            len,
            value_len,
        }))
    }

    fn part_len(&self, part: &Part<'_>, live: Option<&Found>) -> usize {
        match part {
            Part::None => 0,
            Part::Bytes(bytes) => bytes.len(),
            Part::Current => live.map_or(0, |found| found.header.value_len),
        }
    }

    /// Points the key at its new version, under the hold; returns its metadata.
    fn link(
        &self,
        guard: &mut PairGuard<'_>,
        tag: u16,
        written: &Written,
        freq: Freq,
        current: Option<&Found>,
        now: &crate::cache::Now<'_>,
    ) -> ItemMeta {
        let Written {
            room,
            fields,
            value_len,
            ..
        } = *written;
        let freq = match freq {
            Freq::Zero => 0,
            Freq::One => 1,
            Freq::Keep { bump } => {
                let freq = current.map_or(0, |found| slot::freq(found.slot));
                (freq + u8::from(bump)).min(slot::MAX_FREQ)
            }
        };
        let value = slot::pack(tag, freq, room.segment, room.offset as u32);
        match current {
            Some(found) => {
                guard.set(found.at, value);
                self.bury(found);
            }
            None => {
                if guard.insert(value).is_none() {
                    let victim = self.choose_victim(guard, now);
                    guard.set(victim.at, value);
                    if victim.is_live() {
                        self.counters.incr(Counter::IndexEvictions);
                        self.counters.incr(Counter::EvictedItems);
                    }
                    self.bury(&victim);
                }
            }
        }
        let segment = self.segment(room.segment);
        let cas = match fields.explicit_cas {
            _ if !self.config.cas_enabled => 0,
            Some(cas) => cas,
            None => {
                let derived = segment.cas_base.load(Ordering::Relaxed) + room.offset as u64;
                debug_assert!(current.is_none_or(|previous| derived > previous.cas));
                derived
            }
        };
        ItemMeta {
            client_flags: fields.client_flags,
            cas,
            expiry: crate::Expiry::from_stored(fields.expiry_unix_secs),
            value_len,
            hit_before: freq > 0,
            stale: fields.meta_bits & item::BIT_STALE != 0,
            win_token_sent: fields.meta_bits & item::BIT_WIN != 0,
            key_binary: fields.meta_bits & item::BIT_KEY_BINARY != 0,
            last_access_unix_secs: segment
                .time_base_unix_secs
                .load(Ordering::Relaxed)
                .saturating_add(u32::from(fields.access_secs)),
        }
    }

    /// Takes `found`, current under `guard`, out of the index and buries it.
    pub(crate) fn unlink(&self, guard: &mut PairGuard<'_>, found: &Found) {
        guard.remove(found.at);
        self.bury(found);
    }

    /// Marks an item just unlinked (under its bucket lock) as dead in its header, so
    /// the job that empties its segment skips it without a lookup, and forgets it.
    pub(crate) fn bury(&self, found: &Found) {
        // Forgotten first: a job that sees the mark (and so skips the item) must see
        // it gone from its segment's count too (the fence pairs with the job's
        // Acquire fence before it frees the segment).
        self.forget(found);
        fence(Ordering::Release);
        let bits = found.header.bits | item::BIT_DEAD;
        self.heap
            .write(self.addr(found.segment, found.offset), &[bits]);
    }

    /// Takes an unlinked item out of its segment's live count, and counts it if it
    /// was dead already.
    pub(crate) fn forget(&self, found: &Found) {
        self.segment(found.segment)
            .remove_live(found.header.total_len());
        match found.liveness {
            Liveness::Live => {}
            Liveness::Expired => self.counters.incr(Counter::ExpiredItems),
            Liveness::Flushed => self.counters.incr(Counter::FlushedItems),
        }
    }

    /// The item to give up when both buckets are full: a dead one if any (expired or
    /// flushed), else the one read least.
    fn choose_victim(&self, guard: &PairGuard<'_>, now: &crate::cache::Now<'_>) -> Found {
        let mut best: Option<Found> = None;
        guard.for_each(|at, value| {
            let header = self
                .read_header(slot::segment_id(value), slot::offset(value) as usize)
                .expect("an item under a held bucket is well formed");
            let found = self.found(at, value, header, now);
            let better = match &best {
                None => true,
                Some(best) => slot::freq(value) < slot::freq(best.slot),
            };
            if !found.is_live() {
                best = Some(found);
                return true;
            }
            if better {
                best = Some(found);
            }
            false
        });
        best.expect("full buckets hold items")
    }

    /// Rewrites the item's bits and expiry where it is; returns its metadata after.
    fn rewrite_in_place(
        &self,
        found: &Found,
        set_bits: u8,
        clear_bits: u8,
        expiry_unix_secs: Option<u32>,
    ) -> ItemMeta {
        let at = self.addr(found.segment, found.offset);
        let mut header = found.header;
        let bits = (header.bits | (set_bits & item::META_BITS)) & !(clear_bits & item::META_BITS);
        if bits != header.bits {
            self.heap.write(at, &[bits]);
            header.bits = bits;
        }
        if let Some(expiry) = expiry_unix_secs {
            let field = header
                .expiry_field_offset()
                .expect("an expiry is rewritten in place only where there is one");
            debug_assert_ne!(expiry, 0);
            self.heap.write(at + field, &expiry.to_le_bytes());
            self.segment(found.segment).note_expiry(expiry);
            header.expiry_unix_secs = expiry;
        }
        Found { header, ..*found }.meta()
    }
}
