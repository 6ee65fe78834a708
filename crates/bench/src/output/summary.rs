//! The figures of one run as reports show them.

use crate::config::Load;
use crate::driver::{RunResult, ServerResult};
use crate::histogram::LatencyHistogram;
use serde::Serialize;
use std::net::SocketAddr;

/// The latency percentiles every report shows, in ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// 99.99th percentile.
    pub p9999_ns: u64,
    /// Largest value.
    pub max_ns: u64,
}

impl Percentiles {
    /// Reads them off a histogram.
    pub fn of(h: &LatencyHistogram) -> Self {
        Self {
            p50_ns: h.percentile_ns(50.0),
            p90_ns: h.percentile_ns(90.0),
            p99_ns: h.percentile_ns(99.0),
            p999_ns: h.percentile_ns(99.9),
            p9999_ns: h.percentile_ns(99.99),
            max_ns: h.max_ns(),
        }
    }

    /// (name, value) pairs in display order.
    pub fn named(&self) -> [(&'static str, u64); 6] {
        [
            ("p50", self.p50_ns),
            ("p90", self.p90_ns),
            ("p99", self.p99_ns),
            ("p99.9", self.p999_ns),
            ("p99.99", self.p9999_ns),
            ("max", self.max_ns),
        ]
    }
}

/// One run, summarised.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// Name of the target.
    pub label: String,
    /// "open" or "closed".
    pub mode: &'static str,
    /// Scheduled rate (open loop), or `None` (closed loop).
    pub requested_rate_per_s: Option<f64>,
    /// Closed-loop pipeline depth, or `None`.
    pub pipeline: Option<usize>,
    /// Replies per second in the measured window.
    pub achieved_rate_per_s: f64,
    /// Replies counted.
    pub completed: u64,
    /// Keys found.
    pub hits: u64,
    /// Keys not found.
    pub misses: u64,
    /// All error events.
    pub errors: u64,
    /// Latency from intended send time.
    pub latency: Percentiles,
}

impl RunSummary {
    /// Summarises a run.
    pub fn of(r: &RunResult) -> Self {
        let (mode, requested, pipeline) = match r.config.load {
            Load::Open { rate_per_s, .. } => ("open", Some(rate_per_s), None),
            Load::Closed { pipeline } => ("closed", None, Some(pipeline)),
        };
        Self {
            label: r.config.label.clone(),
            mode,
            requested_rate_per_s: requested,
            pipeline,
            achieved_rate_per_s: r.achieved_rate_per_s(),
            completed: r.counters.completed,
            hits: r.counters.hits,
            misses: r.counters.misses,
            errors: r.counters.errors(),
            latency: Percentiles::of(&r.histogram),
        }
    }
}

/// One server of a cluster run, summarised.
#[derive(Clone, Debug, Serialize)]
pub struct ServerSummary {
    /// HOST:PORT as given.
    pub label: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its ketama weight.
    pub weight: u32,
    /// Its fraction (0..=1) of the requests whose key was drawn.
    pub share: f64,
    /// Requests of the measured window whose keys map to it (answered, lost or never
    /// sent).
    pub requests: u64,
    /// Its replies per second in the measured window.
    pub achieved_rate_per_s: f64,
    /// Replies counted.
    pub completed: u64,
    /// Keys found.
    pub hits: u64,
    /// Keys not found.
    pub misses: u64,
    /// Error events on its connections and its requests never sent.
    pub errors: u64,
    /// Keys `--prefill` stored on it, if it ran.
    pub prefilled_keys: Option<u64>,
    /// Latency of the requests it answered.
    pub latency: Percentiles,
}

impl ServerSummary {
    /// Summarises `servers`, measured over `measured_s` seconds.
    pub fn all(servers: &[ServerResult], measured_s: f64) -> Vec<Self> {
        let total: u64 = servers.iter().map(ServerResult::requests).sum();
        servers
            .iter()
            .map(|s| Self {
                label: s.label.clone(),
                addr: s.addr,
                weight: s.weight,
                share: if total == 0 {
                    0.0
                } else {
                    s.requests() as f64 / total as f64
                },
                requests: s.requests(),
                achieved_rate_per_s: s.counters.completed as f64 / measured_s,
                completed: s.counters.completed,
                hits: s.counters.hits,
                misses: s.counters.misses,
                errors: s.counters.errors(),
                prefilled_keys: s.prefilled_keys,
                latency: Percentiles::of(&s.histogram),
            })
            .collect()
    }

    /// The servers of `r`.
    pub fn of(r: &RunResult) -> Vec<Self> {
        Self::all(&r.servers, r.config.duration.as_secs_f64())
    }
}
