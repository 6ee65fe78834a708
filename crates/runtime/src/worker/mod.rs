//! One worker thread: its poll, its listeners, its sessions, its service.

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::buffer_stats::BufferStats;
use crate::config::RuntimeConfig;
use crate::conn_stats::ConnStats;
use crate::listener::{PerWorkerSocket, WorkerListener};
use crate::read_buf::ReadBuf;
use crate::scheduler::{Scheduler, SchedulerStats};
use crate::service::Service;
use crate::session::{CloseReason, Session, SessionLimits, TurnEnd};
use crate::slab::Slab;
use crate::stream::Stream;

mod accept;
mod shutdown;

mod background;
mod conn_memory;
mod datagram;
mod fd_exhaustion;
mod idle;
mod ready;

use self::ready::ReadyQueues;

/// Readiness events taken per poll call.
const EVENTS_PER_POLL: usize = 1024;
/// Poll timeout while flushing at shutdown.
const SHUTDOWN_POLL: Duration = Duration::from_millis(20);
/// Background steps in one turn at most, whatever the clock says (a clock
/// that does not move, in tests, must not make a turn endless).
const MAX_BACKGROUND_STEPS_PER_TURN: usize = 64;
/// The window over which background work's minimum share is measured.
const SHARE_WINDOW: Duration = Duration::from_millis(100);

/// What one poll event says about a session's socket.
#[derive(Clone, Copy, Debug)]
struct Readiness {
    readable: bool,
    writable: bool,
    /// End of stream or error: reading will not block.
    closed: bool,
}

/// Everything a worker thread owns.
pub(crate) struct Worker<S: Service> {
    poll: Poll,
    events: Events,
    listeners: Vec<WorkerListener>,
    listener_ready: Vec<bool>,
    /// Token of session 0; fixed at start (listeners close at shutdown).
    session_token_base: usize,
    sessions: Slab<Session<S::Conn>>,
    ready: ReadyQueues,
    /// Sessions named by the last poll, with what poll said about them.
    touched: Vec<(usize, Readiness)>,
    service: S,
    config: Arc<RuntimeConfig>,
    stats: Arc<ConnStats>,
    stop: Arc<AtomicBool>,
    scheduler: Scheduler,
    sched_stats: Arc<SchedulerStats>,
    /// This worker's index (its slot in `sched_stats`).
    index: usize,
    heartbeat: Arc<crate::heartbeat::Heartbeat>,
    /// When the service groups were last asked for work.
    last_background_poll: Instant,
    /// Start of the current minimum-share window, and background time in it.
    share_window_start: Instant,
    background_in_window: Duration,
    last_idle_scan: Instant,
    /// Where an idle scan cut short at its time budget goes on (a session index).
    idle_scan_resume_at: Option<usize>,
    /// Bytes this runtime's connection buffers hold, this worker's in its slot.
    buffers: Arc<BufferStats>,
    fd_reserve: fd_exhaustion::FdReserve,
    /// Sessions whose job sleeps, with when to wake it (stale entries, for
    /// sessions closed or woken early, are dropped when due).
    sleeping_jobs: Vec<(Instant, usize)>,
    /// A UDP listener's received datagram and its reply, reused (empty
    /// until a UDP listener has a datagram).
    datagram_buf: Vec<u8>,
    datagram_reply: Vec<u8>,
}

/// What a worker shares with the rest of its runtime.
pub(crate) struct WorkerShared {
    pub(crate) config: Arc<RuntimeConfig>,
    pub(crate) stats: Arc<ConnStats>,
    pub(crate) sched_stats: Arc<SchedulerStats>,
    /// This worker's index among the runtime's (its slot in `sched_stats`).
    pub(crate) index: usize,
    pub(crate) heartbeat: Arc<crate::heartbeat::Heartbeat>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) buffers: Arc<BufferStats>,
}

impl<S: Service> Worker<S> {
    pub(crate) fn new(
        poll: Poll,
        listeners: Vec<WorkerListener>,
        service: S,
        shared: WorkerShared,
    ) -> io::Result<Self> {
        let WorkerShared {
            config,
            stats,
            sched_stats,
            index,
            heartbeat,
            stop,
            buffers,
        } = shared;
        let mut listeners = listeners;
        for (index, listener) in listeners.iter_mut().enumerate() {
            let token = Token(index);
            match &mut listener.socket {
                PerWorkerSocket::Tcp(l) => {
                    poll.registry().register(l, token, Interest::READABLE)?
                }
                PerWorkerSocket::Unix(l) => {
                    poll.registry().register(l, token, Interest::READABLE)?
                }
                PerWorkerSocket::Udp(s) => {
                    poll.registry().register(s, token, Interest::READABLE)?
                }
            }
        }
        let now = config.clock.now();
        let mut scheduler = Scheduler::new(config.group_shares);
        scheduler.poll_service_groups(now);
        Ok(Self {
            poll,
            events: Events::with_capacity(EVENTS_PER_POLL),
            listener_ready: vec![true; listeners.len()],
            session_token_base: listeners.len() + 1,
            listeners,
            sessions: Slab::new(),
            ready: ReadyQueues::default(),
            touched: Vec::with_capacity(EVENTS_PER_POLL),
            service,
            config,
            stats,
            stop,
            scheduler,
            sched_stats,
            index,
            heartbeat,
            last_background_poll: now,
            share_window_start: now,
            background_in_window: Duration::ZERO,
            last_idle_scan: now,
            idle_scan_resume_at: None,
            buffers,
            fd_reserve: fd_exhaustion::FdReserve::new(),
            sleeping_jobs: Vec::new(),
            datagram_buf: Vec::new(),
            datagram_reply: Vec::new(),
        })
    }

    /// Token of the waker that interrupts this worker's poll.
    pub(crate) fn waker_token(listeners: usize) -> Token {
        Token(listeners)
    }

    fn session_token(&self, index: usize) -> Token {
        Token(self.session_token_base + index)
    }

    fn limits(&self) -> SessionLimits {
        SessionLimits {
            high_water_bytes: self.config.write_buffer_high_water_bytes,
            turn_budget_bytes: self.config.turn_budget_bytes,
            turn_budget_requests: self.config.turn_budget_requests,
            turn_budget_output_bytes: self.config.turn_budget_output_bytes,
            output_cap_bytes: self.config.output_cap_bytes,
        }
    }

    /// Runs turns until stopped, then drains and closes every session.
    pub(crate) fn run(mut self) {
        self.heartbeat.bind_current_thread();
        while !self.stop.load(Ordering::Acquire) {
            if let Err(e) = self.turn() {
                tracing::error!(error = %e, "worker poll failed; stopping worker");
                break;
            }
        }
        self.shutdown();
        self.scheduler
            .retract_queues(self.sched_stats.worker(self.index));
        self.heartbeat.idle();
    }

    fn now(&self) -> Instant {
        self.config.clock.now()
    }

    fn turn(&mut self) -> io::Result<()> {
        let timeout = self.poll_timeout();
        if timeout.is_zero() {
            self.heartbeat.enter("poll");
        } else {
            // Blocking in poll with nothing to do is not a stall.
            self.heartbeat.idle();
        }
        if let Err(e) = self.poll.poll(&mut self.events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let now = self.now();
        self.heartbeat.enter("accept");
        self.dispatch_events(now);
        self.wake_jobs(now);
        self.accept_ready(now);
        self.serve_ready();
        self.run_background(now);
        self.enforce_buffer_budget();
        self.heartbeat.enter("idle scan");
        self.close_idle(now);
        let my_stats = self.sched_stats.worker(self.index);
        self.scheduler.report_queues(my_stats);
        let ended = self.now();
        my_stats
            .turn_duration
            .record(ended.saturating_duration_since(now));
        Ok(())
    }

    fn poll_timeout(&self) -> Duration {
        let busy = !self.ready.is_empty()
            || self.scheduler.has_work()
            || self.idle_scan_resume_at.is_some()
            || self.listener_ready.iter().any(|&r| r);
        if busy {
            return Duration::ZERO;
        }
        let mut next = self.last_background_poll + self.config.background_interval;
        if let Some(retry_at) = self.fd_reserve.retry_at {
            next = next.min(retry_at);
        }
        if let Some(&(wake_at, _)) = self.sleeping_jobs.iter().min() {
            next = next.min(wake_at);
        }
        next.saturating_duration_since(self.now())
    }

    fn dispatch_events(&mut self, now: Instant) {
        let base = self.session_token_base;
        // Reused across turns: no allocation per poll.
        let mut touched = std::mem::take(&mut self.touched);
        touched.clear();
        for event in self.events.iter() {
            let token = event.token().0;
            if token >= base {
                let closed = event.is_read_closed() || event.is_error();
                let readiness = Readiness {
                    readable: event.is_readable() || closed,
                    writable: event.is_writable(),
                    closed,
                };
                touched.push((token - base, readiness));
            } else if let Some(ready) = self.listener_ready.get_mut(token) {
                // Absent once listeners are closed at shutdown.
                *ready = true;
            }
        }
        for &(index, readiness) in &touched {
            self.mark_ready(index, readiness, now);
        }
        self.touched = touched;
    }

    fn mark_ready(&mut self, index: usize, readiness: Readiness, now: Instant) {
        let Some(session) = self.sessions.get_mut(index) else {
            return;
        };
        session.readable |= readiness.readable;
        session.writable |= readiness.writable;
        session.peer_closed_hint |= readiness.closed;
        self.enqueue(index, now);
    }

    /// Queues a session to be served (once), by the weight of its last turns.
    fn enqueue(&mut self, index: usize, now: Instant) {
        self.queue(index, now, false);
    }

    /// Queues a session whose turn left work, for the next pass (once).
    fn requeue(&mut self, index: usize, now: Instant) {
        self.queue(index, now, true);
    }

    fn queue(&mut self, index: usize, now: Instant, next_pass: bool) {
        let Some(session) = self.sessions.get_mut(index) else {
            return;
        };
        if !session.queued {
            session.queued = true;
            session.ready_since = Some(now);
            if next_pass {
                self.ready.push_next_pass(index, session.is_heavy());
            } else {
                self.ready.push(index, session.is_heavy());
            }
        }
    }

    /// One pass over the ready sessions (see `ready.rs` for the order).
    fn serve_ready(&mut self) {
        let limits = self.limits();
        self.heartbeat.enter("serve");
        self.ready.begin_pass();
        while let Some(index) = self.ready.pop() {
            let now = self.now();
            let Some(session) = self.sessions.get_mut(index) else {
                continue;
            };
            session.queued = false;
            if let Some(since) = session.ready_since.take() {
                self.sched_stats
                    .worker(self.index)
                    .scheduling_delay
                    .record(now.saturating_duration_since(since));
            }
            let end = session.serve(&mut self.service, limits, now);
            let ended = self.config.clock.now();
            let long = ended.saturating_duration_since(now) >= self.config.heavy_turn;
            session.note_turn_length(long);
            self.after_turn(index, end, now);
            if long && self.ready.any_waiting() && self.poll_for_arrivals() {
                // Light sessions that became ready during the long turn go next,
                // and so do new connections.
                self.accept_ready(ended);
            }
        }
        self.ready.end_pass();
    }

    /// Acts on how a session's turn (or job step) ended.
    fn after_turn(&mut self, index: usize, end: TurnEnd, now: Instant) {
        self.account(index);
        match end {
            TurnEnd::Wait => self.watch_writable(index),
            TurnEnd::Requeue => {
                self.watch_writable(index);
                self.requeue(index, now);
            }
            TurnEnd::Yield => {
                self.sched_stats.worker(self.index).count_yield();
                self.watch_writable(index);
                self.requeue(index, now);
            }
            TurnEnd::Job(group) => {
                self.watch_writable(index);
                if let Some(session) = self.sessions.get_mut(index) {
                    session.job_queued = true;
                    self.scheduler.push_job(group, index, now);
                }
            }
            TurnEnd::JobSleep(until) => {
                self.watch_writable(index);
                self.sleeping_jobs.push((until, index));
            }
            TurnEnd::Close(reason) => self.close(index, reason),
        }
    }

    /// Queues the sleeping jobs whose time has come.
    fn wake_jobs(&mut self, now: Instant) {
        let mut at = 0;
        while at < self.sleeping_jobs.len() {
            let (until, index) = self.sleeping_jobs[at];
            if until > now {
                at += 1;
                continue;
            }
            self.sleeping_jobs.swap_remove(at);
            // A session closed since (or woken early) finds nothing to wake.
            let Some(session) = self.sessions.get_mut(index) else {
                continue;
            };
            if let Some(group) = session.wake_job(until) {
                self.scheduler.push_job(group, index, now);
            }
        }
    }

    /// Registers writable interest while output waits on a full socket, and drops it
    /// once the output is gone. Re-registering reports a socket that became writable
    /// meanwhile, so no wake-up is lost between the failed write and this call.
    fn watch_writable(&mut self, index: usize) {
        let token = self.session_token(index);
        let Some(session) = self.sessions.get_mut(index) else {
            return;
        };
        let wanted = session.pending_output_bytes() > 0 && !session.writable;
        if wanted == session.watching_writable {
            return;
        }
        let interest = if wanted {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        match self
            .poll
            .registry()
            .reregister(session.stream_mut(), token, interest)
        {
            Ok(()) => session.watching_writable = wanted,
            Err(e) => {
                tracing::warn!(error = %e, "cannot change connection interest");
                self.close(index, CloseReason::Io);
            }
        }
    }
}
