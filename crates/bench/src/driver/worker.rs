//! One generator thread: a mio loop over its share of the connections, woken by
//! socket readiness or by a timerfd at the next scheduled send.

use super::connection::{Connection, Env};
use super::recorder::{Recorder, Window};
use super::stats::{Counters, IntervalSample};
use super::timer::WakeTimer;
use crate::config::RunConfig;
use crate::histogram::LatencyHistogram;
use mio::{Events, Poll, Token};
use std::io;
use std::sync::mpsc::Sender;
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

const TIMER_TOKEN: Token = Token(usize::MAX);

/// What one worker measured.
#[derive(Debug)]
pub struct WorkerResult {
    /// Latencies of measured requests.
    pub histogram: LatencyHistogram,
    /// Counts of measured requests and events.
    pub counters: Counters,
    /// The generator's send lag for measured requests.
    pub send_lag: LatencyHistogram,
}

/// How a worker starts in step with the others.
#[derive(Debug)]
pub struct StartLine<'a> {
    /// Everyone (workers and coordinator) waits here once connected.
    pub barrier: &'a Barrier,
    /// The run's time zero, fixed by whoever passes the barrier first.
    pub start: &'a OnceLock<Instant>,
}

/// Runs connections `indices` of the run until the window closes.
pub fn run_worker(
    config: &RunConfig,
    indices: &[usize],
    window: Window,
    start_line: StartLine<'_>,
    reports: Sender<IntervalSample>,
) -> io::Result<WorkerResult> {
    let (mut poll, timer, registry) = match setup() {
        Ok(s) => s,
        Err(e) => {
            // The others must not wait forever for a worker that cannot start.
            start_line.barrier.wait();
            return Err(e);
        }
    };
    let value_bytes = vec![b'v'; config.workload.value_sizes.max()];
    let env = Env {
        config,
        value_bytes: &value_bytes,
        registry: &registry,
    };
    let mut rec = Recorder::new(window, reports);
    let mut conns: Vec<Connection> = indices
        .iter()
        .enumerate()
        .map(|(local, &i)| Connection::new(config, i, Token(local)))
        .collect();
    for c in &mut conns {
        c.connect(0, &env, &mut rec);
    }
    start_line.barrier.wait();
    let start = *start_line.start.get_or_init(Instant::now);
    let clock = move || start.elapsed().as_nanos() as u64;
    event_loop(&mut poll, &timer, &mut conns, &env, &mut rec, &clock)?;
    for c in &mut conns {
        c.finish(&mut rec);
    }
    rec.flush_interval();
    Ok(WorkerResult {
        histogram: rec.measured,
        counters: rec.counters,
        send_lag: rec.send_lag,
    })
}

/// The poll, its wake timer, and a registry handle the connections can hold while polling.
fn setup() -> io::Result<(Poll, WakeTimer, mio::Registry)> {
    let poll = Poll::new()?;
    let timer = WakeTimer::new()?;
    timer.register(poll.registry(), TIMER_TOKEN)?;
    let registry = poll.registry().try_clone()?;
    Ok((poll, timer, registry))
}

fn event_loop(
    poll: &mut Poll,
    timer: &WakeTimer,
    conns: &mut [Connection],
    env: &Env<'_>,
    rec: &mut Recorder,
    clock: &dyn Fn() -> u64,
) -> io::Result<()> {
    let window = rec.window;
    let mut events = Events::with_capacity(1024);
    // The deadline the timer is armed for: re-arming for the same instant is a wasted syscall.
    let mut armed_for_ns: Option<u64> = None;
    loop {
        let now_ns = clock();
        if now_ns >= window.drain_deadline_ns
            || (now_ns >= window.measure_end_ns
                && conns.iter().all(|c| c.is_done(window.measure_end_ns)))
        {
            return Ok(());
        }
        rec.maybe_report(now_ns);
        for c in conns.iter_mut() {
            c.service(now_ns, env, rec);
        }
        let wake_ns = next_wake_ns(conns, env, rec, now_ns);
        let now_ns = clock();
        let timeout = if wake_ns <= now_ns {
            Some(Duration::ZERO)
        } else {
            if armed_for_ns != Some(wake_ns) {
                timer.arm(Duration::from_nanos(wake_ns - now_ns))?;
                armed_for_ns = Some(wake_ns);
            }
            None
        };
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            if event.token() == TIMER_TOKEN {
                timer.clear();
                armed_for_ns = None;
                continue;
            }
            let Some(c) = conns.get_mut(event.token().0) else {
                continue;
            };
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                c.on_readable(clock, env, rec);
            }
            if event.is_writable() {
                c.flush(clock(), env, rec);
            }
        }
    }
}

fn next_wake_ns(conns: &[Connection], env: &Env<'_>, rec: &Recorder, now_ns: u64) -> u64 {
    let window = rec.window;
    let mut wake_ns = rec.next_report_ns().min(window.drain_deadline_ns);
    if now_ns < window.measure_end_ns {
        wake_ns = wake_ns.min(window.measure_end_ns);
    }
    for c in conns {
        if let Some(t) = c.next_wake_ns(env, window.measure_end_ns) {
            wake_ns = wake_ns.min(t);
        }
    }
    wake_ns
}
