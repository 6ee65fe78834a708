//! TTL buckets: items with similar lifetimes are appended to the same segments, so
//! that a segment's items expire together and it can be dropped whole.
//!
//! The buckets are shared by the whole engine (not per shard), so there is at most one
//! part-filled active segment per distinct TTL range. Each bucket keeps its segments
//! in a chain, oldest first, with the active one at the tail. Writers of any key append
//! to the active segment with one compare-and-swap (`segment.rs`); the chain's lock is
//! taken only to install a new active segment or to take one out for a job.

use crate::cache::Cache;
use crate::expiry::TTL_BUCKET_COUNT;
use crate::segment::{State, NO_SEGMENT};
use crate::sync::{AtomicU32, Mutex, MutexGuard, Ordering};

/// A TTL bucket's chain of segments.
#[derive(Debug)]
pub(crate) struct Chain {
    pub head: u32,
    pub tail: u32,
    pub len: u32,
}

#[repr(align(64))]
struct TtlBucket {
    /// The segment appended to, or `NO_SEGMENT`.
    active: AtomicU32,
    chain: Mutex<Chain>,
}

/// Every TTL bucket.
pub(crate) struct TtlBuckets {
    buckets: Box<[TtlBucket]>,
    /// Each chain's first segment, mirrored side by side so that a scan of all
    /// buckets reads 4 KiB and takes no lock.
    heads: Box<[AtomicU32]>,
}

/// Room reserved in a segment for one item.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Room {
    pub segment: u32,
    pub offset: usize,
}

/// No free segment was left for a new active one.
#[derive(Debug)]
pub(crate) struct NoSpace;

impl TtlBuckets {
    /// Bytes the TTL buckets take (counted in the engine's budget).
    pub(crate) const FOOTPRINT_BYTES: usize =
        TTL_BUCKET_COUNT * (std::mem::size_of::<TtlBucket>() + std::mem::size_of::<AtomicU32>());

    pub(crate) fn new() -> TtlBuckets {
        TtlBuckets {
            buckets: (0..TTL_BUCKET_COUNT)
                .map(|_| TtlBucket {
                    active: AtomicU32::new(NO_SEGMENT),
                    chain: Mutex::new(Chain {
                        head: NO_SEGMENT,
                        tail: NO_SEGMENT,
                        len: 0,
                    }),
                })
                .collect(),
            heads: (0..TTL_BUCKET_COUNT)
                .map(|_| AtomicU32::new(NO_SEGMENT))
                .collect(),
        }
    }

    /// The active segment of `bucket`, or `NO_SEGMENT`.
    pub(crate) fn active(&self, bucket: u32) -> u32 {
        self.buckets[bucket as usize].active.load(Ordering::Acquire)
    }

    /// The first segment of `bucket`'s chain, or `NO_SEGMENT` (read without the lock).
    pub(crate) fn head(&self, bucket: u32) -> u32 {
        self.heads[bucket as usize].load(Ordering::Relaxed)
    }

    /// `bucket`'s active segment and chain (head, tail, length), for the heap file.
    pub(crate) fn image(&self, bucket: u32) -> [u32; 4] {
        let entry = &self.buckets[bucket as usize];
        let chain = entry.chain.lock();
        [
            entry.active.load(Ordering::Acquire),
            chain.head,
            chain.tail,
            chain.len,
        ]
    }

    /// Sets `bucket` from its image; nothing else may use the buckets meanwhile.
    pub(crate) fn restore(&self, bucket: u32, [active, head, tail, len]: [u32; 4]) {
        let entry = &self.buckets[bucket as usize];
        *entry.chain.lock() = Chain { head, tail, len };
        self.heads[bucket as usize].store(head, Ordering::Relaxed);
        entry.active.store(active, Ordering::Release);
    }

    /// Takes `bucket`'s chain lock.
    pub(crate) fn lock(&self, bucket: u32) -> MutexGuard<'_, Chain> {
        self.buckets[bucket as usize].chain.lock()
    }
}

impl Cache {
    /// Reserves `len` bytes for an item in `bucket`'s active segment, installing a new
    /// active segment from the pool when the current one is full. The caller must
    /// write a whole item there and then call `finish_write` on the segment.
    pub(crate) fn reserve(&self, bucket: u32, len: usize) -> Result<Room, NoSpace> {
        let capacity = self.config.segment_size_bytes;
        let entry = &self.ttl.buckets[bucket as usize];
        loop {
            let active = entry.active.load(Ordering::Acquire);
            if active != NO_SEGMENT {
                if let Some(offset) = self.segment(active).try_reserve(len, capacity) {
                    return Ok(Room {
                        segment: active,
                        offset,
                    });
                }
            }
            let mut chain = entry.chain.lock();
            if entry.active.load(Ordering::Relaxed) != active {
                continue; // another writer installed one meanwhile
            }
            let fresh = self.pool.take().ok_or(NoSpace)?;
            if active != NO_SEGMENT {
                self.segment(active).seal();
            }
            self.take_segment(fresh, State::InChain, bucket);
            self.push_back(bucket, &mut chain, fresh);
            entry.active.store(fresh, Ordering::Release);
        }
    }

    /// The smallest CAS an item stored in `bucket` now would derive: what decides
    /// whether a new version needs an explicit CAS to stay above the old one.
    pub(crate) fn derived_cas_floor(&self, bucket: u32) -> u64 {
        match self.ttl.active(bucket) {
            NO_SEGMENT => self.next_cas.load(Ordering::Relaxed),
            active => {
                let meta = self.segment(active);
                meta.cas_base.load(Ordering::Relaxed) + meta.reserved_bytes() as u64
            }
        }
    }

    /// Readies a segment just taken from the pool: a fresh CAS range and age stamp.
    pub(crate) fn take_segment(&self, id: u32, state: State, bucket: u32) {
        let cas_base = self
            .next_cas
            .fetch_add(self.config.segment_size_bytes as u64, Ordering::Relaxed);
        let sequence = self.next_sequence.fetch_add(1, Ordering::SeqCst);
        let time_base = self
            .now()
            .get()
            .saturating_sub(crate::item::ACCESS_LOOKBACK_SECS);
        self.segment(id)
            .reset(state, bucket, cas_base, sequence, time_base);
    }

    /// Seals `bucket`'s active segment and leaves the bucket without one (the segment
    /// stays in the chain). For flush_all and for an active segment that expired.
    pub(crate) fn retire_active(&self, bucket: u32) {
        let entry = &self.ttl.buckets[bucket as usize];
        let _chain = entry.chain.lock();
        let active = entry.active.load(Ordering::Relaxed);
        if active != NO_SEGMENT {
            self.segment(active).seal();
            entry.active.store(NO_SEGMENT, Ordering::Release);
        }
    }

    /// Appends `id` to the chain.
    pub(crate) fn push_back(&self, bucket: u32, chain: &mut Chain, id: u32) {
        let meta = self.segment(id);
        meta.prev.store(chain.tail, Ordering::Relaxed);
        meta.next.store(NO_SEGMENT, Ordering::Relaxed);
        if chain.tail == NO_SEGMENT {
            chain.head = id;
            self.ttl.heads[bucket as usize].store(id, Ordering::Relaxed);
        } else {
            self.segment(chain.tail).next.store(id, Ordering::Relaxed);
        }
        chain.tail = id;
        chain.len += 1;
    }

    /// Puts `id` just before the active segment (at the tail if there is none): the
    /// back of the line for eviction, behind every other retired segment.
    pub(crate) fn insert_before_active(&self, bucket: u32, chain: &mut Chain, id: u32) {
        let active = self.ttl.active(bucket);
        if active == NO_SEGMENT || chain.tail != active {
            return self.push_back(bucket, chain, id);
        }
        let before = self.segment(active).prev.load(Ordering::Relaxed);
        let meta = self.segment(id);
        meta.prev.store(before, Ordering::Relaxed);
        meta.next.store(active, Ordering::Relaxed);
        self.segment(active).prev.store(id, Ordering::Relaxed);
        if before == NO_SEGMENT {
            chain.head = id;
            self.ttl.heads[bucket as usize].store(id, Ordering::Relaxed);
        } else {
            self.segment(before).next.store(id, Ordering::Relaxed);
        }
        chain.len += 1;
    }

    /// Takes `id` out of its chain; if it was the active segment, the bucket is left
    /// without one. The segment is sealed so no writer appends to it any more.
    pub(crate) fn unlink_from_chain(&self, bucket: u32, chain: &mut Chain, id: u32) {
        let entry = &self.ttl.buckets[bucket as usize];
        let meta = self.segment(id);
        meta.seal();
        if entry.active.load(Ordering::Relaxed) == id {
            entry.active.store(NO_SEGMENT, Ordering::Release);
        }
        let (prev, next) = (
            meta.prev.load(Ordering::Relaxed),
            meta.next.load(Ordering::Relaxed),
        );
        if prev == NO_SEGMENT {
            chain.head = next;
            self.ttl.heads[bucket as usize].store(next, Ordering::Relaxed);
        } else {
            self.segment(prev).next.store(next, Ordering::Relaxed);
        }
        if next == NO_SEGMENT {
            chain.tail = prev;
        } else {
            self.segment(next).prev.store(prev, Ordering::Relaxed);
        }
        meta.prev.store(NO_SEGMENT, Ordering::Relaxed);
        meta.next.store(NO_SEGMENT, Ordering::Relaxed);
        chain.len -= 1;
    }
}
