//! A worker's background turn: the scheduler's groups run for at most the task
//! quota, and stop early when a connection becomes ready.

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::{Worker, MAX_BACKGROUND_STEPS_PER_TURN, SHARE_WINDOW};
use crate::scheduler::{Pick, TaskGroup};
use crate::service::{BackgroundProgress, Service};

impl<S: Service> Worker<S> {
    /// Background steps for at most the task quota, the group with the lowest
    /// virtual runtime first. While connections have requests waiting, only
    /// as much as the minimum share owes.
    pub(super) fn run_background(&mut self, now: Instant) {
        if now.saturating_duration_since(self.last_background_poll)
            >= self.config.background_interval
        {
            self.last_background_poll = now;
            self.scheduler.poll_service_groups(now);
        }
        if !self.scheduler.has_work() {
            return;
        }
        let in_window = now.saturating_duration_since(self.share_window_start);
        if in_window >= SHARE_WINDOW {
            self.share_window_start = now;
            self.background_in_window = Duration::ZERO;
        }
        if !self.ready.is_empty() {
            let owed = in_window * u32::from(self.config.background_min_share_percent) / 100;
            if self.background_in_window >= owed {
                self.sched_stats.worker(self.index).count_deferred();
                return;
            }
        }
        let quota = self.config.task_quota;
        let started = self.now();
        for step in 0..MAX_BACKGROUND_STEPS_PER_TURN {
            // Requests that arrived during the last step go first: they wait for
            // one step at most, not for the whole quota.
            if step > 0 && self.poll_for_arrivals() {
                break;
            }
            let step_started = self.now();
            let used = step_started.saturating_duration_since(started);
            if used >= quota {
                break;
            }
            let Some(pick) = self.scheduler.pick() else {
                break;
            };
            let group = match pick {
                Pick::Service(group) => {
                    self.heartbeat.enter(group.name());
                    let more = self.service_step(group, quota - used);
                    self.scheduler
                        .set_service_pending(group, more, step_started);
                    group
                }
                Pick::Job(group, index) => {
                    self.heartbeat.enter(group.name());
                    self.job_step(group, index, quota - used, step_started);
                    group
                }
            };
            let step_ended = self.now();
            let ran = step_ended.saturating_duration_since(step_started);
            self.scheduler.charge(
                group,
                step_started,
                ran,
                quota,
                self.sched_stats.worker(self.index),
            );
            self.scheduler.after_step(group, step_ended);
        }
        self.background_in_window += self.now().saturating_duration_since(started);
    }

    /// Polls without waiting; if a connection or listener became ready, marks
    /// it (so nothing polled is lost) and says so.
    pub(super) fn poll_for_arrivals(&mut self) -> bool {
        if let Err(e) = self.poll.poll(&mut self.events, Some(Duration::ZERO)) {
            // The next turn's poll reports a lasting failure.
            tracing::debug!(error = %e, "poll between background steps failed");
            return false;
        }
        if self.events.is_empty() {
            return false;
        }
        let now = self.now();
        self.dispatch_events(now);
        true
    }

    /// One step of the service's own work in `group`; whether more is left.
    fn service_step(&mut self, group: TaskGroup, budget: Duration) -> bool {
        let service = &mut self.service;
        let call = panic::catch_unwind(AssertUnwindSafe(|| service.background_step(group, budget)));
        match call {
            Ok(progress) => progress == BackgroundProgress::MoreWork,
            Err(_) => {
                // The step's state is the service's; it runs again next interval.
                tracing::error!(group = group.name(), "background step panicked");
                self.stats.count_service_panic();
                false
            }
        }
    }

    /// One step of connection `index`'s job.
    fn job_step(&mut self, group: TaskGroup, index: usize, budget: Duration, now: Instant) {
        let limits = self.limits();
        let Some(session) = self.sessions.get_mut(index) else {
            return;
        };
        let end = session.run_job(&mut self.service, budget, limits, now);
        tracing::trace!(session = index, group = group.name(), ?end, "job step");
        self.after_turn(index, end, now);
    }
}
