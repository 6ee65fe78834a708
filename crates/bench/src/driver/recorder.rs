//! Where one worker records what happened: the measured histogram and counters, and
//! the current second's, which are handed to the coordinator once a second.

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

/// One worker's results.
#[derive(Debug)]
pub struct Recorder {
    /// Phase boundaries.
    pub window: Window,
    /// Latencies of measured requests.
    pub measured: LatencyHistogram,
    /// Counters of measured requests and events.
    pub counters: Counters,
    /// How late measured requests left the generator (actual minus intended send time):
    /// the generator's own lag, which a sound run keeps far below the latencies it reports.
    pub send_lag: LatencyHistogram,
    interval: LatencyHistogram,
    interval_counters: Counters,
    interval_second: u32,
    reports: Sender<IntervalSample>,
}

impl Recorder {
    /// A recorder that sends one [`IntervalSample`] per second to `reports`.
    pub fn new(window: Window, reports: Sender<IntervalSample>) -> Self {
        Self {
            window,
            measured: LatencyHistogram::new(),
            counters: Counters::default(),
            send_lag: LatencyHistogram::new(),
            interval: LatencyHistogram::new(),
            interval_counters: Counters::default(),
            interval_second: 0,
            reports,
        }
    }

    /// A reply to a request intended at `intended_ns` arrived at `now_ns`.
    pub fn complete(&mut self, intended_ns: u64, now_ns: u64, outcome: Outcome) {
        let latency_ns = now_ns.saturating_sub(intended_ns);
        self.interval.record_ns(latency_ns);
        count_outcome(&mut self.interval_counters, outcome);
        if self.window.measures(intended_ns) {
            self.measured.record_ns(latency_ns);
            count_outcome(&mut self.counters, outcome);
        }
    }

    /// A request intended at `intended_ns` was written into the send buffer at `now_ns`.
    pub fn sent(&mut self, intended_ns: u64, now_ns: u64) {
        if self.window.measures(intended_ns) {
            self.send_lag.record_ns(now_ns.saturating_sub(intended_ns));
        }
    }

    /// Counts a connection-level event (`field` picks the counter).
    pub fn event(&mut self, now_ns: u64, field: fn(&mut Counters) -> &mut u64, n: u64) {
        *field(&mut self.interval_counters) += n;
        if now_ns >= self.window.measure_start_ns {
            *field(&mut self.counters) += n;
        }
    }

    /// Counts requests that will never be answered.
    pub fn lost(&mut self, intended_ns: impl Iterator<Item = u64>) {
        for t in intended_ns {
            self.interval_counters.lost += 1;
            if self.window.measures(t) {
                self.counters.lost += 1;
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
        let mut r = Recorder::new(window, tx);
        r.complete(50, 150, Outcome::OK); // warm-up
        r.complete(
            150,
            1_150,
            Outcome {
                hits: 1,
                ..Outcome::OK
            },
        ); // measured, from intended time
        r.complete(200, 250, Outcome::OK); // after the schedule
        assert_eq!(r.measured.count(), 1);
        assert_eq!(r.measured.percentile_ns(100.0), 1_000);
        assert_eq!((r.counters.completed, r.counters.hits), (1, 1));
        r.lost([99, 100, 199, 200].into_iter());
        assert_eq!(r.counters.lost, 2);
        r.maybe_report(2_500_000_000);
        let seconds: Vec<u32> = rx.try_iter().map(|s| s.second).collect();
        assert_eq!(seconds, vec![0, 1]);
    }
}
