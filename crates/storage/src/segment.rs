//! Segments: fixed-size stretches of the heap that items are appended to, and the
//! bookkeeping each one carries.
//!
//! A segment is free (in the pool), active (its TTL bucket appends to it), sealed (full
//! or retired, waiting to expire or be evicted), being emptied by an eviction or expiry
//! job, or the destination of a merge. Appends reserve space with one compare-and-swap
//! on the fill word, so writers of any key can share a TTL bucket's active segment:
//!
//! ```text
//! fill:  | sealed (1) | writers still copying (31) | bytes reserved (32) |
//! live:  | items linked from the index (32) | their bytes (32) |
//! ```
//!
//! A job that empties a segment first seals it and waits until no writer is still
//! copying into it; from then on every byte below the fill offset is a well-formed item.

use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// Marks "no segment" where a segment id is expected.
pub(crate) const NO_SEGMENT: u32 = u32::MAX;

const SEALED: u64 = 1 << 63;
const WRITER_ONE: u64 = 1 << 32;
const WRITERS_MASK: u64 = ((1 << 31) - 1) << 32;
const OFFSET_MASK: u64 = 0xffff_ffff;
const ITEM_ONE: u64 = 1 << 32;

/// What a segment is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum State {
    /// In the pool.
    Free = 0,
    /// Its TTL bucket's active segment, or a retired one still in the chain.
    InChain = 1,
    /// Out of its chain; a job is unlinking its items.
    Emptying = 2,
    /// Out of any chain; a merge is copying survivors into it.
    MergeTarget = 3,
}

/// Bookkeeping of one segment. Fields are atomics read without locks; chain links are
/// written under the TTL bucket's lock, the rest as each field says.
#[repr(align(128))]
#[derive(Debug)]
pub(crate) struct SegmentMeta {
    /// Reservations: see the module docs. On a cache line of its own: every writer of
    /// the TTL bucket swaps it, and readers need the fields below.
    fill: PaddedFill,
    /// Items the index points to here, and their bytes.
    live: AtomicU64,
    /// First CAS of this incarnation: an item's derived CAS is `cas_base + offset`.
    pub cas_base: AtomicU64,
    /// Age of the oldest data here (taken-from-pool sequence; a merge keeps its
    /// sources' oldest). flush_all kills every segment whose epoch is below its own.
    pub epoch: AtomicU64,
    /// Eviction order: smaller goes first (merge renews it).
    pub order: AtomicU64,
    /// Latest expiry of an item written here (unix seconds; 0 = none yet).
    pub max_expiry_unix_secs: AtomicU32,
    /// Items' access times count from here (unix seconds; a merge keeps its
    /// sources' earliest, so copied times still fit).
    pub time_base_unix_secs: AtomicU32,
    /// The TTL bucket this segment belongs to.
    pub ttl_bucket: AtomicU32,
    state: AtomicU32,
    /// Neighbours in the TTL bucket's chain (NO_SEGMENT at the ends).
    pub prev: AtomicU32,
    /// See `prev`.
    pub next: AtomicU32,
}

/// A segment's bookkeeping as plain values (the heap file's image of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentImage {
    pub fill: u64,
    pub live: u64,
    pub cas_base: u64,
    pub epoch: u64,
    pub order: u64,
    pub max_expiry_unix_secs: u32,
    pub time_base_unix_secs: u32,
    pub ttl_bucket: u32,
    pub state: u32,
    pub prev: u32,
    pub next: u32,
}

impl SegmentImage {
    /// Bytes reserved in the segment.
    pub(crate) fn reserved_bytes(&self) -> usize {
        (self.fill & OFFSET_MASK) as usize
    }

    /// Writers still copying into the segment.
    pub(crate) fn writers(&self) -> u64 {
        (self.fill & WRITERS_MASK) >> 32
    }

    /// Live items and their bytes.
    pub(crate) fn live(&self) -> (u64, u64) {
        (self.live >> 32, self.live & 0xffff_ffff)
    }
}

/// The fill word, alone on its cache line.
#[repr(align(128))]
#[derive(Debug)]
struct PaddedFill(AtomicU64);

impl std::ops::Deref for PaddedFill {
    type Target = AtomicU64;

    fn deref(&self) -> &AtomicU64 {
        &self.0
    }
}

impl SegmentMeta {
    /// A free segment.
    pub(crate) fn new() -> SegmentMeta {
        SegmentMeta {
            fill: PaddedFill(AtomicU64::new(0)),
            live: AtomicU64::new(0),
            cas_base: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            order: AtomicU64::new(0),
            max_expiry_unix_secs: AtomicU32::new(0),
            time_base_unix_secs: AtomicU32::new(0),
            ttl_bucket: AtomicU32::new(0),
            state: AtomicU32::new(State::Free as u32),
            prev: AtomicU32::new(NO_SEGMENT),
            next: AtomicU32::new(NO_SEGMENT),
        }
    }

    /// Readies a segment taken from the pool: empty, unsealed, with a fresh CAS range
    /// and age. Nothing else can reach it yet.
    pub(crate) fn reset(
        &self,
        state: State,
        ttl_bucket: u32,
        cas_base: u64,
        sequence: u64,
        time_base_unix_secs: u32,
    ) {
        debug_assert_eq!(self.state(), State::Free);
        debug_assert_eq!(self.live(), (0, 0), "a free segment holds no live item");
        self.fill.store(0, Ordering::Relaxed);
        self.cas_base.store(cas_base, Ordering::Relaxed);
        self.epoch.store(sequence, Ordering::Relaxed);
        self.order.store(sequence, Ordering::Relaxed);
        self.max_expiry_unix_secs.store(0, Ordering::Relaxed);
        self.time_base_unix_secs
            .store(time_base_unix_secs, Ordering::Relaxed);
        self.ttl_bucket.store(ttl_bucket, Ordering::Relaxed);
        self.prev.store(NO_SEGMENT, Ordering::Relaxed);
        self.next.store(NO_SEGMENT, Ordering::Relaxed);
        self.set_state(state);
    }

    /// What the segment is doing now.
    pub(crate) fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            0 => State::Free,
            1 => State::InChain,
            2 => State::Emptying,
            _ => State::MergeTarget,
        }
    }

    /// Moves the segment to `state`.
    pub(crate) fn set_state(&self, state: State) {
        self.state.store(state as u32, Ordering::Release);
    }

    /// Reserves `len` bytes for one writer, who must call [`Self::finish_write`] once
    /// the item is written and linked (or abandoned); `None` if sealed or too full.
    pub(crate) fn try_reserve(&self, len: usize, capacity: usize) -> Option<usize> {
        let mut current = self.fill.load(Ordering::Relaxed);
        loop {
            let offset = (current & OFFSET_MASK) as usize;
            if current & SEALED != 0 || offset + len > capacity {
                return None;
            }
            let next = current + len as u64 + WRITER_ONE;
            match self.fill.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(offset),
                Err(actual) => current = actual,
            }
        }
    }

    /// A writer is done with its reservation; its bytes are visible to whoever sees
    /// the writer count drop ([`Self::quiet_end`]).
    pub(crate) fn finish_write(&self) {
        let before = self.fill.fetch_sub(WRITER_ONE, Ordering::Release);
        debug_assert!(before & WRITERS_MASK != 0, "finish without reserve");
    }

    /// Refuses every later reservation.
    pub(crate) fn seal(&self) {
        self.fill.fetch_or(SEALED, Ordering::Relaxed);
    }

    /// Bytes reserved so far (written or still being written).
    pub(crate) fn reserved_bytes(&self) -> usize {
        (self.fill.load(Ordering::Relaxed) & OFFSET_MASK) as usize
    }

    /// For a sealed segment: the end of its items once no writer is still copying
    /// into it, `None` while one is.
    pub(crate) fn quiet_end(&self) -> Option<usize> {
        let fill = self.fill.load(Ordering::Acquire);
        debug_assert!(fill & SEALED != 0, "only a sealed segment stays quiet");
        (fill & WRITERS_MASK == 0).then_some((fill & OFFSET_MASK) as usize)
    }

    /// An item of `len` bytes was linked here.
    pub(crate) fn add_live(&self, len: usize) {
        self.live
            .fetch_add(ITEM_ONE + len as u64, Ordering::Relaxed);
    }

    /// An item of `len` bytes here was unlinked.
    pub(crate) fn remove_live(&self, len: usize) {
        let before = self
            .live
            .fetch_sub(ITEM_ONE + len as u64, Ordering::Relaxed);
        debug_assert!(
            before >> 32 >= 1 && before & 0xffff_ffff >= len as u64,
            "live count went below zero"
        );
    }

    /// Live items and their bytes.
    pub(crate) fn live(&self) -> (u64, u64) {
        let live = self.live.load(Ordering::Relaxed);
        (live >> 32, live & 0xffff_ffff)
    }

    /// Every field, for the heap file's image.
    pub(crate) fn image(&self) -> SegmentImage {
        SegmentImage {
            fill: self.fill.load(Ordering::Acquire),
            live: self.live.load(Ordering::Relaxed),
            cas_base: self.cas_base.load(Ordering::Relaxed),
            epoch: self.epoch.load(Ordering::Relaxed),
            order: self.order.load(Ordering::Relaxed),
            max_expiry_unix_secs: self.max_expiry_unix_secs.load(Ordering::Relaxed),
            time_base_unix_secs: self.time_base_unix_secs.load(Ordering::Relaxed),
            ttl_bucket: self.ttl_bucket.load(Ordering::Relaxed),
            state: self.state.load(Ordering::Acquire),
            prev: self.prev.load(Ordering::Relaxed),
            next: self.next.load(Ordering::Relaxed),
        }
    }

    /// Sets every field from an image; nothing else may use the segment meanwhile.
    pub(crate) fn restore(&self, image: &SegmentImage) {
        self.fill.store(image.fill, Ordering::Relaxed);
        self.live.store(image.live, Ordering::Relaxed);
        self.cas_base.store(image.cas_base, Ordering::Relaxed);
        self.epoch.store(image.epoch, Ordering::Relaxed);
        self.order.store(image.order, Ordering::Relaxed);
        self.max_expiry_unix_secs
            .store(image.max_expiry_unix_secs, Ordering::Relaxed);
        self.time_base_unix_secs
            .store(image.time_base_unix_secs, Ordering::Relaxed);
        self.ttl_bucket.store(image.ttl_bucket, Ordering::Relaxed);
        self.prev.store(image.prev, Ordering::Relaxed);
        self.next.store(image.next, Ordering::Relaxed);
        self.state.store(image.state, Ordering::Release);
    }

    /// Raises the segment's latest expiry to at least `expiry_unix_secs`.
    pub(crate) fn note_expiry(&self, expiry_unix_secs: u32) {
        if expiry_unix_secs != 0 {
            self.max_expiry_unix_secs
                .fetch_max(expiry_unix_secs, Ordering::Relaxed);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_disjoint_and_stop_at_capacity_or_seal() {
        let meta = SegmentMeta::new();
        meta.reset(State::InChain, 0, 1, 0, 0);
        assert_eq!(meta.try_reserve(40, 100), Some(0));
        assert_eq!(meta.try_reserve(40, 100), Some(40));
        assert_eq!(meta.try_reserve(40, 100), None, "over capacity");
        assert_eq!(meta.try_reserve(20, 100), Some(80));
        meta.seal();
        assert_eq!(meta.try_reserve(0, 100), None, "sealed");
        assert_eq!(meta.quiet_end(), None, "three writers still copying");
        for _ in 0..3 {
            meta.finish_write();
        }
        assert_eq!(meta.quiet_end(), Some(100));
    }

    #[test]
    fn live_counts_add_and_remove_items_and_bytes() {
        let meta = SegmentMeta::new();
        meta.add_live(51);
        meta.add_live(49);
        meta.remove_live(51);
        assert_eq!(meta.live(), (1, 49));
    }

    #[test]
    fn concurrent_reservations_never_overlap() {
        let meta = SegmentMeta::new();
        meta.reset(State::InChain, 0, 1, 0, 0);
        let taken = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for len in [7usize, 13] {
                let (meta, taken) = (&meta, &taken);
                scope.spawn(move || {
                    while let Some(offset) = meta.try_reserve(len, 10_000) {
                        taken.lock().unwrap().push((offset, len));
                        meta.finish_write();
                    }
                });
            }
        });
        let mut taken = taken.into_inner().unwrap();
        taken.sort();
        for pair in taken.windows(2) {
            assert!(pair[0].0 + pair[0].1 <= pair[1].0, "{pair:?} overlap");
        }
        meta.seal();
        assert_eq!(meta.quiet_end(), Some(meta.reserved_bytes()));
    }
}
