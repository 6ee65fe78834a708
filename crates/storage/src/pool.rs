//! The free pool: segments no TTL bucket uses, waiting to be taken.

use crate::slot;
use crate::sync::{AtomicU64, AtomicUsize, Mutex, Ordering};

/// Free segment ids. The lock is taken once per segment's worth of writes.
#[derive(Debug)]
pub(crate) struct Pool {
    free: Mutex<Vec<u32>>,
    free_count: AtomicUsize,
    /// Segments taken since start: the write rate the reserve is sized from.
    taken_total: AtomicU64,
}

impl Pool {
    /// A pool holding every one of `segment_count` segments.
    pub(crate) fn new(segment_count: usize) -> Pool {
        Pool {
            free: Mutex::new((0..segment_count).rev().map(slot::segment_id_of).collect()),
            free_count: AtomicUsize::new(segment_count),
            taken_total: AtomicU64::new(0),
        }
    }

    /// A free segment, if any.
    pub(crate) fn take(&self) -> Option<u32> {
        let mut free = self.free.lock();
        let id = free.pop()?;
        self.free_count.store(free.len(), Ordering::Relaxed);
        self.taken_total.fetch_add(1, Ordering::Relaxed);
        Some(id)
    }

    /// Returns a segment none of whose items the index points to any more.
    pub(crate) fn give_back(&self, id: u32) {
        let mut free = self.free.lock();
        debug_assert!(!free.contains(&id), "segment {id} freed twice");
        free.push(id);
        self.free_count.store(free.len(), Ordering::Relaxed);
    }

    /// Makes `free` the free segments (taken first from the end); for a restore.
    pub(crate) fn restore(&self, free: Vec<u32>) {
        let mut list = self.free.lock();
        *list = free;
        self.free_count.store(list.len(), Ordering::Relaxed);
    }

    /// Free segments now.
    pub(crate) fn free_count(&self) -> usize {
        self.free_count.load(Ordering::Relaxed)
    }

    /// Segments taken since start.
    pub(crate) fn taken_total(&self) -> u64 {
        self.taken_total.load(Ordering::Relaxed)
    }

    /// The free ids, for invariant checks.
    #[cfg(not(loom))]
    pub(crate) fn free_ids(&self) -> Vec<u32> {
        self.free.lock().clone()
    }
}
