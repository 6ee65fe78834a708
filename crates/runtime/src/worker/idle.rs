//! The idle scan: connections without traffic give their buffers back, and
//! those past the idle or request timeout are closed.

use std::time::{Duration, Instant};

use super::conn_memory::BUFFER_RELEASE_IDLE;
use super::Worker;
use crate::service::Service;
use crate::session::CloseReason;

/// How often idle sessions are looked for (at most; shorter timeouts scan
/// more often).
const IDLE_SCAN_INTERVAL: Duration = Duration::from_secs(1);

impl<S: Service> Worker<S> {
    pub(super) fn close_idle(&mut self, now: Instant) {
        let (idle, stalled) = (self.config.idle_timeout, self.config.request_timeout);
        let shortest = [idle, stalled, Some(BUFFER_RELEASE_IDLE)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(IDLE_SCAN_INTERVAL);
        let due =
            now.saturating_duration_since(self.last_idle_scan) >= IDLE_SCAN_INTERVAL.min(shortest);
        let resume_at = self.idle_scan_resume_at.take();
        if !due && resume_at.is_none() {
            return;
        }
        if due {
            self.last_idle_scan = now;
            self.release_idle_buffers(now);
        }
        // A due scan starts over; otherwise the last one goes on where it stopped.
        let first = if due { 0 } else { resume_at.unwrap_or(0) };
        // Closing is what costs (about 20 us a connection): 200 slow senders timing
        // out together held the worker 3-4 ms in one scan. After a heavy turn's worth
        // of closes the scan stops, and the next turn goes on from there, serving the
        // ready sessions first. Real time: the budget is the worker's, whatever the
        // injected clock says.
        let started = Instant::now();
        for index in self.sessions.indices() {
            if index < first {
                continue;
            }
            // The clock is read after a close only (looking costs little), so every
            // scan makes progress.
            let closed = self.close_if_timed_out(index, now, idle, stalled);
            if closed && started.elapsed() >= self.config.heavy_turn {
                self.idle_scan_resume_at = Some(index + 1);
                return;
            }
        }
    }

    /// Closes session `index` if it is past its deadline, idle or stalled; whether
    /// it did.
    fn close_if_timed_out(
        &mut self,
        index: usize,
        now: Instant,
        idle: Option<Duration>,
        stalled: Option<Duration>,
    ) -> bool {
        let Some(session) = self.sessions.get_mut(index) else {
            return false;
        };
        let service = &self.service;
        let past_deadline = session
            .conn()
            .and_then(|conn| service.conn_deadline(conn))
            .is_some_and(|deadline| now >= deadline);
        if past_deadline {
            self.close(index, CloseReason::Deadline);
            return true;
        }
        // A connection whose job runs (a dump) or waits (a log watcher) is
        // busy, not idle, however long its client stays silent (as in memcached).
        let is_idle = !session.has_job()
            && idle.is_some_and(|t| now.saturating_duration_since(session.last_active) >= t);
        let is_stalled = stalled
            .zip(session.stalled_since)
            .is_some_and(|(t, since)| now.saturating_duration_since(since) >= t);
        let reason = if is_idle {
            CloseReason::Idle
        } else if is_stalled {
            CloseReason::Stalled
        } else {
            return false;
        };
        self.close(index, reason);
        true
    }
}
