//! One connection's buffers and the read → process → write cycle of a turn.

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use crate::read_buf::{ReadBuf, ReadOutcome};
use crate::service::Service;
use crate::stream::Stream;

/// Output capacity kept after a flush; more is given back so that one big
/// reply does not pin memory for the connection's life.
const WRITE_BUFFER_KEEP_BYTES: usize = 64 * 1024;

/// Per-turn limits a session obeys.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SessionLimits {
    pub(crate) high_water_bytes: usize,
    pub(crate) turn_budget_bytes: usize,
}

/// What the worker should do with a session after its turn.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TurnEnd {
    /// Wait for the next readiness event.
    Wait,
    /// Budget spent with input still waiting: serve again next turn.
    Requeue,
    /// Close it now.
    Close(CloseReason),
}

/// Why a session closed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// Peer closed, or the service asked to close, and all output went out.
    Done,
    /// A request outgrew the read buffer.
    Overflow,
    /// The socket failed.
    Io,
}

/// A connection and its state.
pub(crate) struct Session<C> {
    stream: Stream,
    conn: Option<C>,
    rbuf: ReadBuf,
    wbuf: Vec<u8>,
    written: usize,
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
    /// Shutting down: read until the socket is empty, answer every
    /// complete request, flush, close.
    draining: bool,
    close_after_flush: bool,
    overflowed: bool,
    service_panicked: bool,
    /// Already in the worker's ready queue.
    pub(crate) queued: bool,
    pub(crate) last_active: Instant,
    /// Since when input has waited with no request completing (a partial
    /// or stalled request); `None` while requests complete or none waits.
    pub(crate) stalled_since: Option<Instant>,
    overflow_reply: Arc<[u8]>,
}

impl<C> Session<C> {
    pub(crate) fn new(
        stream: Stream,
        conn: C,
        rbuf: ReadBuf,
        overflow_reply: Arc<[u8]>,
        now: Instant,
    ) -> Self {
        Self {
            stream,
            conn: Some(conn),
            rbuf,
            wbuf: Vec::new(),
            written: 0,
            readable: true,
            writable: true,
            watching_writable: false,
            peer_closed_hint: false,
            input_ended: false,
            draining: false,
            close_after_flush: false,
            overflowed: false,
            service_panicked: false,
            queued: false,
            last_active: now,
            stalled_since: None,
            overflow_reply,
        }
    }

    pub(crate) fn stream_mut(&mut self) -> &mut Stream {
        &mut self.stream
    }

    /// Whether the service panicked on this connection's input.
    pub(crate) fn service_panicked(&self) -> bool {
        self.service_panicked
    }

    /// Takes the service state out for `on_close`.
    pub(crate) fn take_conn(&mut self) -> Option<C> {
        self.conn.take()
    }

    pub(crate) fn pending_output_bytes(&self) -> usize {
        self.wbuf.len() - self.written
    }

    /// Shutdown: reads whatever the socket holds now, whether or not poll
    /// has reported it, answers every complete request, flushes, then
    /// closes (serve ends with `Close`). A partial request is dropped.
    pub(crate) fn begin_drain(&mut self) {
        self.draining = true;
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
        if self.rbuf.is_empty() {
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
        loop {
            let progressed = self.process(svc, limits.high_water_bytes);
            *completed_any |= progressed;
            let Ok(flushed) = self.flush() else {
                return TurnEnd::Close(CloseReason::Io);
            };
            let pending = self.pending_output_bytes();
            if self.close_after_flush || (self.input_ended && !progressed) {
                return match (pending, self.overflowed) {
                    (0, true) => TurnEnd::Close(CloseReason::Overflow),
                    (0, false) => TurnEnd::Close(CloseReason::Done),
                    _ => TurnEnd::Wait,
                };
            }
            if pending >= limits.high_water_bytes {
                // Backpressure: no reading until the client takes its replies.
                return TurnEnd::Wait;
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
                    if short && !self.peer_closed_hint && !self.draining {
                        self.readable = false;
                    }
                }
                Ok(ReadOutcome::Eof) => self.input_ended = true,
                Ok(ReadOutcome::WouldBlock) => {
                    self.readable = false;
                    self.input_ended |= self.draining;
                }
                Ok(ReadOutcome::Full) => self.overflow(),
                Err(_) => return TurnEnd::Close(CloseReason::Io),
            }
        }
    }

    /// Closes gently: see [`Stream::linger_close`].
    pub(crate) fn linger_close(&mut self) {
        self.stream.linger_close();
    }

    /// Runs the service over buffered input; true if it consumed anything.
    fn process<S>(&mut self, svc: &mut S, high_water_bytes: usize) -> bool
    where
        S: Service<Conn = C>,
    {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        // `output` then holds exactly the pending replies, so a service that
        // checks its length against the high-water mark sees what we see.
        let pending = self.wbuf.len() - self.written;
        let will_call = !self.rbuf.is_empty() && pending < high_water_bytes;
        if self.written > 0 && will_call {
            self.wbuf.drain(..self.written);
            self.written = 0;
        }
        let mut progressed = false;
        while !self.close_after_flush
            && !self.rbuf.is_empty()
            && self.wbuf.len() - self.written < high_water_bytes
        {
            let input = self.rbuf.data();
            let before = self.wbuf.len();
            let wbuf = &mut self.wbuf;
            // A panic is a bug in the service; it costs this connection,
            // not the worker and every other connection on it.
            let call = panic::catch_unwind(AssertUnwindSafe(|| svc.process(conn, input, wbuf)));
            let Ok(result) = call else {
                // Replies to earlier requests still go out; then it closes.
                self.wbuf.truncate(before.max(self.written));
                self.rbuf.clear();
                self.service_panicked = true;
                self.close_after_flush = true;
                return progressed;
            };
            debug_assert!(
                result.consumed <= input.len(),
                "service consumed past its input"
            );
            let consumed = result.consumed.min(input.len());
            self.rbuf.consume(consumed);
            if result.close_after_flush {
                self.close_after_flush = true;
                self.rbuf.clear();
                return true;
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
        self.close_after_flush = true;
        self.overflowed = true;
    }

    /// Writes pending output in as few syscalls as the socket allows;
    /// returns the bytes written.
    fn flush(&mut self) -> io::Result<usize> {
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
