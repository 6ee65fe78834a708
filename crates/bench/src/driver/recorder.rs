//! Where one worker records what happened: each server's measured histogram and
//! counters, and the current second's, handed to the coordinator once a second.

use super::stats::{Counters, IntervalSample};
use crate::histogram::LatencyHistogram;
use crate::protocol::Outcome;
use std::sync::mpsc::Sender;

/// Phase boundaries of a run, in ns from its start.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// End of warm-up: requests intended from here on are measured.
    pub measure_start_ns: u64,
    /// End of the schedule: no request is intended at or after this.
    pub measure_end_ns: u64,
    /// Last moment to wait for outstanding replies.
    pub drain_deadline_ns: u64,
}

impl Window {
    /// True when a request intended at `intended_ns` counts in the results.
    pub fn measures(&self, intended_ns: u64) -> bool {
        intended_ns >= self.measure_start_ns && intended_ns < self.measure_end_ns
    }
}

/// What one server got, as far as one worker (or, merged, the run) saw.
#[derive(Clone, Debug, Default)]
pub struct ServerRecord {
    /// Latencies of measured requests it answered.
    pub histogram: LatencyHistogram,
    /// Counts of its measured requests and of events on its connections.
    pub counters: Counters,
}

impl ServerRecord {
    /// Adds `other`'s values and counts.
    pub fn merge(&mut self, other: &ServerRecord) {
        self.histogram.merge(&other.histogram);
        self.counters.add(&other.counters);
    }
}

/// One worker's results.
#[derive(Debug)]
pub struct Recorder {
    /// Phase boundaries.
    pub window: Window,
    /// Per server of the run (one for a single target), in the cluster's order.
    pub servers: Vec<ServerRecord>,
    /// Scheduled requests never sent whose key, and with it its server, was never drawn
    /// (a lane draws a request's key only once it can go out).
    pub unsent: u64,
    /// How late measured requests left the generator (actual minus intended send time):
    /// the generator's own lag, which a sound run keeps far below the latencies it reports.
    pub send_lag: LatencyHistogram,
    interval: LatencyHistogram,
    interval_counters: Counters,
    interval_second: u32,
    reports: Sender<IntervalSample>,
}

impl Recorder {
    /// A recorder for `servers` servers that sends one [`IntervalSample`] per second
    /// to `reports`.
    pub fn new(window: Window, servers: usize, reports: Sender<IntervalSample>) -> Self {
        Self {
            window,
            servers: vec![ServerRecord::default(); servers],
            unsent: 0,
            send_lag: LatencyHistogram::new(),
            interval: LatencyHistogram::new(),
            interval_counters: Counters::default(),
            interval_second: 0,
            reports,
        }
    }

    /// A reply from `server` to a request intended at `intended_ns` arrived at `now_ns`.
    pub fn complete(&mut self, server: usize, intended_ns: u64, now_ns: u64, outcome: Outcome) {
        let latency_ns = now_ns.saturating_sub(intended_ns);
        self.interval.record_ns(latency_ns);
        count_outcome(&mut self.interval_counters, outcome);
        if self.window.measures(intended_ns) {
            let s = &mut self.servers[server];
            s.histogram.record_ns(latency_ns);
            count_outcome(&mut s.counters, outcome);
        }
    }

    /// A request intended at `intended_ns` was written into the send buffer at `now_ns`.
    pub fn sent(&mut self, intended_ns: u64, now_ns: u64) {
        if self.window.measures(intended_ns) {
            self.send_lag.record_ns(now_ns.saturating_sub(intended_ns));
        }
    }

    /// Counts an event on a connection to `server` (`field` picks the counter).
    pub fn event(
        &mut self,
        server: usize,
        now_ns: u64,
        field: fn(&mut Counters) -> &mut u64,
        n: u64,
    ) {
        *field(&mut self.interval_counters) += n;
        if now_ns >= self.window.measure_start_ns {
            *field(&mut self.servers[server].counters) += n;
        }
    }

    /// Counts requests to `server` that will never be answered.
    pub fn lost(&mut self, server: usize, intended_ns: impl Iterator<Item = u64>) {
        for t in intended_ns {
            self.interval_counters.lost += 1;
            if self.window.measures(t) {
                self.servers[server].counters.lost += 1;
            }
        }
    }

    /// Counts a scheduled request, intended at `intended_ns`, that was never sent;
    /// `server` when its key was drawn.
    pub fn unsent(&mut self, server: Option<usize>, intended_ns: u64) {
        if self.window.measures(intended_ns) {
            match server {
                Some(s) => self.servers[s].counters.unsent += 1,
                None => self.unsent += 1,
            }
        }
    }

    /// When the current second ends, in ns from the start.
    pub fn next_report_ns(&self) -> u64 {
        (u64::from(self.interval_second) + 1) * 1_000_000_000
    }

    /// Sends the finished second(s) to the coordinator.
    pub fn maybe_report(&mut self, now_ns: u64) {
        while now_ns >= self.next_report_ns() {
            self.flush_interval();
        }
    }

    /// Sends whatever the current second holds (also at the end of the run).
    pub fn flush_interval(&mut self) {
        let sample = IntervalSample {
            second: self.interval_second,
            histogram: self.interval.clone(),
            counters: self.interval_counters,
        };
        // The coordinator outlives the workers; a closed channel only loses live progress.
        let _ = self.reports.send(sample);
        self.interval.reset();
        self.interval_counters = Counters::default();
        self.interval_second += 1;
    }
}

fn count_outcome(c: &mut Counters, outcome: Outcome) {
    c.completed += 1;
    c.hits += u64::from(outcome.hits);
    c.misses += u64::from(outcome.misses);
    c.server_errors += u64::from(outcome.server_error);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_intended_in_the_window_are_measured() {
        let (tx, rx) = std::sync::mpsc::channel();
        let window = Window {
            measure_start_ns: 100,
            measure_end_ns: 200,
            drain_deadline_ns: 300,
        };
        let mut r = Recorder::new(window, 2, tx);
        r.complete(1, 50, 150, Outcome::OK); // warm-up
        r.complete(
            1,
            150,
            1_150,
            Outcome {
                hits: 1,
                ..Outcome::OK
            },
        ); // measured, from intended time
        r.complete(1, 200, 250, Outcome::OK); // after the schedule
        let s = &r.servers[1];
        assert_eq!(s.histogram.count(), 1);
        assert_eq!(s.histogram.percentile_ns(100.0), 1_000);
        assert_eq!((s.counters.completed, s.counters.hits), (1, 1));
        assert_eq!(r.servers[0].histogram.count(), 0);
        r.lost(0, [99, 100, 199, 200].into_iter());
        assert_eq!(r.servers[0].counters.lost, 2);
        r.maybe_report(2_500_000_000);
        let seconds: Vec<u32> = rx.try_iter().map(|s| s.second).collect();
        assert_eq!(seconds, vec![0, 1]);
    }
}
