//! A worker's heartbeat: the counter it bumps at every scheduling point and the
//! name of the task it runs, read by the [`crate::Watchdog`].

use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::stack_capture;

/// Distinct task names the heartbeats can tell apart; a worker has a handful
/// (poll, serve, maintenance, bulk...), so 32 leaves room without a map.
const TASK_NAMES_MAX: usize = 32;

/// Names interned by [`Heartbeat::enter`], shared by all heartbeats: a slot
/// index fits one atomic word, a `&str` does not.
static TASK_NAMES: [OnceLock<&'static str>; TASK_NAMES_MAX] =
    [const { OnceLock::new() }; TASK_NAMES_MAX];

/// Slot of a worker blocked in poll: waiting for work is not a stall.
pub(crate) const SLOT_IDLE: usize = usize::MAX;
/// Slot of a name that found [`TASK_NAMES`] full.
pub(crate) const SLOT_OVERFLOW: usize = usize::MAX - 1;

/// One worker's liveness: bumped at every scheduling point, with the name of
/// the task it is about to run.
///
/// Aligned to a cache line so that workers bumping neighbouring heartbeats do
/// not slow each other down.
#[repr(align(64))]
#[derive(Debug)]
pub struct Heartbeat {
    beats: AtomicU64,
    /// Index into [`TASK_NAMES`], or [`SLOT_IDLE`] / [`SLOT_OVERFLOW`].
    task_slot: AtomicUsize,
    /// Kernel thread id of the worker (0: not bound), for the capture signal.
    tid: AtomicI32,
    worker_index: usize,
}

impl Heartbeat {
    /// A heartbeat for worker `worker_index`, idle until its first `enter`.
    pub fn new(worker_index: usize) -> Heartbeat {
        Heartbeat {
            beats: AtomicU64::new(0),
            task_slot: AtomicUsize::new(SLOT_IDLE),
            tid: AtomicI32::new(0),
            worker_index,
        }
    }

    /// Called once on the worker thread itself, before its loop: remembers the
    /// thread so that the watchdog can capture its stack.
    pub fn bind_current_thread(&self) {
        self.tid
            .store(stack_capture::current_tid(), Ordering::Relaxed);
    }

    /// A scheduling point: bumps the counter and names the task the worker runs
    /// next (e.g. "poll", "serve", "maintenance", "bulk").
    ///
    /// Costs a relaxed `fetch_add`, a store and a scan of the few names seen so
    /// far; no allocation, no syscall once each name has claimed its slot (the
    /// first `enter` with a new name may briefly wait for another thread
    /// claiming the same slot).
    #[inline]
    pub fn enter(&self, task: &'static str) {
        self.task_slot
            .store(intern(&TASK_NAMES, task), Ordering::Relaxed);
        self.beats.fetch_add(1, Ordering::Relaxed);
    }

    /// The worker is about to block in poll (with a timeout): the watchdog
    /// ignores it until the next [`Heartbeat::enter`].
    ///
    /// Call it too before the worker thread exits, so that its silence is not
    /// taken for a stall.
    #[inline]
    pub fn idle(&self) {
        self.task_slot.store(SLOT_IDLE, Ordering::Relaxed);
        self.beats.fetch_add(1, Ordering::Relaxed);
    }

    /// Kernel thread id of the worker; 0 until it is bound.
    pub(crate) fn tid(&self) -> i32 {
        self.tid.load(Ordering::Relaxed)
    }

    /// The worker this heartbeat belongs to.
    pub fn worker_index(&self) -> usize {
        self.worker_index
    }

    pub(crate) fn sample(&self) -> Sample {
        Sample {
            beats: self.beats.load(Ordering::Relaxed),
            task_slot: self.task_slot.load(Ordering::Relaxed),
        }
    }
}

/// The slot of `task` in `table`, claiming a free one the first time.
pub(crate) fn intern(table: &[OnceLock<&'static str>], task: &'static str) -> usize {
    for (slot, name) in table.iter().enumerate() {
        let known = match name.get() {
            Some(known) => *known,
            // Another thread may win the race for this slot with another
            // name; then the scan goes on.
            None => *name.get_or_init(|| task),
        };
        if std::ptr::eq(known, task) || known == task {
            return slot;
        }
    }
    SLOT_OVERFLOW
}

pub(crate) fn task_name(slot: usize) -> &'static str {
    match slot {
        SLOT_IDLE => "idle",
        SLOT_OVERFLOW => "(task name table full)",
        _ => TASK_NAMES
            .get(slot)
            .and_then(|name| name.get().copied())
            .unwrap_or("(unknown task)"),
    }
}

/// One look at a heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) beats: u64,
    pub(crate) task_slot: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_intern_by_content_and_overflow_to_one_slot() {
        let table: [OnceLock<&'static str>; 2] = [const { OnceLock::new() }; 2];
        let serve = String::from("serve").leak();
        assert_eq!(intern(&table, "poll"), 0);
        assert_eq!(intern(&table, "serve"), 1);
        assert_eq!(intern(&table, serve), 1, "same text at another address");
        assert_eq!(intern(&table, "poll"), 0);
        assert_eq!(intern(&table, "bulk"), SLOT_OVERFLOW);
    }

    #[test]
    fn enter_names_the_task_and_idle_clears_it() {
        let heart = Heartbeat::new(3);
        assert_eq!(heart.sample().task_slot, SLOT_IDLE);
        heart.enter("unit-test-task");
        let sample = heart.sample();
        assert_eq!(sample.beats, 1);
        assert_eq!(task_name(sample.task_slot), "unit-test-task");
        heart.idle();
        assert_eq!(
            heart.sample(),
            Sample {
                beats: 2,
                task_slot: SLOT_IDLE
            }
        );
    }
}
