//! Pointing a key at its new version under the held buckets, and taking old
//! versions out: unlinked, marked dead and forgotten by their segment.

use super::*;

impl Cache {
    /// Points the key at its new version, under the hold; returns its metadata.
    pub(super) fn link(
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
        let value = slot::pack(tag, freq, room.segment, room.offset);
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
    pub(super) fn choose_victim(
        &self,
        guard: &PairGuard<'_>,
        now: &crate::cache::Now<'_>,
    ) -> Found {
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
    pub(super) fn rewrite_in_place(
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
