//! The engine's time: one injectable clock that every expiry decision reads, and that
//! servers read too so that all protocols agree on "now".

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Milliseconds since the unix epoch, on a timeline that never steps: it may be
    /// anchored to the wall clock once, but must then move with a monotonic clock, so
    /// that setting the system clock neither expires every item at once nor makes
    /// them immortal.
    fn now_unix_ms(&self) -> u64;
}

/// The wall clock read once, at creation, then advanced by the monotonic clock (as
/// memcached does with its process start time). The monotonic clock is the CPU's
/// time-stamp counter (quanta), where it is usable: every write stamps its item's
/// access time, and a TSC read costs a fraction of a system-clock call. The counter
/// is read raw through a `quanta::Clock` of its own and scaled once, rather than
/// through `quanta::Instant`, which looks up quanta's global clock on every call.
#[derive(Debug, Clone)]
pub struct SystemClock {
    anchor_unix_ms: u64,
    /// The counter's raw reading at the anchor.
    anchor_raw: u64,
    counter: quanta::Clock,
}

impl SystemClock {
    /// A clock anchored to the wall clock now.
    pub fn new() -> SystemClock {
        let anchor_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let counter = quanta::Clock::new();
        SystemClock {
            anchor_unix_ms,
            anchor_raw: counter.raw(),
            counter,
        }
    }
}

impl SystemClock {
    /// A clock anchored to the wall clock now, or to `unix_ms` if the wall clock is
    /// behind it: a restored cache's time never runs backwards.
    pub fn not_before(unix_ms: u64) -> SystemClock {
        let mut clock = SystemClock::new();
        clock.anchor_unix_ms = clock.anchor_unix_ms.max(unix_ms);
        clock
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now_unix_ms(&self) -> u64 {
        // A reading behind the anchor (another core's counter a little behind)
        // counts as no time passed.
        let elapsed_ns = self
            .counter
            .delta_as_nanos(self.anchor_raw, self.counter.raw());
        self.anchor_unix_ms.saturating_add(elapsed_ns / 1_000_000)
    }
}

/// The system clock, which an operator's debug command may move by whole seconds or
/// stop (memcached's debug build's `debugtime`): expiry can then be tested without
/// waiting for it. Off unless a server asks for it.
#[derive(Debug, Default)]
pub struct SteppedClock {
    base: SystemClock,
    shift_ms: AtomicI64,
    /// The reading it stopped at while paused; 0 while it runs.
    paused_at_ms: AtomicU64,
}

impl SteppedClock {
    /// A running clock at the wall clock's time.
    pub fn new() -> SteppedClock {
        SteppedClock::default()
    }

    /// Moves the clock by `secs` (back for a negative number), paused or not.
    pub fn shift_secs(&self, secs: i64) {
        let ms = secs.saturating_mul(1000);
        self.shift_ms.fetch_add(ms, Ordering::SeqCst);
        let _ = self
            .paused_at_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |paused| {
                (paused != 0).then(|| paused.saturating_add_signed(ms).max(1))
            });
    }

    /// Stops the clock where it is.
    pub fn pause(&self) {
        let now = self.running_unix_ms().max(1);
        let _ = self
            .paused_at_ms
            .compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Lets a paused clock run again: it jumps to where it would have been.
    pub fn resume(&self) {
        self.paused_at_ms.store(0, Ordering::SeqCst);
    }

    fn running_unix_ms(&self) -> u64 {
        self.base
            .now_unix_ms()
            .saturating_add_signed(self.shift_ms.load(Ordering::SeqCst))
    }
}

impl Clock for SteppedClock {
    fn now_unix_ms(&self) -> u64 {
        match self.paused_at_ms.load(Ordering::SeqCst) {
            0 => self.running_unix_ms(),
            paused => paused,
        }
    }
}

/// A clock that moves only when a test tells it to.
#[derive(Debug)]
pub struct ManualClock {
    now_unix_ms: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `start_unix_secs`.
    pub fn new(start_unix_secs: u32) -> Self {
        ManualClock {
            now_unix_ms: AtomicU64::new(u64::from(start_unix_secs) * 1000),
        }
    }

    /// Moves the clock to `unix_secs`.
    pub fn set(&self, unix_secs: u32) {
        self.now_unix_ms
            .store(u64::from(unix_secs) * 1000, Ordering::SeqCst);
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: u32) {
        self.advance_ms(u64::from(secs) * 1000);
    }

    /// Moves the clock forward by `ms` milliseconds.
    pub fn advance_ms(&self, ms: u64) {
        self.now_unix_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix_ms(&self) -> u64 {
        self.now_unix_ms.load(Ordering::SeqCst)
    }
}

/// Whole unix seconds of a clock reading (what expiry is kept in).
pub(crate) fn unix_secs(clock: &dyn Clock) -> u32 {
    u32::try_from(clock.now_unix_ms() / 1000).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stepped_clock_moves_and_pauses_when_told() {
        let clock = SteppedClock::new();
        let start = clock.now_unix_ms();
        clock.shift_secs(3);
        assert!(clock.now_unix_ms() >= start + 3000);
        clock.pause();
        let paused = clock.now_unix_ms();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(clock.now_unix_ms(), paused);
        clock.shift_secs(2);
        assert_eq!(clock.now_unix_ms(), paused + 2000);
        clock.resume();
        assert!(clock.now_unix_ms() >= start + 5000);
    }

    #[test]
    fn system_clock_starts_at_the_wall_clock_and_never_goes_back() {
        let clock = SystemClock::new();
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let first = clock.now_unix_ms();
        assert!(first.abs_diff(wall_ms) < 1000);
        let mut previous = first;
        for _ in 0..1000 {
            let now = clock.now_unix_ms();
            assert!(now >= previous);
            previous = now;
        }
    }

    #[test]
    fn a_clock_not_before_a_later_time_starts_there() {
        let wall = SystemClock::new().now_unix_ms();
        assert!(SystemClock::not_before(wall + 60_000).now_unix_ms() >= wall + 60_000);
        assert!(SystemClock::not_before(0).now_unix_ms().abs_diff(wall) < 1000);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_800_000_000);
        assert_eq!(unix_secs(&clock), 1_800_000_000);
        clock.advance_ms(999);
        assert_eq!(unix_secs(&clock), 1_800_000_000);
        clock.advance(2);
        assert_eq!(unix_secs(&clock), 1_800_000_002);
        clock.set(5);
        assert_eq!(clock.now_unix_ms(), 5000);
    }
}
