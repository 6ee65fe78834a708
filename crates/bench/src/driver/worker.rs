//! One generator thread: a mio loop over its share of the lanes and their
//! connections, woken by socket readiness or by a timerfd at the next scheduled send.

use super::lane::{Env, Lane};
use super::recorder::{Recorder, ServerRecord, Window};
use super::stats::IntervalSample;
use super::timer::WakeTimer;
use crate::cluster::Router;
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
    /// Latencies and counts per server.
    pub servers: Vec<ServerRecord>,
    /// Scheduled requests never sent (charged to no server).
    pub unsent: u64,
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

/// Runs lanes `indices` of the run until the window closes.
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
    let servers = config.servers();
    let router = Router::new(config.cluster.as_ref());
    let env = Env {
        config,
        servers: &servers,
        router: &router,
        value_bytes: &value_bytes,
        registry: &registry,
    };
    let mut rec = Recorder::new(window, servers.len(), reports);
    let mut lanes: Vec<Lane> = indices
        .iter()
        .enumerate()
        .map(|(local, &i)| Lane::new(config, i, local * servers.len(), servers.len()))
        .collect();
    for lane in &mut lanes {
        lane.connect(0, &env, &mut rec);
    }
    start_line.barrier.wait();
    let start = *start_line.start.get_or_init(Instant::now);
    let clock = move || start.elapsed().as_nanos() as u64;
    event_loop(&mut poll, &timer, &mut lanes, &env, &mut rec, &clock)?;
    for lane in &mut lanes {
        lane.finish(&mut rec);
    }
    rec.flush_interval();
    Ok(WorkerResult {
        servers: rec.servers,
        unsent: rec.unsent,
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
    lanes: &mut [Lane],
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
                && lanes.iter().all(|l| l.is_done(window.measure_end_ns)))
        {
            return Ok(());
        }
        rec.maybe_report(now_ns);
        for lane in lanes.iter_mut() {
            lane.service(now_ns, env, rec);
        }
        let wake_ns = next_wake_ns(lanes, env, rec, now_ns);
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
            let servers = env.servers.len();
            let (lane, server) = (event.token().0 / servers, event.token().0 % servers);
            let Some(c) = lanes.get_mut(lane).and_then(|l| l.connection_mut(server)) else {
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

fn next_wake_ns(lanes: &[Lane], env: &Env<'_>, rec: &Recorder, now_ns: u64) -> u64 {
    let window = rec.window;
    let mut wake_ns = rec.next_report_ns().min(window.drain_deadline_ns);
    if now_ns < window.measure_end_ns {
        wake_ns = wake_ns.min(window.measure_end_ns);
    }
    for lane in lanes {
        if let Some(t) = lane.next_wake_ns(env, window.measure_end_ns) {
            wake_ns = wake_ns.min(t);
        }
    }
    wake_ns
}
