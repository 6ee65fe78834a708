//! One connection to one server: its outstanding requests (a FIFO of intended send
//! times, since replies come back in order) and its buffers. What to send and when is
//! decided by its [`Lane`](super::lane::Lane).

use super::lane::Env;
use super::read_buffer::ReadBuffer;
use super::recorder::Recorder;
use super::stats::Counters;
use super::stream::Stream;
use crate::protocol::{self, Expect, RequestContext};
use crate::workload::Op;
use mio::{Interest, Token};
use std::collections::VecDeque;
use std::io;
use std::time::Duration;

/// Wait before reconnecting a dropped connection, so a dead server is not hammered.
pub const RECONNECT_DELAY_NS: u64 = 100_000_000;
/// Longest blocking connect attempt (loopback answers at once or refuses).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Bytes read per read call.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Most request bytes waiting for the socket; beyond this, due requests wait (late, and
/// measured from their schedule) instead of growing the buffer.
const MAX_PENDING_OUT_BYTES: usize = 4 << 20;
/// Most unparsed reply bytes held; a reply larger than this cannot be framed.
const MAX_INPUT_BYTES: usize = protocol::MAX_REPLY_VALUE_BYTES + 2 * READ_CHUNK_BYTES;

/// A request sent and not yet answered.
#[derive(Clone, Copy, Debug)]
struct Inflight {
    intended_ns: u64,
    sent_ns: u64,
    expect: Expect,
}

/// One connection and its state.
#[derive(Debug)]
pub struct Connection {
    token: Token,
    server: usize,
    stream: Option<Stream>,
    out: Vec<u8>,
    out_pos: usize,
    input: ReadBuffer,
    inflight: VecDeque<Inflight>,
    /// Cluster mode, open loop: requests due while this connection had no room
    /// (intended send time, request), sent in order once it has.
    backlog: VecDeque<(u64, Op)>,
    reconnect_at_ns: u64,
}

impl Connection {
    /// A connection (not yet open) to server `server` of the run, polled under `token`.
    pub fn new(server: usize, token: Token) -> Self {
        Self {
            token,
            server,
            stream: None,
            out: Vec::with_capacity(READ_CHUNK_BYTES),
            out_pos: 0,
            input: ReadBuffer::new(READ_CHUNK_BYTES, MAX_INPUT_BYTES),
            inflight: VecDeque::new(),
            backlog: VecDeque::new(),
            reconnect_at_ns: 0,
        }
    }

    /// The poll token of this connection.
    pub fn token(&self) -> Token {
        self.token
    }

    /// True when a request can be added now: connected, fewer than `window`
    /// outstanding, and not too many bytes waiting for the socket.
    pub fn has_room(&self, window: usize) -> bool {
        self.stream.is_some()
            && self.inflight.len() < window
            && self.out.len() - self.out_pos < MAX_PENDING_OUT_BYTES
    }

    /// True when no request is outstanding or waiting in the backlog.
    pub fn is_idle(&self) -> bool {
        self.inflight.is_empty() && self.backlog.is_empty()
    }

    /// True when requests wait in the backlog (a new one must queue behind them).
    pub fn has_backlog(&self) -> bool {
        !self.backlog.is_empty()
    }

    /// Queues a request that is due while the connection has no room; with `capacity`
    /// already queued it is counted as never sent instead, so one slow or dead server
    /// cannot hold up the requests due on the others.
    pub fn defer(&mut self, op: &Op, intended_ns: u64, capacity: usize, rec: &mut Recorder) {
        if self.backlog.len() < capacity {
            self.backlog.push_back((intended_ns, op.clone()));
        } else {
            rec.unsent(Some(self.server), intended_ns);
        }
    }

    /// Sends backlogged requests while there is room (each measured from its schedule).
    pub fn send_backlog(&mut self, window: usize, now_ns: u64, env: &Env<'_>, rec: &mut Recorder) {
        while self.has_room(window) {
            let Some((intended_ns, op)) = self.backlog.pop_front() else {
                return;
            };
            self.push(&op, intended_ns, now_ns, env);
            rec.sent(intended_ns, now_ns);
        }
    }

    /// Reconnects when due and drops the connection when its oldest request timed out.
    pub fn service(&mut self, now_ns: u64, env: &Env<'_>, rec: &mut Recorder) {
        if self.stream.is_none() {
            if now_ns >= self.reconnect_at_ns && now_ns < rec.window.drain_deadline_ns {
                self.connect(now_ns, env, rec);
            }
            return;
        }
        let timeout_ns = env.config.timeout.as_nanos() as u64;
        if self
            .inflight
            .front()
            .is_some_and(|f| now_ns >= f.sent_ns + timeout_ns)
        {
            self.fail(now_ns, env, rec, |c| &mut c.timeouts);
        }
    }

    /// Opens and registers the socket; a failure is counted and retried later.
    pub fn connect(&mut self, now_ns: u64, env: &Env<'_>, rec: &mut Recorder) {
        let addr = env.servers[self.server];
        match Stream::connect(addr, CONNECT_TIMEOUT, env.config.tls.as_ref()) {
            Ok(mut stream) => match env.registry.register(
                stream.socket_mut(),
                self.token,
                Interest::READABLE | Interest::WRITABLE,
            ) {
                Ok(()) => self.stream = Some(stream),
                Err(_) => rec.event(self.server, now_ns, |c| &mut c.connect_errors, 1),
            },
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                rec.event(self.server, now_ns, |c| &mut c.connect_refused, 1)
            }
            Err(_) => rec.event(self.server, now_ns, |c| &mut c.connect_errors, 1),
        }
        if self.stream.is_none() {
            self.reconnect_at_ns = now_ns + RECONNECT_DELAY_NS;
        }
    }

    /// Appends the request for `op` to the output buffer (the caller checked
    /// [`has_room`](Self::has_room)).
    pub fn push(&mut self, op: &Op, intended_ns: u64, now_ns: u64, env: &Env<'_>) {
        let ctx = RequestContext {
            key_prefix: env.config.workload.key_prefix.as_bytes(),
            ttl_s: env.config.workload.ttl_s,
            value_bytes: env.value_bytes,
        };
        let expect = protocol::encode(env.config.protocol, op, &ctx, &mut self.out);
        self.inflight.push_back(Inflight {
            intended_ns,
            sent_ns: now_ns,
            expect,
        });
    }

    /// Writes as much of the output buffer as the socket takes.
    pub fn flush(&mut self, now_ns: u64, env: &Env<'_>, rec: &mut Recorder) {
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        // TLS output left behind by an earlier write or read goes first, in order.
        match stream.send_pending() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => return self.fail(now_ns, env, rec, |c| &mut c.disconnects),
        }
        while self.out_pos < self.out.len() {
            match stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return self.fail(now_ns, env, rec, |c| &mut c.disconnects),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // A socket that drains slowly never empties the buffer; reclaim the sent part.
                    if self.out_pos >= READ_CHUNK_BYTES {
                        self.out.drain(..self.out_pos);
                        self.out_pos = 0;
                    }
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.fail(now_ns, env, rec, |c| &mut c.disconnects),
            }
        }
        self.out.clear();
        self.out_pos = 0;
    }

    /// Reads and frames every reply available; `clock` gives the receive time.
    pub fn on_readable(&mut self, clock: &dyn Fn() -> u64, env: &Env<'_>, rec: &mut Recorder) {
        loop {
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            let Some(spare) = self.input.spare() else {
                return self.fail(clock(), env, rec, |c| &mut c.protocol_errors);
            };
            let result = stream.read(spare);
            let now_ns = clock();
            match result {
                Ok(0) => return self.fail(now_ns, env, rec, |c| &mut c.disconnects),
                Ok(n) => {
                    self.input.commit(n);
                    if !self.take_replies(now_ns, env, rec) {
                        return;
                    }
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => return,
                    io::ErrorKind::Interrupted => {}
                    _ => return self.fail(now_ns, env, rec, |c| &mut c.disconnects),
                },
            }
        }
    }

    /// Matches complete replies with the oldest requests; false if the connection broke.
    fn take_replies(&mut self, now_ns: u64, env: &Env<'_>, rec: &mut Recorder) -> bool {
        while !self.input.data().is_empty() {
            let Some(front) = self.inflight.front() else {
                // Bytes nobody asked for: the stream is out of step.
                self.fail(now_ns, env, rec, |c| &mut c.protocol_errors);
                return false;
            };
            match protocol::parse(env.config.protocol, front.expect, self.input.data()) {
                Ok(Some((used, outcome))) => {
                    rec.complete(self.server, front.intended_ns, now_ns, outcome);
                    self.inflight.pop_front();
                    self.input.consume(used);
                }
                Ok(None) => break,
                Err(_) => {
                    self.fail(now_ns, env, rec, |c| &mut c.protocol_errors);
                    return false;
                }
            }
        }
        true
    }

    /// Drops the connection: counts the event, loses the outstanding requests, and
    /// schedules a reconnect. The schedule keeps running, so the outage is measured.
    fn fail(
        &mut self,
        now_ns: u64,
        env: &Env<'_>,
        rec: &mut Recorder,
        event: fn(&mut Counters) -> &mut u64,
    ) {
        rec.event(self.server, now_ns, event, 1);
        rec.lost(self.server, self.inflight.iter().map(|f| f.intended_ns));
        self.inflight.clear();
        self.out.clear();
        self.out_pos = 0;
        self.input.clear();
        if let Some(mut stream) = self.stream.take() {
            // The stream is dropped (closed) right after; a failed deregister changes nothing.
            let _ = env.registry.deregister(stream.socket_mut());
        }
        self.reconnect_at_ns = now_ns + RECONNECT_DELAY_NS;
    }

    /// When this connection needs the loop to wake without I/O: to reconnect, or to
    /// time out its oldest request.
    pub fn next_wake_ns(&self, env: &Env<'_>) -> Option<u64> {
        if self.stream.is_none() {
            return Some(self.reconnect_at_ns);
        }
        self.inflight
            .front()
            .map(|f| f.sent_ns + env.config.timeout.as_nanos() as u64)
    }

    /// At the end of the run: counts the requests never answered and never sent.
    pub fn finish(&mut self, rec: &mut Recorder) {
        rec.lost(self.server, self.inflight.drain(..).map(|f| f.intended_ns));
        for (intended_ns, _) in self.backlog.drain(..) {
            rec.unsent(Some(self.server), intended_ns);
        }
    }
}
