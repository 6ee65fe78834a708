//! Counters and per-second reports of a run.

use crate::histogram::LatencyHistogram;
use serde::Serialize;

/// Everything counted during a run. Request counts cover requests whose *intended*
/// send time lies in the measured window; connection events cover the measured window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Replies received and framed (including error replies).
    pub completed: u64,
    /// Keys found.
    pub hits: u64,
    /// Keys not found.
    pub misses: u64,
    /// Error replies from the server (ERROR, SERVER_ERROR, -ERR, HTTP 4xx/5xx).
    pub server_errors: u64,
    /// Reply streams that could not be framed (connection dropped after each).
    pub protocol_errors: u64,
    /// Connections dropped because a request waited longer than the timeout.
    pub timeouts: u64,
    /// Connections closed by the server or reset.
    pub disconnects: u64,
    /// Connection attempts refused.
    pub connect_refused: u64,
    /// Connection attempts that failed otherwise.
    pub connect_errors: u64,
    /// Requests lost with a dropped connection: sent, never answered.
    pub lost: u64,
    /// Scheduled requests never sent before the run ended (the generator or the
    /// connection could not keep up).
    pub unsent: u64,
}

impl Counters {
    /// Adds `other` field by field.
    pub fn add(&mut self, other: &Counters) {
        self.completed += other.completed;
        self.hits += other.hits;
        self.misses += other.misses;
        self.server_errors += other.server_errors;
        self.protocol_errors += other.protocol_errors;
        self.timeouts += other.timeouts;
        self.disconnects += other.disconnects;
        self.connect_refused += other.connect_refused;
        self.connect_errors += other.connect_errors;
        self.lost += other.lost;
        self.unsent += other.unsent;
    }

    /// All error events together.
    pub fn errors(&self) -> u64 {
        self.server_errors
            + self.protocol_errors
            + self.timeouts
            + self.disconnects
            + self.connect_refused
            + self.connect_errors
            + self.lost
            + self.unsent
    }

    /// hits / (hits + misses), or `None` when nothing was looked up.
    pub fn hit_ratio(&self) -> Option<f64> {
        let lookups = self.hits + self.misses;
        (lookups > 0).then(|| self.hits as f64 / lookups as f64)
    }
}

/// Which part of the run a second belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Sent, not measured.
    Warmup,
    /// Measured.
    Measure,
    /// After the schedule ended, waiting for the last replies.
    Drain,
}

/// One second of one worker, sent to the coordinating thread.
#[derive(Clone, Debug)]
pub struct IntervalSample {
    /// Seconds since the run started (0-based).
    pub second: u32,
    /// Latencies of replies received in that second.
    pub histogram: LatencyHistogram,
    /// Counts of that second (by receive time).
    pub counters: Counters,
}

/// One second of the whole run, for live progress and the JSON report.
#[derive(Clone, Debug, Serialize)]
pub struct IntervalReport {
    /// Seconds since the run started (0-based).
    pub second: u32,
    /// Warm-up, measure or drain.
    pub phase: Phase,
    /// Replies per second.
    pub rate_per_s: f64,
    /// Error events in that second.
    pub errors: u64,
    /// Hit ratio in that second, if anything was looked up.
    pub hit_ratio: Option<f64>,
    /// P50 latency, ns.
    pub p50_ns: u64,
    /// P99 latency, ns.
    pub p99_ns: u64,
    /// P99.9 latency, ns.
    pub p999_ns: u64,
}

impl IntervalReport {
    /// Summarises one second.
    pub fn from_parts(
        second: u32,
        phase: Phase,
        histogram: &LatencyHistogram,
        counters: &Counters,
    ) -> Self {
        Self {
            second,
            phase,
            rate_per_s: counters.completed as f64,
            errors: counters.errors(),
            hit_ratio: counters.hit_ratio(),
            p50_ns: histogram.percentile_ns(50.0),
            p99_ns: histogram.percentile_ns(99.0),
            p999_ns: histogram.percentile_ns(99.9),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_and_sum_errors() {
        let mut a = Counters {
            hits: 3,
            misses: 1,
            timeouts: 1,
            ..Default::default()
        };
        let b = Counters {
            hits: 1,
            lost: 2,
            unsent: 4,
            ..Default::default()
        };
        a.add(&b);
        assert_eq!(a.hits, 4);
        assert_eq!(a.errors(), 7);
        assert_eq!(a.hit_ratio(), Some(0.8));
        assert_eq!(Counters::default().hit_ratio(), None);
    }
}
