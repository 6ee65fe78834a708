//! One worker thread: its poll, its listeners, its sessions, its service.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::config::RuntimeConfig;
use crate::conn_stats::ConnStats;
use crate::listener::{PerWorkerSocket, WorkerListener};
use crate::read_buf::ReadBuf;
use crate::service::{BackgroundProgress, Service};
use crate::session::{CloseReason, Session, SessionLimits, TurnEnd};
use crate::slab::Slab;
use crate::stream::Stream;

/// Readiness events taken per poll call.
const EVENTS_PER_POLL: usize = 1024;
/// How often idle sessions are looked for.
const IDLE_SCAN_INTERVAL: Duration = Duration::from_secs(1);
/// Poll timeout while flushing at shutdown.
const SHUTDOWN_POLL: Duration = Duration::from_millis(20);

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
    ready: VecDeque<usize>,
    /// Sessions named by the last poll, with what poll said about them.
    touched: Vec<(usize, Readiness)>,
    service: S,
    config: Arc<RuntimeConfig>,
    stats: Arc<ConnStats>,
    stop: Arc<AtomicBool>,
    background_pending: bool,
    last_background: Instant,
    last_idle_scan: Instant,
}

impl<S: Service> Worker<S> {
    pub(crate) fn new(
        poll: Poll,
        listeners: Vec<WorkerListener>,
        service: S,
        config: Arc<RuntimeConfig>,
        stats: Arc<ConnStats>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Self> {
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
            }
        }
        let now = Instant::now();
        Ok(Self {
            poll,
            events: Events::with_capacity(EVENTS_PER_POLL),
            listener_ready: vec![true; listeners.len()],
            session_token_base: listeners.len() + 1,
            listeners,
            sessions: Slab::new(),
            ready: VecDeque::new(),
            touched: Vec::with_capacity(EVENTS_PER_POLL),
            service,
            config,
            stats,
            stop,
            background_pending: true,
            last_background: now,
            last_idle_scan: now,
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
        }
    }

    /// Runs turns until stopped, then drains and closes every session.
    pub(crate) fn run(mut self) {
        while !self.stop.load(Ordering::Acquire) {
            if let Err(e) = self.turn() {
                tracing::error!(error = %e, "worker poll failed; stopping worker");
                break;
            }
        }
        self.shutdown();
    }

    fn turn(&mut self) -> io::Result<()> {
        let timeout = self.poll_timeout();
        if let Err(e) = self.poll.poll(&mut self.events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let now = Instant::now();
        self.dispatch_events();
        self.accept_ready(now);
        self.serve_ready(now);
        self.run_background(now);
        self.close_idle(now);
        Ok(())
    }

    fn poll_timeout(&self) -> Duration {
        let busy = !self.ready.is_empty()
            || self.background_pending
            || self.listener_ready.iter().any(|&r| r);
        if busy {
            return Duration::ZERO;
        }
        let next = self.last_background + self.config.background_interval;
        next.saturating_duration_since(Instant::now())
    }

    fn dispatch_events(&mut self) {
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
            self.mark_ready(index, readiness);
        }
        self.touched = touched;
    }

    fn mark_ready(&mut self, index: usize, readiness: Readiness) {
        let Some(session) = self.sessions.get_mut(index) else {
            return;
        };
        session.readable |= readiness.readable;
        session.writable |= readiness.writable;
        session.peer_closed_hint |= readiness.closed;
        if !session.queued {
            session.queued = true;
            self.ready.push_back(index);
        }
    }

    fn accept_ready(&mut self, now: Instant) {
        for index in 0..self.listeners.len() {
            if !self.listener_ready[index] {
                continue;
            }
            for _ in 0..self.config.accepts_per_turn {
                match self.accept_one(index) {
                    Ok(stream) => self.admit(stream, index, now),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.listener_ready[index] = false;
                        break;
                    }
                    Err(e) if is_transient_accept_error(&e) => continue,
                    Err(e) => {
                        // Out of descriptors or memory: wait for the next event.
                        tracing::warn!(error = %e, "accept failed");
                        self.listener_ready[index] = false;
                        break;
                    }
                }
            }
        }
    }

    fn accept_one(&mut self, index: usize) -> io::Result<Stream> {
        match &self.listeners[index].socket {
            PerWorkerSocket::Tcp(l) => {
                let (stream, _) = l.accept()?;
                // Replies are written whole per batch; Nagle would only delay them.
                stream.set_nodelay(true)?;
                Ok(Stream::Tcp(stream))
            }
            PerWorkerSocket::Unix(l) => Ok(Stream::Unix(l.accept()?.0)),
        }
    }

    fn admit(&mut self, mut stream: Stream, listener: usize, now: Instant) {
        let listener = &self.listeners[listener];
        if !self.stats.try_open(self.config.max_connections) {
            // Fresh socket, empty send buffer: one short write goes through.
            let _ = stream.write(&listener.reject_reply);
            stream.linger_close();
            return;
        }
        let conn = self.service.new_conn(listener.tag);
        let rbuf = ReadBuf::new(
            self.config.read_buffer_initial_bytes,
            self.config.read_buffer_max_bytes,
        );
        let session = Session::new(stream, conn, rbuf, listener.overflow_reply.clone(), now);
        let index = self.sessions.insert(session);
        tracing::debug!(
            session = index,
            listener = listener.tag,
            "connection accepted"
        );
        let token = self.session_token(index);
        let registry = self.poll.registry();
        let session = self.sessions.get_mut(index).expect("just inserted");
        // Readable only: asking for writable too would wake the worker whenever the
        // peer's acknowledgements free send-buffer room, which is almost always for
        // nothing. Writable interest is added while output waits (`watch_writable`).
        if let Err(e) = registry.register(session.stream_mut(), token, Interest::READABLE) {
            tracing::warn!(error = %e, "cannot register connection");
            self.close(index, CloseReason::Io);
        }
    }

    fn serve_ready(&mut self, now: Instant) {
        let limits = self.limits();
        // Only those queued now: a requeued session waits for the next turn.
        for _ in 0..self.ready.len() {
            let Some(index) = self.ready.pop_front() else {
                break;
            };
            let Some(session) = self.sessions.get_mut(index) else {
                continue;
            };
            session.queued = false;
            match session.serve(&mut self.service, limits, now) {
                TurnEnd::Wait => self.watch_writable(index),
                TurnEnd::Requeue => {
                    self.watch_writable(index);
                    let session = self.sessions.get_mut(index).expect("still open");
                    session.queued = true;
                    self.ready.push_back(index);
                }
                TurnEnd::Close(reason) => self.close(index, reason),
            }
        }
    }

    fn run_background(&mut self, now: Instant) {
        let due = now.duration_since(self.last_background) >= self.config.background_interval;
        if !(self.background_pending || due) {
            return;
        }
        self.last_background = now;
        let progress = self.service.background_step(self.config.background_budget);
        self.background_pending = progress == BackgroundProgress::MoreWork;
    }

    fn close_idle(&mut self, now: Instant) {
        let (idle, stalled) = (self.config.idle_timeout, self.config.request_timeout);
        let Some(shortest) = [idle, stalled].into_iter().flatten().min() else {
            return;
        };
        if now.duration_since(self.last_idle_scan) < IDLE_SCAN_INTERVAL.min(shortest) {
            return;
        }
        self.last_idle_scan = now;
        for index in self.sessions.indices() {
            let Some(session) = self.sessions.get_mut(index) else {
                continue;
            };
            let is_idle = idle.is_some_and(|t| now.duration_since(session.last_active) >= t);
            let is_stalled = stalled
                .zip(session.stalled_since)
                .is_some_and(|(t, since)| now.duration_since(since) >= t);
            if is_idle {
                self.stats.count_idle_close();
            } else if is_stalled {
                self.stats.count_stalled_close();
            }
            if is_idle || is_stalled {
                self.close(index, CloseReason::Done);
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

    fn close(&mut self, index: usize, reason: CloseReason) {
        let Some(mut session) = self.sessions.remove(index) else {
            return;
        };
        tracing::debug!(session = index, ?reason, "connection closed");
        // Counted before the peer can see the close.
        if reason == CloseReason::Overflow {
            self.stats.count_overflow_close();
        }
        let conn = session.take_conn();
        if session.service_panicked() {
            self.stats.count_service_panic();
            tracing::error!(session = index, "service panicked; connection closed");
        }
        if reason != CloseReason::Io {
            session.linger_close();
        }
        let _ = self.poll.registry().deregister(session.stream_mut());
        match conn {
            // State a panic left half-updated is dropped, not handed back.
            Some(_) if session.service_panicked() => {}
            Some(conn) => self.service.on_close(conn),
            None => {}
        }
        self.stats.close();
    }

    /// Stops accepting, answers every complete request each connection
    /// already sent, flushes, and closes; for at most the shutdown timeout.
    fn shutdown(&mut self) {
        // Connections the kernel completed before the stop are taken (one
        // bounded batch per listener) and served like the others, rather
        // than reset with the listener.
        self.listener_ready
            .iter_mut()
            .for_each(|ready| *ready = true);
        self.accept_ready(Instant::now());
        self.listeners.clear();
        self.listener_ready.clear();
        let deadline = Instant::now() + self.config.shutdown_timeout;
        self.begin_drain_all();
        while self.sessions.len() > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // Sessions with input or budget left go on at once; the others
            // wait for room to write.
            let wait = if self.ready.is_empty() {
                SHUTDOWN_POLL.min(left)
            } else {
                Duration::ZERO
            };
            if let Err(e) = self.poll.poll(&mut self.events, Some(wait)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    break;
                }
            }
            self.dispatch_events();
            self.serve_ready(Instant::now());
        }
        for index in self.sessions.indices() {
            self.close(index, CloseReason::Done);
        }
    }

    /// Puts every session in drain mode and queues it: its socket is read
    /// to EAGAIN whether or not poll has reported it readable yet.
    fn begin_drain_all(&mut self) {
        for index in self.sessions.indices() {
            let Some(session) = self.sessions.get_mut(index) else {
                continue;
            };
            session.begin_drain();
            if !session.queued {
                session.queued = true;
                self.ready.push_back(index);
            }
        }
    }
}

/// Accept errors about one connection only (it died before we took it).
fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED) | Some(libc::EINTR) | Some(libc::EPROTO) | Some(libc::EPERM)
    )
}
