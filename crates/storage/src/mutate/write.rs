//! Writing a new version into room reserved in its TTL bucket's active segment,
//! before it is linked: header, key and value gathered into whole heap words.

use super::*;
use crate::ttl::NoSpace;

/// A new version written into its room, not yet linked.
#[derive(Debug, Clone, Copy)]
pub(super) struct Written {
    pub(super) room: Room,
    pub(super) fields: Fields,
    pub(super) len: usize,
    pub(super) value_len: usize,
}

impl Cache {
    /// Reserves room for `new` and writes it there, unlinked. `Ok(None)` when the
    /// current value to copy was reused under a racing read (the attempt is lost).
    // Inlined into the write driver: its result was moved through stack copies that
    // stalled loads (perf, `examples/set_loop.rs`).
    #[inline(always)]
    pub(super) fn write_new(
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
        let start = self.addr(room.segment, room.offset);
        let mut writer = self.heap.writer(start);
        writer.push(&header[..header_len]);
        writer.push(key);
        let mut whole = true;
        for part in &new.value {
            match *part {
                Part::None => {}
                Part::Bytes(bytes) => writer.push(bytes),
                Part::Current => {
                    let at = writer.finish();
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
                    writer = self.heap.writer(at + len);
                }
            }
        }
        let end = writer.finish();
        debug_assert_eq!(end, start + len);
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
        Ok(Some(Written {
            room,
            fields,
            len,
            value_len,
        }))
    }

    pub(super) fn part_len(&self, part: &Part<'_>, live: Option<&Found>) -> usize {
        match part {
            Part::None => 0,
            Part::Bytes(bytes) => bytes.len(),
            Part::Current => live.map_or(0, |found| found.header.value_len),
        }
    }
}
