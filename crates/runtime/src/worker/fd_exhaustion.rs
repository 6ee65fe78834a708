//! Accepting while the process is out of file descriptors (EMFILE/ENFILE).
//!
//! The kernel keeps reporting the listener readable while connections wait,
//! but with edge-triggered poll no new event comes for the ones already
//! queued; so the worker retries on a short timer. Meanwhile the waiting
//! clients are told no at once rather than left hanging: the worker closes a
//! spare descriptor it keeps for this, accepts one connection with it,
//! writes the listener's reject reply, closes it, and takes the spare again.

use std::fs::File;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use super::Worker;
use crate::service::Service;

/// How soon accepting is tried again after running out of descriptors:
/// short enough that a client arriving after some connections closed gets
/// in at once, long enough not to spin.
pub(super) const ACCEPT_RETRY: Duration = Duration::from_millis(50);
/// At most one warning per worker this often; the rest are only counted.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// A worker's state for running out of descriptors.
pub(super) struct FdReserve {
    /// `/dev/null`, opened at start, given up to accept-and-refuse.
    spare: Option<File>,
    /// When to try the listeners again.
    pub(super) retry_at: Option<Instant>,
    last_warning: Option<Instant>,
    /// Failures since the last warning.
    unwarned: u64,
}

impl FdReserve {
    pub(super) fn new() -> Self {
        Self {
            spare: open_spare(),
            retry_at: None,
            last_warning: None,
            unwarned: 0,
        }
    }
}

fn open_spare() -> Option<File> {
    File::open("/dev/null").ok()
}

/// Accept failed for want of descriptors, the process's or the system's.
pub(super) fn is_fd_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

impl<S: Service> Worker<S> {
    /// Listeners are tried again once the retry timer has run out.
    pub(super) fn rearm_accept_retry(&mut self, now: Instant) {
        if self.fd_reserve.retry_at.is_some_and(|at| at <= now) {
            self.fd_reserve.retry_at = None;
            self.listener_ready
                .iter_mut()
                .for_each(|ready| *ready = true);
        }
    }

    /// Listener `index` could not accept for want of descriptors: refuses
    /// the connections waiting on it, warns (rate-limited), and sets the
    /// retry timer.
    pub(super) fn on_fd_exhausted(&mut self, index: usize, error: &io::Error, now: Instant) {
        self.stats.count_accept_fd_exhausted();
        let reserve = &mut self.fd_reserve;
        reserve.unwarned += 1;
        let warn_due = reserve
            .last_warning
            .is_none_or(|at| now.saturating_duration_since(at) >= WARNING_INTERVAL);
        if warn_due {
            tracing::warn!(
                error = %error,
                failures = reserve.unwarned,
                "out of file descriptors: refusing new connections until some close"
            );
            reserve.last_warning = Some(now);
            reserve.unwarned = 0;
        }
        if reserve.spare.take().is_some() {
            // The spare's descriptor is free now: each accepted connection
            // takes it and gives it back on close.
            for _ in 0..self.config.accepts_per_turn {
                match self.accept_one(index) {
                    Ok(mut stream) => {
                        let _ = stream.write(&self.listeners[index].reject_reply);
                        self.stats.count_rejected();
                        stream.linger_close();
                    }
                    Err(_) => break,
                }
            }
            self.fd_reserve.spare = open_spare();
        }
        self.listener_ready[index] = false;
        self.fd_reserve.retry_at = Some(now + ACCEPT_RETRY);
    }
}
