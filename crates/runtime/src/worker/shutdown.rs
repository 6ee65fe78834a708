//! Closing: one session with its reason, or all of them at shutdown after a drain.

use super::*;

impl<S: Service> Worker<S> {
    pub(super) fn close(&mut self, index: usize, reason: CloseReason) {
        let Some(mut session) = self.sessions.remove(index) else {
            return;
        };
        tracing::debug!(session = index, ?reason, "connection closed");
        if session.job_queued {
            self.scheduler.forget_session(index);
        }
        // Counted before the peer can see the close.
        match reason {
            CloseReason::Overflow => self.stats.count_overflow_close(),
            CloseReason::Idle => self.stats.count_idle_close(),
            CloseReason::Stalled => self.stats.count_stalled_close(),
            CloseReason::Deadline => self.stats.count_deadline_close(),
            CloseReason::ServicePanic => {
                self.stats.count_service_panic();
                tracing::error!(session = index, "service panicked; connection closed");
            }
            CloseReason::OutputCap => self.stats.count_output_cap_close(),
            CloseReason::OverBudget => self.stats.count_over_budget_close(),
            CloseReason::Reclaimed => self.stats.count_idle_reclaimed(),
            CloseReason::Done | CloseReason::Io | CloseReason::Shutdown => {}
        }
        self.unaccount(session.accounted_bytes);
        // A session shutdown drained and then closed normally closed for the shutdown.
        let reason = if reason == CloseReason::Done && session.is_draining() {
            CloseReason::Shutdown
        } else {
            reason
        };
        let conn = session.take_conn();
        if reason.lingers() {
            session.linger_close();
        }
        let _ = self.poll.registry().deregister(session.stream_mut());
        match conn {
            // State a panic left half-updated is dropped, not handed back.
            Some(_) if reason == CloseReason::ServicePanic => {}
            Some(conn) => {
                let service = &mut self.service;
                let cause = reason.cause();
                if panic::catch_unwind(AssertUnwindSafe(|| service.on_close(conn, cause))).is_err()
                {
                    tracing::error!(session = index, "service panicked closing a connection");
                    self.stats.count_service_panic();
                }
            }
            None => {}
        }
        self.stats.close();
    }

    /// Stops accepting, answers every complete request each connection
    /// already sent, flushes, and closes; for at most the shutdown timeout.
    pub(super) fn shutdown(&mut self) {
        // Connections the kernel completed before the stop are taken (one
        // bounded batch per listener) and served like the others, rather
        // than reset with the listener.
        self.listener_ready
            .iter_mut()
            .for_each(|ready| *ready = true);
        self.accept_ready(self.now());
        self.listeners.clear();
        self.listener_ready.clear();
        // Real time: a test clock that stands still must not hold shutdown forever.
        let deadline = Instant::now() + self.config.shutdown_timeout;
        self.begin_drain_all();
        while self.sessions.len() > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // Sessions with input, budget or a job step left go on at once;
            // the others wait for room to write.
            let wait = if self.ready.is_empty() && !self.scheduler.has_work() {
                SHUTDOWN_POLL.min(left)
            } else {
                Duration::ZERO
            };
            self.heartbeat.idle();
            if let Err(e) = self.poll.poll(&mut self.events, Some(wait)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    break;
                }
            }
            let now = self.now();
            self.heartbeat.enter("shutdown");
            self.dispatch_events(now);
            self.serve_ready();
            // A job a client started (a dump) finishes, like any request it sent.
            self.run_background(now);
        }
        for index in self.sessions.indices() {
            self.close(index, CloseReason::Shutdown);
        }
    }

    /// Puts every session in drain mode and queues it: its socket is read
    /// to EAGAIN whether or not poll has reported it readable yet.
    pub(super) fn begin_drain_all(&mut self) {
        let now = self.now();
        for index in self.sessions.indices() {
            let Some(session) = self.sessions.get_mut(index) else {
                continue;
            };
            session.begin_drain();
            self.enqueue(index, now);
        }
    }
}
