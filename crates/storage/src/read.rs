//! Reads: lock-free, validated by the index's bucket versions (`index`).
//!
//! A get notes its first bucket's version, finds the key, copies the value straight
//! into the caller's buffer, then checks the version; if a writer held the bucket in
//! between, it drops what it copied and looks again. A miss looks in both buckets
//! and checks both. After `LOCK_FREE_ATTEMPTS` lost races it takes the buckets, so a
//! read always finishes. The read counter is bumped afterwards with a relaxed
//! compare-and-swap (best effort), and nothing else is written: no lock, no shared
//! counter; only an item's second read also stamps its access time, under a brief
//! hold of its bucket.
//!
//! A read that must change the item (touch, vivify, claiming a win token) is a write
//! and goes through `mutate`, decided under one hold.

use crate::cache::{check_key, Cache, Found, Liveness, Now};
use crate::error::CacheError;
use crate::expiry::Expiry;
use crate::index::{Index, Pair, PairGuard};
use crate::item;
use crate::meta::{ItemMeta, ReadOptions, ReadOutcome};
use crate::mutate::{Applied, Freq, Mutation, NewCas, NewItem, Part, Plan};
use crate::slot;
use crate::stats::Counter;

/// Races lost before a read takes the buckets.
const LOCK_FREE_ATTEMPTS: usize = 16;

impl Cache {
    /// Counts a read of `found`. Its second read also sets its access time, as
    /// memcached's segmented LRU sets an item's time when it turns active; that write
    /// takes the item's bucket briefly, and is skipped (the time is coarse) when
    /// someone else holds it or the item moved.
    pub(crate) fn bump(&self, found: &Found) {
        self.index.bump_freq(found.at, found.slot);
        if slot::freq(found.slot) != 1 {
            return;
        }
        let bucket = found.at.bucket();
        let one = Pair {
            first: bucket,
            second: bucket,
        };
        let version = self.index.read_begin(bucket);
        let Some(guard) = self.index.try_lock_at(one, (version, version)) else {
            return;
        };
        if slot::location(guard.get(found.at)) == slot::location(found.slot) {
            let access = self.access_secs(found.segment, self.now().get());
            let field = self.addr(found.segment, found.offset) + found.header.access_field_offset();
            self.heap.write(field, &access.to_le_bytes());
        }
    }

    /// Appends the value of a live item to `out` and returns its metadata; counts as a
    /// read of the item.
    pub fn get_into(&self, key: &[u8], out: &mut Vec<u8>) -> Result<Option<ItemMeta>, CacheError> {
        check_key(key)?;
        let found = self.find_live(key, Some(out))?;
        Ok(found.map(|found| {
            self.bump(&found);
            found.meta()
        }))
    }

    /// Like [`Cache::get_into`], but first calls `header` to write whatever goes before
    /// the value (a protocol's reply header) from the item's metadata. If the read
    /// races a writer, both are dropped from `out` and written again.
    pub fn get_with_header(
        &self,
        key: &[u8],
        out: &mut Vec<u8>,
        mut header: impl FnMut(&mut Vec<u8>, &ItemMeta),
    ) -> Result<Option<ItemMeta>, CacheError> {
        check_key(key)?;
        let found = self.find_live_framed(key, Some(out), &mut header)?;
        Ok(found.map(|found| {
            self.bump(&found);
            found.meta()
        }))
    }

    /// A live item's metadata, without its value; does not count as a read.
    pub fn get_meta(&self, key: &[u8]) -> Result<Option<ItemMeta>, CacheError> {
        check_key(key)?;
        Ok(self.find_live(key, None)?.map(|found| found.meta()))
    }

    /// A read with meta-protocol options (touch, vivify, recache, win tokens); copies
    /// the value into `out` when given. `None` is a miss that created nothing.
    pub fn read(
        &self,
        key: &[u8],
        options: ReadOptions,
        mut out: Option<&mut Vec<u8>>,
    ) -> Result<Option<ReadOutcome>, CacheError> {
        check_key(key)?;
        if options.touch.is_none() && options.vivify_on_miss.is_none() {
            let start = out.as_ref().map_or(0, |out| out.len());
            let found = self.find_live(key, out.as_deref_mut())?;
            let Some(found) = found else {
                return Ok(None);
            };
            if !wins_token(&options, &found) {
                if !options.no_bump {
                    self.bump(&found);
                }
                return Ok(Some(ReadOutcome {
                    meta: found.meta(),
                    expiry_before: found.meta().expiry,
                    token_already_sent: found.header.bits & item::BIT_WIN != 0,
                    ..ReadOutcome::default()
                }));
            }
            if let Some(out) = out.as_deref_mut() {
                out.truncate(start);
            }
        }
        let start = out.as_ref().map_or(0, |out| out.len());
        self.mutate(
            key,
            ReadAndChange {
                options,
                out,
                out_start: start,
                outcome: ReadOutcome::default(),
                hit: false,
            },
        )
    }

    /// The key's live item, its value appended to `out` if given; without a lock
    /// unless it keeps losing races with writers.
    fn find_live(
        &self,
        key: &[u8],
        out: Option<&mut Vec<u8>>,
    ) -> Result<Option<Found>, CacheError> {
        self.find_live_framed(key, out, &mut |_, _| {})
    }

    /// `find_live`, with `header` written before the value.
    fn find_live_framed(
        &self,
        key: &[u8],
        mut out: Option<&mut Vec<u8>>,
        header: &mut dyn FnMut(&mut Vec<u8>, &ItemMeta),
    ) -> Result<Option<Found>, CacheError> {
        self.apply_due_flush();
        let hash = self.hash(key);
        let pair = self.index.pair(hash);
        let tag = Index::tag(hash);
        let now = self.now();
        let start = out.as_ref().map_or(0, |out| out.len());
        for _ in 0..LOCK_FREE_ATTEMPTS {
            let first = self.index.read_begin(pair.first);
            match self.find_in_bucket(pair.first, tag, key, &now) {
                Err(()) => continue,
                Ok(Some(found)) => {
                    let live = self.copy_if_live(&found, out.as_deref_mut(), header);
                    if self.index.read_valid(pair.first, first) {
                        return Ok(self.settle(found, live, (pair, tag, key, &now), None));
                    }
                    truncate(&mut out, start);
                    continue;
                }
                Ok(None) if pair.second == pair.first => {
                    if self.index.read_valid(pair.first, first) {
                        return Ok(None);
                    }
                    continue;
                }
                Ok(None) => {}
            }
            let second = self.index.read_begin(pair.second);
            match self.find_in_bucket(pair.second, tag, key, &now) {
                Err(()) => continue,
                Ok(Some(found)) => {
                    let live = self.copy_if_live(&found, out.as_deref_mut(), header);
                    if self.index.read_valid(pair.second, second) {
                        return Ok(self.settle(found, live, (pair, tag, key, &now), None));
                    }
                    truncate(&mut out, start);
                }
                Ok(None) => {
                    // Keys never move between their two buckets, so a miss in each
                    // under its own unchanged version is a miss.
                    if self.index.read_valid(pair.first, first)
                        && self.index.read_valid(pair.second, second)
                    {
                        return Ok(None);
                    }
                }
            }
        }
        let mut held = self.index.lock(pair);
        let found = self
            .find_in_pair(pair, tag, key, &now)
            .expect("an item under a held bucket is well formed");
        Ok(found.and_then(|found| {
            let live = self.copy_if_live(&found, out, header);
            self.settle(found, live, (pair, tag, key, &now), Some(&mut held))
        }))
    }

    /// `found` if it was live. Otherwise the read counts as one that met an expired
    /// or flushed item (memcached's `get_expired` and `get_flushed`) and, as in
    /// memcached, unlinks it, so that the next read is a plain miss. `held` is the
    /// key's bucket pair when `found` was read under it (then it is current);
    /// otherwise the pair is taken and the key looked up again, as an unlocked
    /// read's find may be stale by now.
    fn settle(
        &self,
        found: Found,
        live: bool,
        (pair, tag, key, now): (Pair, u16, &[u8], &Now<'_>),
        held: Option<&mut PairGuard<'_>>,
    ) -> Option<Found> {
        match found.liveness {
            _ if live => return Some(found),
            Liveness::Expired => self.counters.incr(Counter::ReadsExpired),
            Liveness::Flushed => self.counters.incr(Counter::ReadsFlushed),
            Liveness::Live => return None,
        }
        match held {
            Some(guard) => self.unlink(guard, &found),
            None => {
                let mut guard = self.index.lock(pair);
                let current = self
                    .find_in_pair(pair, tag, key, now)
                    .expect("an item under a held bucket is well formed");
                if let Some(current) = current.filter(|current| !current.is_live()) {
                    self.unlink(&mut guard, &current);
                }
            }
        }
        None
    }

    /// Appends a live item's header and value to `out`; whether it was live.
    fn copy_if_live(
        &self,
        found: &Found,
        out: Option<&mut Vec<u8>>,
        header: &mut dyn FnMut(&mut Vec<u8>, &ItemMeta),
    ) -> bool {
        if !found.is_live() {
            return false;
        }
        if let Some(out) = out {
            header(out, &found.meta());
            self.append_value(found, out);
        }
        true
    }

    /// Appends the item's value to `out`.
    pub(crate) fn append_value(&self, found: &Found, out: &mut Vec<u8>) {
        let at = self.addr(found.segment, found.offset + found.header.value_start());
        self.heap.append_to(at, found.header.value_len, out);
    }
}

fn truncate(out: &mut Option<&mut Vec<u8>>, len: usize) {
    if let Some(out) = out.as_deref_mut() {
        out.truncate(len);
    }
}

/// Whether a read with `options` wins the item's token (meta `W`): memcached hands
/// it to the first reader of a stale item, or of one whose TTL is below `R`.
fn wins_token(options: &ReadOptions, found: &Found) -> bool {
    let header = &found.header;
    if header.bits & item::BIT_WIN != 0 {
        return false;
    }
    let stale = options.win_tokens && header.bits & item::BIT_STALE != 0;
    let expiry = match (options.recache_after_touch, options.touch) {
        (true, Some(touch)) => touch.stored(),
        _ => header.expiry_unix_secs,
    };
    let recache = options
        .recache_before_unix_secs
        .is_some_and(|before| expiry != 0 && expiry < before);
    stale || recache
}

/// A read that changes the item: touch, vivify, win-token claim.
struct ReadAndChange<'o> {
    options: ReadOptions,
    out: Option<&'o mut Vec<u8>>,
    out_start: usize,
    outcome: ReadOutcome,
    hit: bool,
}

impl Mutation for ReadAndChange<'_> {
    type Output = Option<ReadOutcome>;

    fn decide(
        &mut self,
        cache: &Cache,
        current: Option<&Found>,
        now: &Now<'_>,
    ) -> Result<Plan<'_>, CacheError> {
        let options = self.options;
        if let Some(out) = self.out.as_deref_mut() {
            out.truncate(self.out_start);
        }
        self.outcome = ReadOutcome::default();
        let Some(found) = current else {
            self.hit = false;
            let Some(vivify) = options.vivify_on_miss else {
                return Ok(Plan::Keep { bump: false });
            };
            // A stub with an empty value; this reader wins the right to fill it
            // (unless it takes no part in win tokens).
            self.outcome.created = true;
            self.outcome.won = options.win_tokens;
            return Ok(Plan::Write(NewItem {
                meta_bits: if options.win_tokens { item::BIT_WIN } else { 0 },
                client_flags: 0,
                expiry_unix_secs: vivify.stored(),
                cas: NewCas::Fresh,
                value: [Part::None, Part::None],
                freq: if options.no_bump {
                    Freq::Zero
                } else {
                    Freq::One
                },
            }));
        };
        self.hit = true;
        if let Some(out) = self.out.as_deref_mut() {
            cache.append_value(found, out);
        }
        let won = wins_token(&options, found);
        self.outcome.won = won;
        self.outcome.token_already_sent = found.header.bits & item::BIT_WIN != 0;
        self.outcome.expiry_before = found.meta().expiry;
        let bump = !options.no_bump;
        let set_bits = if won { item::BIT_WIN } else { 0 };
        let Some(touch) = options.touch else {
            return Ok(if won {
                Plan::InPlace {
                    set_bits,
                    clear_bits: 0,
                    expiry_unix_secs: None,
                    bump,
                }
            } else {
                Plan::Keep { bump }
            });
        };
        if touch != Expiry::Never && touch.has_passed(now.get()) {
            // memcached's gat with a past exptime: this read gets the value, then it is gone.
            return Ok(Plan::Remove);
        }
        let in_place = found.header.expiry_field_offset().is_some() && touch != Expiry::Never;
        if in_place {
            return Ok(Plan::InPlace {
                set_bits,
                clear_bits: 0,
                expiry_unix_secs: Some(touch.stored()),
                bump,
            });
        }
        // Gaining or losing the expiry field means writing the item again; it keeps
        // its CAS (and its read counter), as a touch should.
        Ok(Plan::Write(NewItem {
            meta_bits: (found.header.bits & item::META_BITS) | set_bits,
            client_flags: found.header.client_flags,
            expiry_unix_secs: touch.stored(),
            cas: NewCas::Keep(found.cas),
            value: [Part::Current, Part::None],
            freq: Freq::Keep { bump },
        }))
    }

    fn finish(self, applied: Applied) -> Option<ReadOutcome> {
        if !self.hit && !self.outcome.created {
            return None;
        }
        let mut meta = applied.after.or(applied.before)?;
        meta.hit_before = applied.before.is_some_and(|before| before.hit_before);
        if !self.hit {
            meta.hit_before = false;
        }
        Some(ReadOutcome {
            meta,
            ..self.outcome
        })
    }
}
