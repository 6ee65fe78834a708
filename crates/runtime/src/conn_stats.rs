//! Connection counts shared by all workers; written only on accept and close,
//! never per request.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Live connection counters of one runtime.
#[derive(Debug, Default)]
pub struct ConnStats {
    current: AtomicUsize,
    total_accepted: AtomicU64,
    rejected: AtomicU64,
    idle_closed: AtomicU64,
    stalled_closed: AtomicU64,
    deadline_closed: AtomicU64,
    overflow_closed: AtomicU64,
    service_panics: AtomicU64,
    output_cap_closed: AtomicU64,
    over_budget_closed: AtomicU64,
    idle_reclaimed: AtomicU64,
    accept_fd_exhausted: AtomicU64,
}

/// A point-in-time copy of [`ConnStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnStatsSnapshot {
    /// Connections open now.
    pub current: usize,
    /// Connections accepted since start (rejected ones not included).
    pub total_accepted: u64,
    /// Connections refused because of the connection limit.
    pub rejected: u64,
    /// Connections closed by the idle timeout.
    pub idle_closed: u64,
    /// Connections closed by the request timeout (input waiting, no request completing).
    pub stalled_closed: u64,
    /// Connections closed at the service's deadline (e.g. not authenticated in time).
    pub deadline_closed: u64,
    /// Connections closed because a request did not fit the read buffer.
    pub overflow_closed: u64,
    /// Connections closed because the service panicked on their input.
    pub service_panics: u64,
    /// Connections closed because their unsent output passed the per-connection cap.
    pub output_cap_closed: u64,
    /// Connections closed because all buffers together passed the buffer budget.
    pub over_budget_closed: u64,
    /// Idle connections closed at the connection limit to admit a new one.
    pub idle_reclaimed: u64,
    /// Accepts that failed for want of file descriptors (EMFILE/ENFILE).
    pub accept_fd_exhausted: u64,
}

impl ConnStats {
    /// Reserves a slot under `limit`; false when the limit is reached (the
    /// caller counts the refusal with [`ConnStats::count_rejected`]).
    pub(crate) fn try_open(&self, limit: usize) -> bool {
        let previous = self.current.fetch_add(1, Ordering::Relaxed);
        if previous >= limit {
            self.current.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        self.total_accepted.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Releases a slot taken by [`ConnStats::try_open`].
    pub(crate) fn close(&self) {
        let previous = self.current.fetch_sub(1, Ordering::Relaxed);
        debug_assert!(previous > 0, "connection count underflow");
    }

    pub(crate) fn count_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_idle_close(&self) {
        self.idle_closed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_stalled_close(&self) {
        self.stalled_closed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_deadline_close(&self) {
        self.deadline_closed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_overflow_close(&self) {
        self.overflow_closed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_output_cap_close(&self) {
        self.output_cap_closed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_over_budget_close(&self) {
        self.over_budget_closed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_idle_reclaimed(&self) {
        self.idle_reclaimed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_accept_fd_exhausted(&self) {
        self.accept_fd_exhausted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_service_panic(&self) {
        self.service_panics.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads all counters (each exact, together only approximately consistent).
    pub fn snapshot(&self) -> ConnStatsSnapshot {
        ConnStatsSnapshot {
            current: self.current.load(Ordering::Relaxed),
            total_accepted: self.total_accepted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            idle_closed: self.idle_closed.load(Ordering::Relaxed),
            stalled_closed: self.stalled_closed.load(Ordering::Relaxed),
            deadline_closed: self.deadline_closed.load(Ordering::Relaxed),
            overflow_closed: self.overflow_closed.load(Ordering::Relaxed),
            service_panics: self.service_panics.load(Ordering::Relaxed),
            output_cap_closed: self.output_cap_closed.load(Ordering::Relaxed),
            over_budget_closed: self.over_budget_closed.load(Ordering::Relaxed),
            idle_reclaimed: self.idle_reclaimed.load(Ordering::Relaxed),
            accept_fd_exhausted: self.accept_fd_exhausted.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_enforced_and_released() {
        let stats = ConnStats::default();
        assert!(stats.try_open(2));
        assert!(stats.try_open(2));
        assert!(!stats.try_open(2));
        stats.count_rejected();
        stats.close();
        assert!(stats.try_open(2));
        let snap = stats.snapshot();
        assert_eq!(snap.current, 2);
        assert_eq!(snap.total_accepted, 3);
        assert_eq!(snap.rejected, 1);
    }
}
