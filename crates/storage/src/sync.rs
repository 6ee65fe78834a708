//! The atomics and locks of the concurrent parts: std's (and parking_lot's) normally,
//! loom's when the crate is built with `RUSTFLAGS="--cfg loom"`, so that the index's
//! publish/validate protocol can be model-checked (`index/loom_tests.rs`).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// A mutual-exclusion lock whose `lock` never fails (no poisoning).
#[derive(Debug, Default)]
pub(crate) struct Mutex<T> {
    #[cfg(not(loom))]
    inner: parking_lot::Mutex<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
}

/// Holds a [`Mutex`] until dropped.
#[cfg(not(loom))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
/// Holds a [`Mutex`] until dropped.
#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    /// A lock around `value`.
    pub(crate) fn new(value: T) -> Self {
        Mutex {
            #[cfg(not(loom))]
            inner: parking_lot::Mutex::new(value),
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
        }
    }

    /// The value, the lock no longer needed.
    #[cfg(not(loom))]
    pub(crate) fn into_inner(self) -> T {
        self.inner.into_inner()
    }

    /// Waits for the lock.
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(loom))]
        return self.inner.lock();
        #[cfg(loom)]
        return self
            .inner
            .lock()
            .expect("loom mutexes are not poisoned here");
    }

    /// Takes the lock if it is free.
    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        #[cfg(not(loom))]
        return self.inner.try_lock();
        #[cfg(loom)]
        return self.inner.try_lock().ok();
    }
}

/// One turn of a wait loop: a pause hint at first, then a yield to the OS, so a waiter
/// on a two-core machine lets a preempted holder run instead of spinning against it.
pub(crate) fn backoff(spins: &mut u32) {
    *spins += 1;
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    {
        if *spins < SPINS_BEFORE_YIELD {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Pause hints before a waiter starts yielding: holds are well under a microsecond,
/// so a holder that is running finishes within these.
#[cfg(not(loom))]
const SPINS_BEFORE_YIELD: u32 = 64;
