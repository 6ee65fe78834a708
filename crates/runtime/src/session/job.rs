//! A connection's job (a dump, a watch): stepped in its task group's
//! background turns, or asleep until something happens.

use super::*;

impl<C> Session<C> {
    /// One step of the connection's job for at most `budget`, then a flush.
    pub(crate) fn run_job<S>(
        &mut self,
        svc: &mut S,
        budget: Duration,
        limits: SessionLimits,
        now: Instant,
    ) -> TurnEnd
    where
        S: Service<Conn = C>,
    {
        self.job_queued = false;
        self.job_sleep_until = None;
        if self.job.is_none() {
            return TurnEnd::Requeue;
        }
        let high_water_bytes = limits.high_water_bytes;
        if self.pending_output_bytes() < high_water_bytes {
            self.drop_written_output();
            let Some(conn) = self.conn.as_mut() else {
                return TurnEnd::Close(CloseReason::Done);
            };
            let wbuf = &mut self.wbuf;
            let before = wbuf.len();
            let call = panic::catch_unwind(AssertUnwindSafe(|| svc.job_step(conn, wbuf, budget)));
            match call {
                Ok(JobProgress::More) => {}
                Ok(JobProgress::Sleep(pause)) => self.job_sleep_until = Some(now + pause),
                Ok(JobProgress::Done) => self.job = None,
                Ok(JobProgress::DoneAndClose) => {
                    self.job = None;
                    self.state = SessionState::Closing(CloseReason::Done);
                }
                Err(_) => {
                    self.wbuf.truncate(before.max(self.written));
                    self.job = None;
                    self.state = SessionState::Closing(CloseReason::ServicePanic);
                }
            }
        }
        let Ok(_) = self.flush(now) else {
            return TurnEnd::Close(CloseReason::Io);
        };
        if self.pending_output_bytes() > limits.output_cap_bytes {
            return TurnEnd::Close(CloseReason::OutputCap);
        }
        match (self.job, self.state, self.job_sleep_until) {
            (_, SessionState::Closing(reason), _) if self.pending_output_bytes() == 0 => {
                TurnEnd::Close(reason)
            }
            (_, SessionState::Closing(_), _) => TurnEnd::Wait,
            // Finished: requests that waited behind it are served next turn.
            (None, _, _) => TurnEnd::Requeue,
            (Some(_), _, Some(until)) => match self.sleeping_job_ends() {
                Some(reason) => TurnEnd::Close(reason),
                None => TurnEnd::JobSleep(until),
            },
            (Some(group), _, None) if self.pending_output_bytes() < high_water_bytes => {
                TurnEnd::Job(group)
            }
            // The client has not read enough; a writable event resumes it.
            (Some(_), _, None) => TurnEnd::Wait,
        }
    }

    /// Its job's group, if its job sleeps until `until` and is not queued:
    /// the job is queued again now.
    pub(crate) fn wake_job(&mut self, until: Instant) -> Option<TaskGroup> {
        if self.job_sleep_until != Some(until) || self.job_queued {
            return None;
        }
        self.job_sleep_until = None;
        let group = self.job?;
        self.job_queued = true;
        Some(group)
    }

    /// Whether the service runs (or has asleep) a job for it.
    pub(crate) fn has_job(&self) -> bool {
        self.job.is_some()
    }
}
