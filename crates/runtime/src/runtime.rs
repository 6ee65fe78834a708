//! Starting, stopping and joining the worker threads.

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use mio::{Poll, Waker};

use crate::buffer_stats::BufferStats;
use crate::config::RuntimeConfig;
use crate::conn_stats::ConnStats;
use crate::heartbeat::Heartbeat;
use crate::listener::{BoundListener, LocalAddr, WorkerListener};
use crate::scheduler::SchedulerStats;
use crate::service::ServiceFactory;
use crate::watchdog::{Watchdog, WatchdogConfig, WatchdogStats};
use crate::worker::{Worker, WorkerShared};

/// Running worker threads.
pub struct Runtime {
    threads: Vec<JoinHandle<()>>,
    stopper: Stopper,
    unix_paths: Vec<PathBuf>,
    sched_stats: Arc<SchedulerStats>,
    watchdog_stats: Arc<WatchdogStats>,
    watchdog: Option<Watchdog>,
    buffers: Arc<BufferStats>,
}

/// Asks every worker of a runtime to stop; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Stopper {
    stop: Arc<AtomicBool>,
    wakers: Vec<Arc<Waker>>,
}

impl Stopper {
    /// Workers stop accepting, flush and close; returns at once.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        for waker in &self.wakers {
            if let Err(e) = waker.wake() {
                tracing::warn!(error = %e, "cannot wake worker");
            }
        }
    }
}

impl Runtime {
    /// Starts `config.workers` threads serving `listeners` (each bound for
    /// that many workers) with one service per worker from `factory`.
    pub fn start<F: ServiceFactory>(
        config: RuntimeConfig,
        listeners: Vec<BoundListener>,
        factory: Arc<F>,
        stats: Arc<ConnStats>,
    ) -> io::Result<Self> {
        config
            .validate()
            .map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why))?;
        let unix_paths = listeners
            .iter()
            .filter_map(|l| match l.local_addr() {
                LocalAddr::Unix(path) => Some(path.clone()),
                LocalAddr::Tcp(_) | LocalAddr::Udp(_) => None,
            })
            .collect();
        let per_worker = split_per_worker(listeners, config.workers)?;
        let config = Arc::new(config);
        let stop = Arc::new(AtomicBool::new(false));
        let sched_stats = Arc::new(SchedulerStats::new(config.workers));
        let watchdog_stats = Arc::new(WatchdogStats::default());
        let buffers = Arc::new(BufferStats::new(config.workers));
        let mut wakers = Vec::with_capacity(config.workers);
        let mut threads = Vec::with_capacity(config.workers);
        let mut hearts = Vec::with_capacity(config.workers);
        for (index, listeners) in per_worker.into_iter().enumerate() {
            let poll = Poll::new()?;
            let token = Worker::<F::Service>::waker_token(listeners.len());
            wakers.push(Arc::new(Waker::new(poll.registry(), token)?));
            let heartbeat = Arc::new(Heartbeat::new(index));
            hearts.push(heartbeat.clone());
            let shared = WorkerShared {
                config: config.clone(),
                stats: stats.clone(),
                sched_stats: sched_stats.clone(),
                index,
                heartbeat,
                stop: stop.clone(),
                buffers: buffers.clone(),
            };
            let factory = factory.clone();
            let exit_on_failure = config.exit_process_on_worker_failure;
            let thread = std::thread::Builder::new()
                .name(format!("{}-{index}", config.thread_name))
                .spawn(move || {
                    let stop = shared.stop.clone();
                    let run = panic::catch_unwind(AssertUnwindSafe(|| {
                        let service = factory.new_worker(index);
                        match Worker::new(poll, listeners, service, shared) {
                            Ok(worker) => worker.run(),
                            Err(e) => {
                                tracing::error!(error = %e, worker = index, "worker failed to start")
                            }
                        }
                    }));
                    supervise(index, run.is_err(), &stop, exit_on_failure);
                    if let Err(panic) = run {
                        panic::resume_unwind(panic);
                    }
                })?;
            threads.push(thread);
        }
        let watchdog = match config.stall_threshold {
            Some(threshold) => {
                let watchdog_config = WatchdogConfig {
                    capture_backtraces: config.stall_backtraces,
                    ..WatchdogConfig::with_threshold(threshold)
                };
                Some(Watchdog::start(
                    watchdog_config,
                    hearts,
                    watchdog_stats.clone(),
                )?)
            }
            None => None,
        };
        Ok(Self {
            threads,
            stopper: Stopper { stop, wakers },
            unix_paths,
            sched_stats,
            watchdog_stats,
            watchdog,
            buffers,
        })
    }

    /// Bytes the connections' read and write buffers hold.
    pub fn buffer_stats(&self) -> Arc<BufferStats> {
        self.buffers.clone()
    }

    /// The scheduler's figures (per background group, scheduling delay, turn duration).
    pub fn scheduler_stats(&self) -> Arc<SchedulerStats> {
        self.sched_stats.clone()
    }

    /// The stall detector's figures.
    pub fn watchdog_stats(&self) -> Arc<WatchdogStats> {
        self.watchdog_stats.clone()
    }

    /// A handle that stops this runtime.
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Waits for every worker to finish; true if none panicked. Removes
    /// unix socket files this runtime listened on.
    pub fn join(self) -> bool {
        let mut clean = true;
        for thread in self.threads {
            clean &= thread.join().is_ok();
        }
        if let Some(watchdog) = self.watchdog {
            watchdog.stop();
        }
        for path in &self.unix_paths {
            let _ = std::fs::remove_file(path);
        }
        clean
    }
}

/// Exit code of a process whose worker thread failed (BSD's EX_SOFTWARE).
pub const EXIT_WORKER_FAILED: i32 = 70;

/// A worker thread ended: fine when asked to stop; otherwise (a panic, a
/// failed poll, a failed start) it is logged and, when so configured, ends
/// the process, so that a supervisor restarts a whole server rather than
/// the rest serving with one worker's connections and listener gone.
fn supervise(index: usize, panicked: bool, stop: &AtomicBool, exit_on_failure: bool) {
    let why = if panicked {
        "panicked"
    } else if !stop.load(Ordering::Acquire) {
        "stopped without being asked"
    } else {
        return;
    };
    if exit_on_failure {
        tracing::error!(
            worker = index,
            exit_code = EXIT_WORKER_FAILED,
            "worker thread {why}; exiting so that the supervisor restarts the server"
        );
        std::process::exit(EXIT_WORKER_FAILED);
    }
    tracing::error!(worker = index, "worker thread {why}");
}

/// Deals the i-th socket of every listener to worker i.
fn split_per_worker(
    listeners: Vec<BoundListener>,
    workers: usize,
) -> io::Result<Vec<Vec<WorkerListener>>> {
    let mut per_worker: Vec<Vec<WorkerListener>> = (0..workers).map(|_| Vec::new()).collect();
    for listener in listeners {
        let sockets = listener.into_worker_listeners();
        if sockets.len() != workers {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "listener bound for {} workers, runtime has {workers}",
                    sockets.len()
                ),
            ));
        }
        for (worker, socket) in per_worker.iter_mut().zip(sockets) {
            worker.push(socket);
        }
    }
    Ok(per_worker)
}
