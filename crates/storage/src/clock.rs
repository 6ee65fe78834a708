//! Time source for expiry, injectable so tests never sleep.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current unix time in whole seconds (memcached's resolution).
pub trait Clock: Send + Sync {
    /// Current unix time in seconds.
    fn now_unix_secs(&self) -> u32;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_secs(&self) -> u32 {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }
}

/// A clock that moves only when a test tells it to.
#[derive(Debug)]
pub struct ManualClock {
    now_unix_secs: AtomicU32,
}

impl ManualClock {
    /// A clock standing at `start_unix_secs`.
    pub fn new(start_unix_secs: u32) -> Self {
        ManualClock {
            now_unix_secs: AtomicU32::new(start_unix_secs),
        }
    }

    /// Moves the clock to `unix_secs`.
    pub fn set(&self, unix_secs: u32) {
        self.now_unix_secs.store(unix_secs, Ordering::SeqCst);
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: u32) {
        self.now_unix_secs.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix_secs(&self) -> u32 {
        self.now_unix_secs.load(Ordering::SeqCst)
    }
}
