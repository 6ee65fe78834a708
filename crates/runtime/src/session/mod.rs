//! One connection's buffers and the read → process → write cycle of a turn.

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::read_buf::{ReadBuf, ReadOutcome};
use crate::scheduler::TaskGroup;
use crate::service::{JobProgress, Service, TurnBudget};
use crate::stream::Stream;

mod job;
mod state;

pub(crate) use state::{CloseReason, SessionState, TurnEnd};

/// Output capacity kept after a flush; more is given back so that one big
/// reply does not pin memory for the connection's life.
const WRITE_BUFFER_KEEP_BYTES: usize = 64 * 1024;

/// Per-turn limits a session obeys.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SessionLimits {
    pub(crate) high_water_bytes: usize,
    pub(crate) turn_budget_bytes: usize,
    pub(crate) turn_budget_requests: usize,
    pub(crate) turn_budget_output_bytes: usize,
    /// Unsent output beyond which the connection is closed.
    pub(crate) output_cap_bytes: usize,
}

/// A connection and its state.
pub(crate) struct Session<C> {
    stream: Stream,
    conn: Option<C>,
    rbuf: ReadBuf,
    wbuf: Vec<u8>,
    written: usize,
    state: SessionState,
    /// Its job's group while the service runs a job for it; requests wait.
    job: Option<TaskGroup>,
    /// Its job has nothing to do before this instant ([`JobProgress::Sleep`]).
    job_sleep_until: Option<Instant>,
    /// Edge-triggered hints: may the socket have data / room now?
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// Registered for writable events (only while output waits on a full socket).
    pub(crate) watching_writable: bool,
    /// Poll reported the peer's end of stream (or an error) already.
    pub(crate) peer_closed_hint: bool,
    /// Nothing more will be read: the peer's end of stream, or (when
    /// draining) the socket said it had nothing more.
    input_ended: bool,
    /// Already in the worker's ready queue.
    pub(crate) queued: bool,
    /// Since when it has been waiting in the ready queue.
    pub(crate) ready_since: Option<Instant>,
    /// Its latest turns in a row that took at least the heavy-turn time (up to 2):
    /// two make it heavy (`worker/ready.rs`); one alone may be the machine's doing
    /// (a preempted thread), not the connection's.
    long_turns_in_a_row: u8,
    /// Already in its job group's queue.
    pub(crate) job_queued: bool,
    pub(crate) last_active: Instant,
    /// Since when input has waited with no request completing (a partial
    /// or stalled request); `None` while requests complete or none waits.
    pub(crate) stalled_since: Option<Instant>,
    overflow_reply: Arc<[u8]>,
    /// Buffer bytes the worker last counted for it (see `buffer_bytes`).
    pub(crate) accounted_bytes: usize,
}

impl<C> Session<C> {
    pub(crate) fn new(
        stream: Stream,
        conn: C,
        rbuf: ReadBuf,
        overflow_reply: Arc<[u8]>,
        now: Instant,
    ) -> Self {
        // A TLS handshake is input part-way from the first byte: its
        // timeout runs from accept, even if the client never sends one.
        let stalled_since = stream.has_partial_input().then_some(now);
        Self {
            stream,
            conn: Some(conn),
            rbuf,
            wbuf: Vec::new(),
            written: 0,
            state: SessionState::Open,
            job: None,
            job_sleep_until: None,
            readable: true,
            writable: true,
            watching_writable: false,
            peer_closed_hint: false,
            input_ended: false,
            queued: false,
            ready_since: None,
            long_turns_in_a_row: 0,
            job_queued: false,
            last_active: now,
            stalled_since,
            overflow_reply,
            accounted_bytes: 0,
        }
    }

    pub(crate) fn stream_mut(&mut self) -> &mut Stream {
        &mut self.stream
    }

    /// The service state, while the connection is open.
    pub(crate) fn conn(&self) -> Option<&C> {
        self.conn.as_ref()
    }

    /// Takes the service state out for `on_close`.
    pub(crate) fn take_conn(&mut self) -> Option<C> {
        self.conn.take()
    }

    /// Replies not yet taken by the socket, including encrypted records a
    /// TLS stream holds.
    pub(crate) fn pending_output_bytes(&self) -> usize {
        self.wbuf.len() - self.written + self.stream.buffered_output_bytes()
    }

    /// Memory its read and write buffers hold now.
    pub(crate) fn buffer_bytes(&self) -> usize {
        self.rbuf.capacity_bytes() + self.wbuf.capacity()
    }

    /// Gives both buffers back while nothing waits in them; called for a
    /// connection with no traffic for a while, so idle ones cost no buffers.
    pub(crate) fn release_idle_buffers(&mut self) {
        if self.job.is_some() {
            return;
        }
        if self.pending_output_bytes() == 0 {
            self.wbuf = Vec::new();
            self.written = 0;
        }
        self.rbuf.release();
    }

    /// Shutdown: reads whatever the socket holds now, whether or not poll
    /// has reported it, answers every complete request, flushes, then
    /// closes (serve ends with `Close`). A partial request is dropped.
    pub(crate) fn begin_drain(&mut self) {
        if self.state == SessionState::Open {
            self.state = SessionState::Draining;
        }
        // An edge not yet dispatched must not leave bytes unread.
        self.readable = true;
    }

    /// One turn: process buffered input, flush, read more, until the budget
    /// is spent, the socket has nothing, or backpressure holds.
    pub(crate) fn serve<S>(&mut self, svc: &mut S, limits: SessionLimits, now: Instant) -> TurnEnd
    where
        S: Service<Conn = C>,
    {
        let mut completed_any = false;
        let end = self.serve_turn(svc, limits, now, &mut completed_any);
        let input_waiting = !self.rbuf.is_empty() || self.stream.has_partial_input();
        if !input_waiting || self.job.is_some() {
            self.stalled_since = None;
        } else if completed_any || self.stalled_since.is_none() {
            // Bytes wait for a request that has not completed since now.
            self.stalled_since = Some(now);
        }
        end
    }

    fn serve_turn<S>(
        &mut self,
        svc: &mut S,
        limits: SessionLimits,
        now: Instant,
        completed_any: &mut bool,
    ) -> TurnEnd
    where
        S: Service<Conn = C>,
    {
        let mut read_budget = limits.turn_budget_bytes;
        let mut budget = TurnBudget {
            requests_left: limits.turn_budget_requests,
            output_bytes_left: limits.turn_budget_output_bytes,
        };
        loop {
            let progressed = self.process(svc, limits.high_water_bytes, &mut budget);
            *completed_any |= progressed;
            let Ok(flushed) = self.flush(now) else {
                return TurnEnd::Close(CloseReason::Io);
            };
            let pending = self.pending_output_bytes();
            if pending > limits.output_cap_bytes {
                return TurnEnd::Close(CloseReason::OutputCap);
            }
            if let SessionState::Closing(reason) = self.state {
                return if pending == 0 {
                    TurnEnd::Close(reason)
                } else {
                    TurnEnd::Wait
                };
            }
            if let Some(group) = self.job {
                if let Some(reason) = self.sleeping_job_ends() {
                    return TurnEnd::Close(reason);
                }
                // Requests wait for the job; it goes on while the client reads.
                return if pending < limits.high_water_bytes && !self.job_queued {
                    TurnEnd::Job(group)
                } else {
                    TurnEnd::Wait
                };
            }
            if self.input_ended && !progressed {
                return if pending == 0 {
                    TurnEnd::Close(CloseReason::Done)
                } else {
                    TurnEnd::Wait
                };
            }
            if pending >= limits.high_water_bytes {
                // Backpressure: no reading until the client takes its replies.
                return TurnEnd::Wait;
            }
            if budget.is_spent() {
                // The others' turn; this one goes on next turn if it has more.
                return if !self.rbuf.is_empty() {
                    TurnEnd::Yield
                } else if self.readable {
                    TurnEnd::Requeue
                } else {
                    TurnEnd::Wait
                };
            }
            if self.input_ended {
                // Input ended but the last pass progressed: process the rest.
                continue;
            }
            if !self.readable {
                if (progressed || flushed > 0) && !self.rbuf.is_empty() {
                    // Output drained with input still queued: the service
                    // may have stopped for room; let it go on.
                    continue;
                }
                return TurnEnd::Wait;
            }
            if read_budget == 0 {
                return TurnEnd::Requeue;
            }
            match self.rbuf.read_from(&mut self.stream, read_budget) {
                Ok(ReadOutcome::Data { bytes, short }) => {
                    read_budget -= bytes;
                    self.last_active = now;
                    // A short read emptied the socket: skip the read that
                    // would only say EAGAIN. Data arriving later raises a new
                    // edge; an end-of-stream already seen by poll does not,
                    // so then keep reading until EOF. Draining reads on to
                    // EAGAIN itself: the read that emptied the queue may have
                    // let the peer send what its window held back.
                    let draining = self.state == SessionState::Draining;
                    if short && !self.peer_closed_hint && !draining {
                        self.readable = false;
                    }
                }
                Ok(ReadOutcome::Eof) => self.input_ended = true,
                Ok(ReadOutcome::WouldBlock) => {
                    self.readable = false;
                    self.input_ended |= self.state == SessionState::Draining;
                }
                Ok(ReadOutcome::Full) => self.overflow(),
                Err(_) => return TurnEnd::Close(CloseReason::Io),
            }
        }
    }

    /// Why its job, asleep waiting for events (a log watcher), ends now: its
    /// client hung up, or the server is shutting down. Checked whenever the job
    /// is asleep, both when an event is served and when the job goes to sleep:
    /// a hang-up seen while the job was awake raises no later event.
    fn sleeping_job_ends(&self) -> Option<CloseReason> {
        if self.job.is_none() || self.job_sleep_until.is_none() {
            return None;
        }
        match self.state {
            SessionState::Draining => Some(CloseReason::Shutdown),
            _ if self.peer_closed_hint => Some(CloseReason::Done),
            _ => None,
        }
    }

    /// Notes whether its turn just now was long (see `long_turns_in_a_row`).
    pub(crate) fn note_turn_length(&mut self, long: bool) {
        self.long_turns_in_a_row = if long {
            (self.long_turns_in_a_row + 1).min(2)
        } else {
            0
        };
    }

    /// Whether its last two turns were long: others are served first.
    pub(crate) fn is_heavy(&self) -> bool {
        self.long_turns_in_a_row >= 2
    }

    /// Whether it is shutting down (drained) rather than serving.
    pub(crate) fn is_draining(&self) -> bool {
        self.state == SessionState::Draining
    }

    /// Closes gently: see [`Stream::linger_close`].
    pub(crate) fn linger_close(&mut self) {
        self.stream.linger_close();
    }

    /// Drops output already written from the buffer's front, so `output`
    /// handed to the service holds exactly the pending replies.
    fn drop_written_output(&mut self) {
        if self.written > 0 {
            self.wbuf.drain(..self.written);
            self.written = 0;
        }
    }

    /// Runs the service over buffered input; true if it consumed anything.
    fn process<S>(&mut self, svc: &mut S, high_water_bytes: usize, budget: &mut TurnBudget) -> bool
    where
        S: Service<Conn = C>,
    {
        if !matches!(self.state, SessionState::Open | SessionState::Draining) || self.job.is_some()
        {
            return false;
        }
        let pending = self.pending_output_bytes();
        if !self.rbuf.is_empty() && pending < high_water_bytes && !budget.is_spent() {
            self.drop_written_output();
        }
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let mut progressed = false;
        while !self.rbuf.is_empty()
            && self.wbuf.len() - self.written < high_water_bytes
            && !budget.is_spent()
        {
            let input = self.rbuf.data();
            let before = self.wbuf.len();
            let wbuf = &mut self.wbuf;
            // A panic is a bug in the service; it costs this connection,
            // not the worker and every other connection on it.
            let call = panic::catch_unwind(AssertUnwindSafe(|| {
                svc.process_within(conn, input, wbuf, budget)
            }));
            let Ok(result) = call else {
                // Replies to earlier requests still go out; then it closes.
                self.wbuf.truncate(before.max(self.written));
                self.rbuf.clear();
                self.state = SessionState::Closing(CloseReason::ServicePanic);
                return progressed;
            };
            debug_assert!(
                result.consumed <= input.len(),
                "service consumed past its input"
            );
            let consumed = result.consumed.min(input.len());
            self.rbuf.consume(consumed);
            if result.close_after_flush {
                self.state = SessionState::Closing(CloseReason::Done);
                self.rbuf.clear();
                return true;
            }
            if let Some(group) = svc.job_group(conn) {
                self.job = Some(group);
                return progressed || consumed > 0;
            }
            if consumed == 0 {
                break;
            }
            progressed = true;
        }
        progressed
    }

    /// A request does not fit the largest read buffer: reply and close.
    fn overflow(&mut self) {
        self.rbuf.clear();
        self.wbuf.extend_from_slice(&self.overflow_reply);
        self.state = SessionState::Closing(CloseReason::Overflow);
    }

    /// Writes pending output in as few syscalls as the socket allows;
    /// returns the bytes written.
    fn flush(&mut self, now: Instant) -> io::Result<usize> {
        let mut flushed = 0;
        while self.written < self.wbuf.len() && self.writable {
            match self.stream.write(&self.wbuf[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written += n;
                    flushed += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.writable && self.stream.buffered_output_bytes() > 0 {
            match self.stream.flush_buffered() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if flushed > 0 {
            // A client reading a long reply is active, not idle.
            self.last_active = now;
        }
        if self.written == self.wbuf.len() {
            self.wbuf.clear();
            self.written = 0;
            if self.wbuf.capacity() > WRITE_BUFFER_KEEP_BYTES {
                self.wbuf.shrink_to(WRITE_BUFFER_KEEP_BYTES);
            }
        }
        Ok(flushed)
    }
}
