//! A full cross-check of the engine's bookkeeping, for tests: live counts against the
//! index, chains against segment states, the pool against free segments.

use crate::cache::Cache;
use crate::expiry::TTL_BUCKET_COUNT;
use crate::segment::{State, NO_SEGMENT};
use crate::slot;
use crate::sync::Ordering;
use std::collections::{HashMap, HashSet};

impl Cache {
    /// Checks every invariant of the engine's bookkeeping and says which one broke.
    /// Only meaningful while no other thread uses the engine; it takes seconds on a
    /// large heap, so it is for tests.
    ///
    /// - Every index slot points at a well-formed item in a segment in use, below
    ///   what the segment has reserved; the item's key hashes to a pair holding that
    ///   bucket, with the slot's tag; no key is linked twice.
    /// - Each segment's live count and bytes equal what the index points to in it.
    /// - Free segments are exactly those in the pool; segments in a chain are exactly
    ///   those marked so, each chain is linked both ways with its length, its head is
    ///   mirrored, and an active segment is its chain's tail; segments being emptied or
    ///   merged into belong to the maintenance job.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.check_index()?;
        self.check_segments()
    }

    fn check_index(&self) -> Result<(), String> {
        let mut live: HashMap<u32, (u64, u64)> = HashMap::new();
        let mut keys = HashSet::new();
        let mut failure = None;
        self.index.for_each_slot(|bucket, value| {
            if failure.is_some() {
                return;
            }
            let segment = slot::segment_id(value);
            let offset = slot::offset(value) as usize;
            let check = || -> Result<(u64, Vec<u8>), String> {
                let meta = self.segments.get(segment as usize).ok_or(format!(
                    "slot {value:#x} names segment {segment} of {}",
                    self.segments.len()
                ))?;
                if meta.state() == State::Free {
                    return Err(format!(
                        "slot {value:#x} points into free segment {segment}"
                    ));
                }
                let header = self
                    .read_header(segment, offset)
                    .ok_or(format!("slot {value:#x}: no item at {segment}:{offset}"))?;
                if offset + header.total_len() > meta.reserved_bytes() {
                    return Err(format!(
                        "item at {segment}:{offset} ends past the reserved bytes"
                    ));
                }
                let mut key = vec![0u8; header.key_len];
                self.heap
                    .read(self.addr(segment, offset + header.header_len), &mut key);
                let hash = self.hash(&key);
                if !self.index.holds_hash(bucket, hash) || slot::tag(value) != slot::tag_of(hash) {
                    return Err(format!(
                        "key {key:?} linked from bucket {bucket} that is not its own"
                    ));
                }
                Ok((header.total_len() as u64, key))
            };
            match check() {
                Ok((len, key)) => {
                    let entry = live.entry(segment).or_default();
                    entry.0 += 1;
                    entry.1 += len;
                    if !keys.insert(key.clone()) {
                        failure = Some(format!("key {key:?} is linked twice"));
                    }
                }
                Err(error) => failure = Some(error),
            }
        });
        if let Some(failure) = failure {
            return Err(failure);
        }
        for (id, meta) in self.segments.iter().enumerate() {
            let expected = live
                .get(&crate::slot::segment_id_of(id))
                .copied()
                .unwrap_or_default();
            if meta.live() != expected {
                return Err(format!(
                    "segment {id} counts {:?} live (items, bytes), the index points to {expected:?}",
                    meta.live()
                ));
            }
        }
        Ok(())
    }

    fn check_segments(&self) -> Result<(), String> {
        let free: HashSet<u32> = self.pool.free_ids().into_iter().collect();
        if free.len() != self.pool.free_ids().len() || free.len() != self.pool.free_count() {
            return Err("the pool holds a segment twice or miscounts".into());
        }
        let job: HashSet<u32> = self.maintenance.lock().job_segments().into_iter().collect();
        let mut in_chains = HashSet::new();
        for bucket in 0..TTL_BUCKET_COUNT as u32 {
            self.check_chain(bucket, &mut in_chains)?;
        }
        for (id, meta) in self.segments.iter().enumerate() {
            let id = crate::slot::segment_id_of(id);
            let state = meta.state();
            let consistent = match state {
                State::Free => free.contains(&id),
                State::InChain => in_chains.contains(&id),
                State::Emptying | State::MergeTarget => job.contains(&id),
            };
            let exclusive = [
                free.contains(&id),
                in_chains.contains(&id),
                job.contains(&id),
            ]
            .iter()
            .filter(|&&b| b)
            .count()
                == 1;
            if !consistent || !exclusive {
                return Err(format!(
                    "segment {id} is {state:?} but not (only) where that puts it"
                ));
            }
        }
        Ok(())
    }

    fn check_chain(&self, bucket: u32, seen: &mut HashSet<u32>) -> Result<(), String> {
        let chain = self.ttl.lock(bucket);
        if self.ttl.head(bucket) != chain.head {
            return Err(format!("TTL bucket {bucket}: mirrored head is stale"));
        }
        let mut previous = NO_SEGMENT;
        let mut id = chain.head;
        let mut len = 0;
        while id != NO_SEGMENT {
            let meta = self.segment(id);
            if !seen.insert(id) || len > self.segments.len() {
                return Err(format!(
                    "TTL bucket {bucket}: segment {id} is in a chain twice"
                ));
            }
            if meta.prev.load(Ordering::Relaxed) != previous {
                return Err(format!(
                    "TTL bucket {bucket}: segment {id} links back wrongly"
                ));
            }
            if meta.ttl_bucket.load(Ordering::Relaxed) != bucket {
                return Err(format!(
                    "segment {id} is in TTL bucket {bucket}'s chain but says otherwise"
                ));
            }
            previous = id;
            id = meta.next.load(Ordering::Relaxed);
            len += 1;
        }
        if previous != chain.tail || len != chain.len as usize {
            return Err(format!("TTL bucket {bucket}: tail or length is wrong"));
        }
        let active = self.ttl.active(bucket);
        if active != NO_SEGMENT && active != chain.tail {
            return Err(format!(
                "TTL bucket {bucket}: active segment {active} is not the tail"
            ));
        }
        Ok(())
    }
}
