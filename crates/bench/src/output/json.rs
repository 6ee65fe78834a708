//! The machine-readable report.

use super::summary::{Percentiles, RunSummary, ServerSummary};
use crate::driver::stats::{Counters, IntervalReport};
use crate::driver::RunResult;
use serde::Serialize;

/// One run in the JSON report: its config, counters, percentiles and every second.
#[derive(Debug, Serialize)]
pub struct RunJson<'a> {
    /// The figures shown in tables.
    pub summary: RunSummary,
    /// Everything counted.
    pub counters: &'a Counters,
    /// The run's configuration.
    pub config: &'a crate::config::RunConfig,
    /// Mean latency, ns.
    pub mean_ns: f64,
    /// The generator's own send lag (actual minus intended send time).
    pub send_lag: Percentiles,
    /// Per-second figures.
    pub seconds: &'a [IntervalReport],
    /// Cluster mode: each server's figures; `summary` holds the whole cluster's (its
    /// latencies from the merge of the servers' histograms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<ServerSummary>>,
}

impl<'a> RunJson<'a> {
    /// Builds the JSON view of a run.
    pub fn of(r: &'a RunResult) -> Self {
        Self {
            summary: RunSummary::of(r),
            counters: &r.counters,
            config: &r.config,
            mean_ns: r.histogram.mean_ns(),
            send_lag: Percentiles::of(&r.send_lag),
            seconds: &r.seconds,
            servers: r.config.cluster.as_ref().map(|_| ServerSummary::of(r)),
        }
    }
}

/// Pretty JSON of any serialisable report.
pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
