//! flush_all: invalidating every item stored before a moment, now or later.
//!
//! A flush is one global step: it takes the next age stamp as the flush epoch, so
//! every segment taken from the pool before it (every item stored before it) is dead
//! from then on, and it seals every active segment, so that later writes go to new
//! segments and survive. Readers compare a segment's epoch with the flush epoch; the
//! background reclaims dead segments whole. A delayed flush waits in `pending` and is
//! applied by the first operation that sees its time come, before that operation does
//! anything else, so nothing written after the flush time is lost and nothing written
//! before it survives.
//!
//! memcached without CAS (`-C`) cannot draw that line inside a second: its flush
//! kills every item stored up to the end of the flush's second, even those stored
//! after the flush in that second. [`Cache::flush_through_second`] does the same, for
//! servers that must answer as memcached does: during the flush's second every item
//! reads as flushed, and at the next second an exact flush takes what was written in it.

use crate::cache::Cache;
use crate::segment::NO_SEGMENT;
use crate::sync::{AtomicU64, Mutex, Ordering};

/// The engine's flush state.
#[derive(Debug)]
pub(crate) struct Flush {
    /// Segments whose epoch is below this hold only flushed items.
    epoch: AtomicU64,
    /// Unix second a delayed flush takes effect at; 0 = none waiting.
    pending_at_unix_secs: AtomicU64,
    /// Whether dead segments may still be waiting to be reclaimed.
    reclaim_due: AtomicU64,
    /// Unix second during which every item reads as flushed (`flush_through_second`);
    /// 0 = none.
    dead_second: AtomicU64,
    /// One flush at a time.
    lock: Mutex<()>,
}

/// A reclaim time already past: reclaim at the next step.
pub(crate) const RECLAIM_AT_ONCE: u32 = 1;

impl Flush {
    pub(crate) fn new() -> Flush {
        Flush {
            epoch: AtomicU64::new(0),
            pending_at_unix_secs: AtomicU64::new(0),
            reclaim_due: AtomicU64::new(0),
            dead_second: AtomicU64::new(0),
            lock: Mutex::new(()),
        }
    }

    /// Epoch, delayed flush time and reclaim mark, for the heap file.
    pub(crate) fn image(&self) -> [u64; 3] {
        [
            self.epoch.load(Ordering::Acquire),
            self.pending_at_unix_secs.load(Ordering::Acquire),
            self.reclaim_due.load(Ordering::Relaxed),
        ]
    }

    /// Sets the flush state from its image.
    pub(crate) fn restore(&self, [epoch, pending_at_unix_secs, reclaim_due]: [u64; 3]) {
        self.epoch.store(epoch, Ordering::Release);
        self.pending_at_unix_secs
            .store(pending_at_unix_secs, Ordering::Release);
        self.reclaim_due.store(reclaim_due, Ordering::Relaxed);
    }

    /// Whether a segment of this epoch was flushed.
    pub(crate) fn kills(&self, segment_epoch: u64) -> bool {
        segment_epoch < self.epoch.load(Ordering::Acquire)
    }

    /// Whether every item reads as flushed at `now_unix_secs` (see
    /// [`Cache::flush_through_second`]).
    pub(crate) fn kills_all_at(&self, now_unix_secs: impl FnOnce() -> u32) -> bool {
        let second = self.dead_second.load(Ordering::Acquire);
        second != 0 && u64::from(now_unix_secs()) == second
    }

    /// Whether dead segments wait to be reclaimed by `now_unix_secs`; clears the mark
    /// once it is due.
    pub(crate) fn take_reclaim_due(&self, now_unix_secs: u32) -> bool {
        let due = self.reclaim_due.load(Ordering::Relaxed);
        due != 0
            && due <= u64::from(now_unix_secs)
            && self
                .reclaim_due
                .compare_exchange(due, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Marks that dead segments may be waiting (again), to be reclaimed from
    /// `due_unix_secs` on ([`RECLAIM_AT_ONCE`]: now).
    pub(crate) fn mark_reclaim_due(&self, due_unix_secs: u32) {
        let due = u64::from(due_unix_secs.max(RECLAIM_AT_ONCE));
        // An earlier mark still waiting keeps its earlier time.
        let _ = self
            .reclaim_due
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
                (current == 0 || current > due).then_some(due)
            });
    }
}

impl Cache {
    /// Invalidates every item stored before now.
    pub fn flush_all(&self) {
        let _one_at_a_time = self.flush.lock.lock();
        self.flush_locked();
    }

    /// memcached's flush without CAS (`-C`): from second `unix_secs` on (now, if it
    /// has passed), every item stored up to the end of that second is invalidated,
    /// also those stored during it, which read as flushed as soon as they are
    /// written. Replaces a flush still waiting for its time, as any flush does.
    pub fn flush_through_second(&self, unix_secs: u32) {
        let _one_at_a_time = self.flush.lock.lock();
        let now = self.now_unix_secs();
        self.apply_due_flush_locked(now);
        let second = unix_secs.max(now);
        if second == now {
            self.flush_locked();
        }
        // The exact flush at the next second takes what was written in this one.
        self.flush
            .pending_at_unix_secs
            .store(u64::from(second) + 1, Ordering::SeqCst);
        self.flush
            .dead_second
            .store(u64::from(second), Ordering::SeqCst);
    }

    /// Invalidates, at `unix_secs`, every item stored before then (at once if that is
    /// not in the future). Replaces a flush still waiting for its time.
    pub fn flush_all_at(&self, unix_secs: u32) {
        let _one_at_a_time = self.flush.lock.lock();
        let now = self.now_unix_secs();
        self.apply_due_flush_locked(now);
        self.flush.dead_second.store(0, Ordering::SeqCst);
        if unix_secs <= now {
            self.flush_locked();
        } else {
            self.flush
                .pending_at_unix_secs
                .store(u64::from(unix_secs), Ordering::SeqCst);
        }
    }

    /// Applies a waiting flush whose time has come. Every operation calls this first;
    /// with no flush waiting it costs one load.
    pub(crate) fn apply_due_flush(&self) {
        let pending = self.flush.pending_at_unix_secs.load(Ordering::Acquire);
        if pending == 0 || u64::from(self.now_unix_secs()) < pending {
            return;
        }
        let _one_at_a_time = self.flush.lock.lock();
        // Another thread may have applied or replaced it meanwhile.
        self.apply_due_flush_locked(self.now_unix_secs());
    }

    /// Applies a waiting flush due by `now_unix_secs`, before a later flush replaces
    /// it; the caller holds the flush lock.
    fn apply_due_flush_locked(&self, now_unix_secs: u32) {
        let pending = self.flush.pending_at_unix_secs.load(Ordering::Acquire);
        if pending != 0 && u64::from(now_unix_secs) >= pending {
            self.flush_locked();
        }
    }

    /// The flush itself; the caller holds the flush lock.
    fn flush_locked(&self) {
        let epoch = self.next_sequence.fetch_add(1, Ordering::SeqCst) + 1;
        self.flush.epoch.store(epoch, Ordering::Release);
        self.flush.pending_at_unix_secs.store(0, Ordering::Release);
        self.flush.dead_second.store(0, Ordering::Release);
        for bucket in 0..crate::expiry::TTL_BUCKET_COUNT as u32 {
            if self.ttl.active(bucket) != NO_SEGMENT {
                self.retire_active(bucket);
            }
        }
        // memcached leaves flushed items to be found by reads (counted as
        // get_flushed) or its crawler; the reclaim starts in the next second, so
        // that the reads right after a flush still meet what it killed.
        self.flush
            .mark_reclaim_due(self.now_unix_secs().saturating_add(1));
    }
}
