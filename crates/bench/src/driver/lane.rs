//! One lane of the load: a share of the schedule, its own stream of operations, and
//! one connection to each server, like one client instance of a memcached library.
//! Each request goes out on the connection to the server its key maps to; against a
//! single target a lane is one connection.

use super::connection::Connection;
use super::recorder::Recorder;
use crate::cluster::Router;
use crate::config::{Load, RunConfig};
use crate::schedule::Schedule;
use crate::workload::{Op, OpGenerator, OpKind};
use mio::{Registry, Token};
use std::net::SocketAddr;

/// What every lane of a worker shares.
#[derive(Debug)]
pub struct Env<'a> {
    /// The run.
    pub config: &'a RunConfig,
    /// The servers, in the run's order.
    pub servers: &'a [SocketAddr],
    /// Which server each key goes to.
    pub router: &'a Router,
    /// Payload for sets.
    pub value_bytes: &'a [u8],
    /// The worker's poll registry.
    pub registry: &'a Registry,
}

/// How this lane decides when to send.
#[derive(Debug)]
enum Pacing {
    Open(Schedule),
    Closed { pipeline: usize },
}

/// One lane and its connections.
#[derive(Debug)]
pub struct Lane {
    pacing: Pacing,
    generator: OpGenerator,
    op: Op,
    /// The server of `op` when it was drawn but not sent yet: its connection had no
    /// room. It goes first once there is, so the lane's requests keep their order.
    drawn_for: Option<usize>,
    connections: Vec<Connection>,
}

impl Lane {
    /// Lane number `index` of the run (it picks its share of the schedule), whose
    /// connection to server `s` is polled under token `first_token + s`.
    pub fn new(config: &RunConfig, index: usize, first_token: usize, servers: usize) -> Self {
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
            pacing,
            generator: OpGenerator::new(&config.workload, op_seed),
            op: Op {
                kind: OpKind::Get,
                keys: Vec::new(),
                value_len: 0,
            },
            drawn_for: None,
            connections: (0..servers)
                .map(|s| Connection::new(s, Token(first_token + s)))
                .collect(),
        }
    }

    /// The connection to server `server`.
    pub fn connection_mut(&mut self, server: usize) -> Option<&mut Connection> {
        self.connections.get_mut(server)
    }

    /// Opens every connection (failures are counted and retried later).
    pub fn connect(&mut self, now_ns: u64, env: &Env<'_>, rec: &mut Recorder) {
        for c in &mut self.connections {
            c.connect(now_ns, env, rec);
        }
    }

    /// Reconnects, checks for timed-out requests, sends what is due and flushes.
    pub fn service(&mut self, now_ns: u64, env: &Env<'_>, rec: &mut Recorder) {
        let window = self.window(env);
        for c in &mut self.connections {
            c.service(now_ns, env, rec);
            c.send_backlog(window, now_ns, env, rec);
        }
        self.send_due(now_ns, env, rec);
        for c in &mut self.connections {
            c.flush(now_ns, env, rec);
        }
    }

    /// Outstanding requests one connection may hold.
    fn window(&self, env: &Env<'_>) -> usize {
        match self.pacing {
            Pacing::Open(_) => env.config.max_inflight_per_connection,
            Pacing::Closed { pipeline } => pipeline,
        }
    }

    /// How many due requests one connection may queue while it has no room: in an
    /// open-loop cluster run, a window's worth, so that one slow or dead server does not
    /// stop the lane's requests to the others. Elsewhere none: the lane waits, as a
    /// single target's connection always has (and a closed loop must, or it would
    /// draw requests without end).
    fn backlog_capacity(&self, env: &Env<'_>) -> usize {
        match self.pacing {
            Pacing::Open(_) if env.config.cluster.is_some() => self.window(env),
            _ => 0,
        }
    }

    fn send_due(&mut self, now_ns: u64, env: &Env<'_>, rec: &mut Recorder) {
        let measure_end_ns = rec.window.measure_end_ns;
        let window = self.window(env);
        let backlog_capacity = self.backlog_capacity(env);
        loop {
            let intended_ns = match &self.pacing {
                Pacing::Open(s) if s.peek_ns() <= now_ns && s.peek_ns() < measure_end_ns => {
                    s.peek_ns()
                }
                Pacing::Closed { .. } if now_ns < measure_end_ns => now_ns,
                _ => return,
            };
            let server = match self.drawn_for {
                Some(server) => server,
                None => {
                    self.generator.next_into(&mut self.op);
                    let prefix = env.config.workload.key_prefix.as_bytes();
                    let server = env.router.server_of(prefix, self.op.keys[0]);
                    self.drawn_for = Some(server);
                    server
                }
            };
            let connection = &mut self.connections[server];
            if connection.has_room(window) && !connection.has_backlog() {
                connection.push(&self.op, intended_ns, now_ns, env);
                rec.sent(intended_ns, now_ns);
            } else if backlog_capacity > 0 {
                connection.defer(&self.op, intended_ns, backlog_capacity, rec);
            } else {
                return;
            }
            self.drawn_for = None;
            if let Pacing::Open(s) = &mut self.pacing {
                s.advance();
            }
        }
    }

    /// The earliest time this lane needs the loop to wake without I/O.
    pub fn next_wake_ns(&self, env: &Env<'_>, measure_end_ns: u64) -> Option<u64> {
        let connections = self.connections.iter().filter_map(|c| c.next_wake_ns(env));
        let send = match &self.pacing {
            // A request waiting for room waits for I/O on its connection, not for time.
            Pacing::Open(s)
                if s.peek_ns() < measure_end_ns
                    && self.drawn_for.is_none_or(|server| {
                        self.connections[server].has_room(self.window(env))
                    }) =>
            {
                Some(s.peek_ns())
            }
            _ => None,
        };
        connections.chain(send).min()
    }

    /// True when nothing is outstanding and nothing more is scheduled.
    pub fn is_done(&self, measure_end_ns: u64) -> bool {
        let scheduled = matches!(&self.pacing, Pacing::Open(s) if s.peek_ns() < measure_end_ns);
        !scheduled && self.connections.iter().all(Connection::is_idle)
    }

    /// At the end of the run: counts unanswered and never-sent requests.
    pub fn finish(&mut self, rec: &mut Recorder) {
        for c in &mut self.connections {
            c.finish(rec);
        }
        if let Pacing::Open(s) = &mut self.pacing {
            let window = rec.window;
            while s.peek_ns() < window.measure_end_ns {
                rec.unsent(None, s.peek_ns());
                s.advance();
            }
        }
    }
}
