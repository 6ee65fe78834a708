//! One connection: its schedule, its outstanding requests (a FIFO of intended send
//! times, since replies come back in order) and its buffers.

use super::read_buffer::ReadBuffer;
use super::recorder::Recorder;
use super::stats::Counters;
use super::stream::Stream;
use crate::config::{Load, RunConfig};
use crate::protocol::{self, Expect, RequestContext};
use crate::schedule::Schedule;
use crate::workload::{Op, OpGenerator, OpKind};
use mio::{Interest, Registry, Token};
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

/// How this connection decides when to send.
#[derive(Debug)]
enum Pacing {
    Open(Schedule),
    Closed { pipeline: usize },
}

/// What every connection of a worker shares.
#[derive(Debug)]
pub struct Env<'a> {
    /// The run.
    pub config: &'a RunConfig,
    /// Payload for sets.
    pub value_bytes: &'a [u8],
    /// The worker's poll registry.
    pub registry: &'a Registry,
}

/// One connection and its state.
#[derive(Debug)]
pub struct Connection {
    token: Token,
    stream: Option<Stream>,
    out: Vec<u8>,
    out_pos: usize,
    input: ReadBuffer,
    inflight: VecDeque<Inflight>,
    pacing: Pacing,
    generator: OpGenerator,
    op: Op,
    reconnect_at_ns: u64,
}

impl Connection {
    /// Connection number `index` of the run (it picks its share of the schedule),
    /// polled under `token` by its worker.
    pub fn new(config: &RunConfig, index: usize, token: Token) -> Self {
        let pacing = match config.load {
            Load::Open {
                rate_per_s,
                arrival,
            } => Pacing::Open(Schedule::new(
                arrival,
                rate_per_s,
                config.connections,
                index,
                config.seed,
            )),
            Load::Closed { pipeline } => Pacing::Closed { pipeline },
        };
        let op_seed = config
            .seed
            .wrapping_add(0x5851_F42D_4C95_7F2D_u64.wrapping_mul(index as u64 + 1));
        Self {
            token,
            stream: None,
            out: Vec::with_capacity(READ_CHUNK_BYTES),
            out_pos: 0,
            input: ReadBuffer::new(READ_CHUNK_BYTES, MAX_INPUT_BYTES),
            inflight: VecDeque::new(),
            pacing,
            generator: OpGenerator::new(&config.workload, op_seed),
            op: Op {
                kind: OpKind::Get,
                keys: Vec::new(),
                value_len: 0,
            },
            reconnect_at_ns: 0,
        }
    }

    /// The poll token of this connection.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Reconnects, checks for a timed-out request, sends what is due and flushes.
    pub fn service(&mut self, now_ns: u64, env: &Env<'_>, rec: &mut Recorder) {
        if self.stream.is_none() {
            if now_ns < self.reconnect_at_ns || now_ns >= rec.window.drain_deadline_ns {
                return;
            }
            self.connect(now_ns, env, rec);
            if self.stream.is_none() {
                return;
            }
        }
        let timeout_ns = env.config.timeout.as_nanos() as u64;
        if self
            .inflight
            .front()
            .is_some_and(|f| now_ns >= f.sent_ns + timeout_ns)
        {
            self.fail(now_ns, env, rec, |c| &mut c.timeouts);
            return;
        }
        self.send_due(now_ns, env, rec);
        self.flush(now_ns, env, rec);
    }

    /// Opens and registers the socket; a failure is counted and retried later.
    pub fn connect(&mut self, now_ns: u64, env: &Env<'_>, rec: &mut Recorder) {
        match Stream::connect(env.config.target, CONNECT_TIMEOUT, env.config.tls.as_ref()) {
            Ok(mut stream) => match env.registry.register(
                stream.socket_mut(),
                self.token,
                Interest::READABLE | Interest::WRITABLE,
            ) {
                Ok(()) => self.stream = Some(stream),
                Err(_) => rec.event(now_ns, |c| &mut c.connect_errors, 1),
            },
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                rec.event(now_ns, |c| &mut c.connect_refused, 1)
            }
            Err(_) => rec.event(now_ns, |c| &mut c.connect_errors, 1),
        }
        if self.stream.is_none() {
            self.reconnect_at_ns = now_ns + RECONNECT_DELAY_NS;
        }
    }

    fn send_due(&mut self, now_ns: u64, env: &Env<'_>, rec: &mut Recorder) {
        let measure_end_ns = rec.window.measure_end_ns;
        let max_inflight = env.config.max_inflight_per_connection;
        loop {
            if self.out.len() - self.out_pos >= MAX_PENDING_OUT_BYTES {
                return;
            }
            let intended_ns = match &self.pacing {
                Pacing::Open(s)
                    if s.peek_ns() <= now_ns
                        && s.peek_ns() < measure_end_ns
                        && self.inflight.len() < max_inflight =>
                {
                    s.peek_ns()
                }
                Pacing::Closed { pipeline }
                    if self.inflight.len() < *pipeline && now_ns < measure_end_ns =>
                {
                    now_ns
                }
                _ => return,
            };
            self.send(intended_ns, now_ns, env);
            rec.sent(intended_ns, now_ns);
            if let Pacing::Open(s) = &mut self.pacing {
                s.advance();
            }
        }
    }

    fn send(&mut self, intended_ns: u64, now_ns: u64, env: &Env<'_>) {
        self.generator.next_into(&mut self.op);
        let ctx = RequestContext {
            key_prefix: env.config.workload.key_prefix.as_bytes(),
            ttl_s: env.config.workload.ttl_s,
            value_bytes: env.value_bytes,
        };
        let expect = protocol::encode(env.config.protocol, &self.op, &ctx, &mut self.out);
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
                    rec.complete(front.intended_ns, now_ns, outcome);
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
        rec.event(now_ns, event, 1);
        rec.lost(self.inflight.iter().map(|f| f.intended_ns));
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

    /// The earliest time this connection needs the loop to wake without I/O.
    pub fn next_wake_ns(&self, env: &Env<'_>, measure_end_ns: u64) -> Option<u64> {
        if self.stream.is_none() {
            return Some(self.reconnect_at_ns);
        }
        let timeout = self
            .inflight
            .front()
            .map(|f| f.sent_ns + env.config.timeout.as_nanos() as u64);
        let send = match &self.pacing {
            Pacing::Open(s)
                if s.peek_ns() < measure_end_ns
                    && self.inflight.len() < env.config.max_inflight_per_connection
                    && self.out.len() - self.out_pos < MAX_PENDING_OUT_BYTES =>
            {
                Some(s.peek_ns())
            }
            _ => None,
        };
        match (timeout, send) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True when nothing is outstanding and nothing more is scheduled.
    pub fn is_done(&self, measure_end_ns: u64) -> bool {
        let scheduled = matches!(&self.pacing, Pacing::Open(s) if s.peek_ns() < measure_end_ns);
        self.inflight.is_empty() && !scheduled
    }

    /// At the end of the run: counts unanswered and never-sent requests.
    pub fn finish(&mut self, rec: &mut Recorder) {
        rec.lost(self.inflight.drain(..).map(|f| f.intended_ns));
        if let Pacing::Open(s) = &mut self.pacing {
            let window = rec.window;
            while s.peek_ns() < window.measure_end_ns {
                if window.measures(s.peek_ns()) {
                    rec.counters.unsent += 1;
                }
                s.advance();
            }
        }
    }
}
