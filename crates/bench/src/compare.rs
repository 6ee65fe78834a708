//! Compare mode: the identical schedule against each target in turn (A B A B ...)
//! over several rounds; every figure is the median over rounds, with the ratio to the
//! first target. On a shared, noisy machine this is the comparison that holds.

use crate::cluster::Cluster;
use crate::config::RunConfig;
use crate::driver::stats::IntervalReport;
use crate::driver::{run, RunResult};
use crate::error::BenchError;
use crate::histogram::LatencyHistogram;
use crate::output::summary::RunSummary;
use crate::output::table::Table;
use crate::units::format_latency_ns;
use serde::Serialize;
use std::net::SocketAddr;

/// Most rounds one comparison may run.
pub const MAX_ROUNDS: usize = 100;

/// A named target: one server, or a cluster.
#[derive(Clone, Debug, Serialize)]
pub struct Target {
    /// Name in reports.
    pub label: String,
    /// Loopback address; a cluster's first server.
    pub addr: SocketAddr,
    /// The servers keys are spread over, in cluster mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Cluster>,
}

/// Every run of a comparison: `runs[target][round]`.
#[derive(Debug)]
pub struct Comparison {
    /// The targets, in order; ratios are relative to the first.
    pub targets: Vec<Target>,
    /// Results per target, per round.
    pub runs: Vec<Vec<RunResult>>,
}

/// Median figures of one target.
#[derive(Clone, Debug, Serialize)]
pub struct Medians {
    /// Target name.
    pub label: String,
    /// Median achieved rate.
    pub achieved_rate_per_s: f64,
    /// Median of each percentile over rounds, ns: p50, p90, p99, p99.9, p99.99, max.
    pub latency_ns: Vec<(String, f64)>,
    /// Error events over all rounds.
    pub errors: u64,
    /// Median over rounds of the generator's P99 send lag, ns.
    pub send_lag_p99_ns: f64,
}

/// Runs `base` against each target, round after round.
pub fn run_comparison(
    base: &RunConfig,
    targets: &[Target],
    rounds: usize,
    on_start: &mut dyn FnMut(usize, &Target),
    on_second: &mut dyn FnMut(&IntervalReport),
) -> Result<Comparison, BenchError> {
    if rounds == 0 || rounds > MAX_ROUNDS || targets.is_empty() {
        return Err(BenchError::BadArgument(format!(
            "--rounds must be in 1..={MAX_ROUNDS} with at least one target"
        )));
    }
    let mut runs: Vec<Vec<RunResult>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (i, t) in targets.iter().enumerate() {
            let mut cfg = base.clone();
            cfg.target = t.addr;
            cfg.cluster = t.cluster.clone();
            cfg.label = t.label.clone();
            // Keys are stored once per target; later rounds find them there.
            cfg.prefill = base.prefill && round == 0;
            on_start(round, t);
            runs[i].push(run(&cfg, on_second)?);
        }
    }
    Ok(Comparison {
        targets: targets.to_vec(),
        runs,
    })
}

/// `a / b` as "1.23x", with a third decimal below 0.1 so small ratios do not read as 0;
/// "-" when `b` is 0.
pub fn format_ratio(a: f64, b: f64) -> String {
    if b <= 0.0 {
        return "-".into();
    }
    let r = a / b;
    if r < 0.1 {
        format!("{r:.3}x")
    } else {
        format!("{r:.2}x")
    }
}

/// The median of `values` (mean of the middle two for an even count); 0 when empty.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

impl Comparison {
    /// Median figures per target.
    pub fn medians(&self) -> Vec<Medians> {
        self.targets
            .iter()
            .zip(&self.runs)
            .map(|(t, runs)| {
                let summaries: Vec<RunSummary> = runs.iter().map(RunSummary::of).collect();
                let mut rates: Vec<f64> = summaries.iter().map(|s| s.achieved_rate_per_s).collect();
                let latency_ns = (0..6)
                    .map(|i| {
                        let name = summaries.first().map_or("", |s| s.latency.named()[i].0);
                        let mut v: Vec<f64> = summaries
                            .iter()
                            .map(|s| s.latency.named()[i].1 as f64)
                            .collect();
                        (name.to_string(), median(&mut v))
                    })
                    .collect();
                Medians {
                    label: t.label.clone(),
                    achieved_rate_per_s: median(&mut rates),
                    latency_ns,
                    errors: summaries.iter().map(|s| s.errors).sum(),
                    send_lag_p99_ns: median(
                        &mut runs
                            .iter()
                            .map(|r| r.send_lag.percentile_ns(99.0) as f64)
                            .collect::<Vec<_>>(),
                    ),
                }
            })
            .collect()
    }

    /// All rounds of one target merged into one histogram (for charts).
    pub fn merged(&self, target: usize) -> LatencyHistogram {
        let mut h = LatencyHistogram::new();
        for r in &self.runs[target] {
            h.merge(&r.histogram);
        }
        h
    }

    /// Figures as rows, targets as columns, then each target's ratio to the first.
    pub fn median_table(&self) -> Table {
        let medians = self.medians();
        let mut header = vec!["median of rounds".to_string()];
        header.extend(medians.iter().map(|m| m.label.clone()));
        let base = &medians[0];
        header.extend(
            medians[1..]
                .iter()
                .map(|m| format!("{} / {}", m.label, base.label)),
        );
        let mut rows = Vec::new();
        let ratio = format_ratio;
        let mut rate_row = vec!["achieved rate/s".to_string()];
        rate_row.extend(
            medians
                .iter()
                .map(|m| format!("{:.0}", m.achieved_rate_per_s)),
        );
        rate_row.extend(
            medians[1..]
                .iter()
                .map(|m| ratio(m.achieved_rate_per_s, base.achieved_rate_per_s)),
        );
        rows.push(rate_row);
        for i in 0..base.latency_ns.len() {
            let mut row = vec![base.latency_ns[i].0.clone()];
            row.extend(
                medians
                    .iter()
                    .map(|m| format_latency_ns(m.latency_ns[i].1 as u64)),
            );
            row.extend(
                medians[1..]
                    .iter()
                    .map(|m| ratio(m.latency_ns[i].1, base.latency_ns[i].1)),
            );
            rows.push(row);
        }
        let mut err_row = vec!["errors (all rounds)".to_string()];
        err_row.extend(medians.iter().map(|m| m.errors.to_string()));
        err_row.extend(medians[1..].iter().map(|_| "-".to_string()));
        rows.push(err_row);
        // Send lag only exists against a schedule; closed loop sends when it is ready.
        let open_loop = self.runs[0]
            .first()
            .is_some_and(|r| matches!(r.config.load, crate::config::Load::Open { .. }));
        if open_loop {
            let mut lag_row = vec!["generator send lag p99".to_string()];
            lag_row.extend(
                medians
                    .iter()
                    .map(|m| format_latency_ns(m.send_lag_p99_ns as u64)),
            );
            lag_row.extend(medians[1..].iter().map(|_| "-".to_string()));
            rows.push(lag_row);
        }
        Table { header, rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
        assert_eq!(format_ratio(3.0, 2.0), "1.50x");
        assert_eq!(format_ratio(32.0, 6420.0), "0.005x");
        assert_eq!(format_ratio(1.0, 0.0), "-");
    }
}
