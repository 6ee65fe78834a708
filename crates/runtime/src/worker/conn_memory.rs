//! What a worker's connections cost in memory: buffers counted per worker,
//! given back by idle connections, and the global budget enforced.

use std::time::{Duration, Instant};

use super::Worker;
use crate::service::Service;
use crate::session::CloseReason;

/// A connection without traffic for this long gives its buffers back; one
/// that is busy keeps them (no allocation per request).
pub(super) const BUFFER_RELEASE_IDLE: Duration = Duration::from_secs(1);

impl<S: Service> Worker<S> {
    /// Brings the worker's buffer count up to date with session `index`.
    pub(super) fn account(&mut self, index: usize) {
        let Some(session) = self.sessions.get_mut(index) else {
            return;
        };
        let now_bytes = session.buffer_bytes();
        let before = std::mem::replace(&mut session.accounted_bytes, now_bytes);
        self.buffers.adjust(self.index, before, now_bytes);
    }

    /// Forgets a closed session's buffers.
    pub(super) fn unaccount(&self, accounted_bytes: usize) {
        self.buffers.adjust(self.index, accounted_bytes, 0);
    }

    /// Gives back the buffers of sessions without traffic since
    /// [`BUFFER_RELEASE_IDLE`], so that idle connections cost no buffers.
    pub(super) fn release_idle_buffers(&mut self, now: Instant) {
        for index in self.sessions.indices() {
            let Some(session) = self.sessions.get_mut(index) else {
                continue;
            };
            if session.accounted_bytes > 0
                && !session.queued
                && now.saturating_duration_since(session.last_active) >= BUFFER_RELEASE_IDLE
            {
                session.release_idle_buffers();
                self.account(index);
            }
        }
    }

    /// Over the buffer budget, a worker holding more than its share closes
    /// its connection with the largest buffers: one a turn, until the total
    /// is back under. Pausing reads instead would let one client that does
    /// not read stop every other client; the largest holder is almost always
    /// that client (a reader's output drains, its buffers shrink back).
    pub(super) fn enforce_buffer_budget(&mut self) {
        let Some(budget) = self.config.buffer_budget_bytes else {
            return;
        };
        if self.buffers.total_bytes() <= budget {
            return;
        }
        let share = budget / self.config.workers.max(1);
        if self.buffers.worker_bytes(self.index) <= share {
            return;
        }
        let largest = self
            .sessions
            .indices()
            .into_iter()
            .filter_map(|index| Some((self.sessions.get(index)?.accounted_bytes, index)))
            .max();
        if let Some((bytes, index)) = largest {
            tracing::warn!(
                session = index,
                bytes,
                budget,
                "connection buffers over budget; closing the largest"
            );
            self.close(index, CloseReason::OverBudget);
        }
    }

    /// At the connection limit, closes this worker's longest-idle connection
    /// if it has been idle for `idle_reclaim_after`; true if one was closed.
    pub(super) fn reclaim_idle(&mut self, now: Instant) -> bool {
        let Some(after) = self.config.idle_reclaim_after else {
            return false;
        };
        let oldest = self
            .sessions
            .indices()
            .into_iter()
            .filter_map(|index| {
                let session = self.sessions.get(index)?;
                let idle = session.pending_output_bytes() == 0 && !session.queued;
                idle.then_some((session.last_active, index))
            })
            .min();
        match oldest {
            Some((last_active, index)) if now.saturating_duration_since(last_active) >= after => {
                self.close(index, CloseReason::Reclaimed);
                true
            }
            _ => false,
        }
    }
}
