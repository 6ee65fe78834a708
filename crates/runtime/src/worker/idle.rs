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
        if now.saturating_duration_since(self.last_idle_scan) < IDLE_SCAN_INTERVAL.min(shortest) {
            return;
        }
        self.last_idle_scan = now;
        self.release_idle_buffers(now);
        for index in self.sessions.indices() {
            let Some(session) = self.sessions.get_mut(index) else {
                continue;
            };
            let service = &self.service;
            let past_deadline = session
                .conn()
                .and_then(|conn| service.conn_deadline(conn))
                .is_some_and(|deadline| now >= deadline);
            if past_deadline {
                self.close(index, CloseReason::Deadline);
                continue;
            }
            // A connection whose job runs (a dump) or waits (a log watcher) is
            // busy, not idle, however long its client stays silent (as in memcached).
            let is_idle = !session.has_job()
                && idle.is_some_and(|t| now.saturating_duration_since(session.last_active) >= t);
            let is_stalled = stalled
                .zip(session.stalled_since)
                .is_some_and(|(t, since)| now.saturating_duration_since(since) >= t);
            if is_idle {
                self.close(index, CloseReason::Idle);
            } else if is_stalled {
                self.close(index, CloseReason::Stalled);
            }
        }
    }
}
