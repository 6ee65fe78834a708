//! Running one benchmark: prefill, start the workers in step, collect their
//! per-second samples for live progress, and merge their results.

pub mod connection;
pub mod lane;
pub mod prefill;
pub mod read_buffer;
pub mod recorder;
pub mod stats;
pub mod stream;
// timerfd through libc: the open-loop schedule's clock.
#[allow(unsafe_code)]
pub mod timer;
pub mod worker;

use crate::config::RunConfig;
use crate::error::BenchError;
use crate::histogram::LatencyHistogram;
use recorder::{ServerRecord, Window};
use serde::Serialize;
use stats::{Counters, IntervalReport, IntervalSample, Phase};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Barrier, OnceLock};
use std::time::Duration;
use worker::{run_worker, StartLine, WorkerResult};

/// The result of one run.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    /// What was run.
    pub config: RunConfig,
    /// Latencies of measured requests, from their intended send times: the merge of
    /// the servers' histograms.
    #[serde(skip)]
    pub histogram: LatencyHistogram,
    /// Counts of the measured window: the servers' counts plus the never-sent requests.
    pub counters: Counters,
    /// Each server's part: one per server of a cluster, else the one target.
    pub servers: Vec<ServerResult>,
    /// How late the generator sent measured requests (actual minus intended send
    /// time); zero-ish in closed loop by construction.
    #[serde(skip)]
    pub send_lag: LatencyHistogram,
    /// One entry per second of the run (warm-up and drain included).
    pub seconds: Vec<IntervalReport>,
}

impl RunResult {
    /// Replies per second over the measured window.
    pub fn achieved_rate_per_s(&self) -> f64 {
        self.counters.completed as f64 / self.config.duration.as_secs_f64()
    }
}

/// One server's part of a run.
#[derive(Clone, Debug, Serialize)]
pub struct ServerResult {
    /// Its name in reports: HOST:PORT as given in a cluster, else the target's label.
    pub label: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its ketama weight (1 outside weighted clusters).
    pub weight: u32,
    /// Latencies of the measured requests it answered.
    #[serde(skip)]
    pub histogram: LatencyHistogram,
    /// Its counts of the measured window.
    pub counters: Counters,
    /// Keys `--prefill` stored on it, if it ran.
    pub prefilled_keys: Option<u64>,
}

impl ServerResult {
    /// Requests of the measured window whose keys map to it: answered, lost with a
    /// connection, or never sent (it was down or too slow).
    pub fn requests(&self) -> u64 {
        self.counters.completed + self.counters.lost + self.counters.unsent
    }
}

/// Runs `config`, calling `on_second` once per finished second of the run.
pub fn run(
    config: &RunConfig,
    on_second: &mut dyn FnMut(&IntervalReport),
) -> Result<RunResult, BenchError> {
    config.validate().map_err(BenchError::BadArgument)?;
    probe(config)?;
    let prefilled = if config.prefill {
        Some(prefill::prefill(config)?)
    } else {
        None
    };
    let window = window(config);
    // Lanes, not sockets, are dealt: a lane's connections (one per server) share its thread.
    let slices = split_connections(config.connections, config.threads);
    let barrier = Barrier::new(config.threads + 1);
    let start = OnceLock::new();
    let (tx, rx) = mpsc::channel::<IntervalSample>();
    let (results, seconds) = std::thread::scope(|scope| {
        let handles: Vec<_> = slices
            .iter()
            .map(|indices| {
                let tx = tx.clone();
                let start_line = StartLine {
                    barrier: &barrier,
                    start: &start,
                };
                scope.spawn(move || run_worker(config, indices, window, start_line, tx))
            })
            .collect();
        drop(tx);
        barrier.wait();
        let seconds = collect_seconds(&rx, config.threads, window, on_second);
        let results: Vec<std::io::Result<WorkerResult>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("generator thread panicked")))
            })
            .collect();
        (results, seconds)
    });
    let addrs = config.servers();
    let mut records = vec![ServerRecord::default(); addrs.len()];
    let mut counters = Counters::default();
    let mut send_lag = LatencyHistogram::new();
    for r in results {
        let r = r?;
        for (total, part) in records.iter_mut().zip(&r.servers) {
            total.merge(part);
        }
        counters.unsent += r.unsent;
        send_lag.merge(&r.send_lag);
    }
    let mut histogram = LatencyHistogram::new();
    for r in &records {
        histogram.merge(&r.histogram);
        counters.add(&r.counters);
    }
    let servers = records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let (label, weight) = match &config.cluster {
                Some(c) => (c.servers[i].label.clone(), c.servers[i].weight),
                None => (config.label.clone(), 1),
            };
            ServerResult {
                label,
                addr: addrs[i],
                weight,
                histogram: r.histogram,
                counters: r.counters,
                prefilled_keys: prefilled.as_ref().map(|p: &Vec<u64>| p[i]),
            }
        })
        .collect();
    Ok(RunResult {
        config: config.clone(),
        histogram,
        counters,
        servers,
        send_lag,
        seconds,
    })
}

/// Fails fast, with a clear error, when nothing listens at a server or (with TLS) the
/// handshake fails.
pub fn probe(config: &RunConfig) -> Result<(), BenchError> {
    config
        .servers()
        .into_iter()
        .try_for_each(|addr| probe_one(config, addr))
}

fn probe_one(config: &RunConfig, target: SocketAddr) -> Result<(), BenchError> {
    match std::net::TcpStream::connect_timeout(&target, connection::CONNECT_TIMEOUT) {
        Ok(mut socket) => match &config.tls {
            Some(tls) => tls
                .handshake(&mut socket)
                .map(drop)
                .map_err(|e| BenchError::Tls(target, e.to_string())),
            None => Ok(()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(BenchError::ConnectionRefused(target))
        }
        Err(e) => Err(BenchError::Connect(target, e)),
    }
}

fn window(config: &RunConfig) -> Window {
    let measure_start_ns = config.warmup.as_nanos() as u64;
    let measure_end_ns = measure_start_ns + config.duration.as_nanos() as u64;
    let drain_deadline_ns = measure_end_ns + config.timeout.as_nanos() as u64;
    Window {
        measure_start_ns,
        measure_end_ns,
        drain_deadline_ns,
    }
}

/// Connection indexes per thread, dealt round-robin.
pub fn split_connections(connections: usize, threads: usize) -> Vec<Vec<usize>> {
    let mut slices = vec![Vec::new(); threads];
    for c in 0..connections {
        slices[c % threads].push(c);
    }
    slices
}

/// Merges the workers' samples second by second, reporting each second once every
/// worker has sent it; ends when all workers have hung up.
fn collect_seconds(
    rx: &mpsc::Receiver<IntervalSample>,
    workers: usize,
    window: Window,
    on_second: &mut dyn FnMut(&IntervalReport),
) -> Vec<IntervalReport> {
    let mut pending: BTreeMap<u32, (usize, LatencyHistogram, Counters)> = BTreeMap::new();
    let mut reports = Vec::new();
    let mut emit = |second: u32,
                    hist: &LatencyHistogram,
                    counters: &Counters,
                    reports: &mut Vec<IntervalReport>| {
        let report = IntervalReport::from_parts(second, phase_of(second, window), hist, counters);
        on_second(&report);
        reports.push(report);
    };
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(sample) => {
                let entry = pending
                    .entry(sample.second)
                    .or_insert_with(|| (0, LatencyHistogram::new(), Counters::default()));
                entry.0 += 1;
                entry.1.merge(&sample.histogram);
                entry.2.add(&sample.counters);
                if entry.0 == workers {
                    let (_, hist, counters) =
                        pending.remove(&sample.second).expect("entry just seen");
                    emit(sample.second, &hist, &counters, &mut reports);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // Workers end at slightly different seconds; report what is left in order.
    for (second, (_, hist, counters)) in pending {
        emit(second, &hist, &counters, &mut reports);
    }
    reports.sort_by_key(|r| r.second);
    reports
}

fn phase_of(second: u32, window: Window) -> Phase {
    let start_ns = u64::from(second) * 1_000_000_000;
    if start_ns < window.measure_start_ns {
        Phase::Warmup
    } else if start_ns < window.measure_end_ns {
        Phase::Measure
    } else {
        Phase::Drain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_dealt_round_robin() {
        assert_eq!(split_connections(5, 2), vec![vec![0, 2, 4], vec![1, 3]]);
        assert_eq!(split_connections(1, 1), vec![vec![0]]);
    }
}
