//! The figures of one run as reports show them.

use crate::config::Load;
use crate::driver::RunResult;
use crate::histogram::LatencyHistogram;
use serde::Serialize;

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
