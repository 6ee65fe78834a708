//! The full description of one run, independent of the command line.

use crate::cluster::Cluster;
use crate::protocol::Protocol;
use crate::schedule::Arrival;
use crate::tls::TlsClient;
use crate::workload::Workload;
use serde::Serialize;
use std::net::SocketAddr;
use std::time::Duration;

/// Most connections one run may open.
pub const MAX_CONNECTIONS: usize = 10_000;
/// Most generator threads.
pub const MAX_THREADS: usize = 256;
/// Deepest closed-loop pipeline per connection.
pub const MAX_PIPELINE: usize = 4_096;
/// Longest run (warm-up plus measurement), so every run stops by itself.
pub const MAX_RUN: Duration = Duration::from_secs(3_600);

/// Open or closed loop.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Load {
    /// Fixed schedule at this total rate; latency from the intended send time.
    Open {
        /// Requests per second over all connections.
        rate_per_s: f64,
        /// Spacing of arrivals.
        arrival: Arrival,
    },
    /// Each connection keeps `pipeline` requests outstanding; maximum throughput.
    Closed {
        /// Outstanding requests per connection.
        pipeline: usize,
    },
}

/// One run against one target.
#[derive(Clone, Debug, Serialize)]
pub struct RunConfig {
    /// Where to send (loopback only); in cluster mode, the cluster's first server.
    pub target: SocketAddr,
    /// Cluster mode: each request goes to the server its key maps to by ketama, and
    /// `target` is ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Cluster>,
    /// Name shown in reports.
    pub label: String,
    /// Wire protocol.
    pub protocol: Protocol,
    /// Open or closed loop.
    pub load: Load,
    /// Connections in total; in cluster mode, connections to each server.
    pub connections: usize,
    /// Generator threads; connections are spread over them.
    pub threads: usize,
    /// Time measured.
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// Time sent but not measured, before `duration`.
    #[serde(serialize_with = "secs")]
    pub warmup: Duration,
    /// What is sent.
    pub workload: Workload,
    /// Store every key once before the run.
    pub prefill: bool,
    /// A request outstanding this long (from its actual send) breaks its connection.
    #[serde(serialize_with = "secs")]
    pub timeout: Duration,
    /// Most requests outstanding per connection in open loop (bounds memory; a full
    /// window delays sends, and the delay is measured).
    pub max_inflight_per_connection: usize,
    /// Seed of every random choice; the same seed gives the same schedule and keys.
    pub seed: u64,
    /// TLS to the target (every connection handshakes before it is used); plain if none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsClient>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl RunConfig {
    /// The servers requests go to: the cluster's, in order, or the one target.
    pub fn servers(&self) -> Vec<SocketAddr> {
        match &self.cluster {
            Some(c) => c.addrs(),
            None => vec![self.target],
        }
    }

    /// Checks every limit; returns what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let servers = self.servers();
        if let Some(addr) = servers.iter().find(|a| !crate::target::is_loopback(a)) {
            return Err(format!("target {addr} is not loopback"));
        }
        if self.connections == 0 || self.connections * servers.len() > MAX_CONNECTIONS {
            return Err(format!(
                "--connections must be in 1..={MAX_CONNECTIONS} (in cluster mode, times the servers)"
            ));
        }
        if self.cluster.is_some()
            && self
                .workload
                .mix
                .weights
                .iter()
                .any(|w| w.0 == crate::workload::OpKind::MultiGet)
        {
            return Err(
                "--mix multiget cannot run with --cluster: a multiget's keys live on different servers, \
                 and splitting it per server is not implemented"
                    .into(),
            );
        }
        if self.threads == 0 || self.threads > MAX_THREADS || self.threads > self.connections {
            return Err(format!(
                "--threads must be in 1..={MAX_THREADS} and at most --connections"
            ));
        }
        if self.duration.is_zero() || self.duration + self.warmup > MAX_RUN {
            return Err(format!(
                "--duration must be positive and warm-up plus duration at most {MAX_RUN:?}"
            ));
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(60) {
            return Err("--timeout must be in (0, 60s]".into());
        }
        if self.max_inflight_per_connection == 0 || self.max_inflight_per_connection > 1 << 20 {
            return Err("--max-inflight must be in 1..=1048576".into());
        }
        match self.load {
            Load::Open { rate_per_s, .. } if !(rate_per_s > 0.0 && rate_per_s <= 1e9) => {
                return Err("--rate must be in (0, 1e9] (0 selects closed loop)".into())
            }
            Load::Closed { pipeline } if pipeline == 0 || pipeline > MAX_PIPELINE => {
                return Err(format!("--pipeline must be in 1..={MAX_PIPELINE}"))
            }
            _ => {}
        }
        self.workload.validate()?;
        for &(kind, _) in &self.workload.mix.weights {
            if !self.protocol.supports(kind) {
                return Err(format!("protocol {:?} cannot send {kind:?}", self.protocol));
            }
        }
        Ok(())
    }
}

impl RunConfig {
    /// A small default run against `target`: memcache text gets of 100-byte values over
    /// 10 000 uniform keys, open loop at 1000/s on 4 connections, 5 s after 1 s warm-up.
    pub fn defaults(target: SocketAddr) -> Self {
        use crate::workload::{Mix, Popularity, ValueSizes};
        Self {
            target,
            cluster: None,
            label: target.to_string(),
            protocol: Protocol::MemcacheText,
            load: Load::Open {
                rate_per_s: 1000.0,
                arrival: Arrival::Uniform,
            },
            connections: 4,
            threads: 1,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            workload: Workload {
                keys: 10_000,
                key_prefix: "key:".into(),
                popularity: Popularity::Uniform,
                value_sizes: ValueSizes::Fixed(100),
                mix: Mix::parse("get=1").expect("constant mix parses"),
                multiget_keys: 10,
                ttl_s: 0,
            },
            prefill: false,
            timeout: Duration::from_secs(2),
            max_inflight_per_connection: 4096,
            seed: 1,
            tls: None,
        }
    }
}
