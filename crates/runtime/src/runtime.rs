//! Starting, stopping and joining the worker threads.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use mio::{Poll, Waker};

use crate::config::RuntimeConfig;
use crate::conn_stats::ConnStats;
use crate::listener::{BoundListener, LocalAddr, WorkerListener};
use crate::service::ServiceFactory;
use crate::worker::Worker;

/// Running worker threads.
pub struct Runtime {
    threads: Vec<JoinHandle<()>>,
    stopper: Stopper,
    unix_paths: Vec<PathBuf>,
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
                LocalAddr::Tcp(_) => None,
            })
            .collect();
        let per_worker = split_per_worker(listeners, config.workers)?;
        let config = Arc::new(config);
        let stop = Arc::new(AtomicBool::new(false));
        let mut wakers = Vec::with_capacity(config.workers);
        let mut threads = Vec::with_capacity(config.workers);
        for (index, listeners) in per_worker.into_iter().enumerate() {
            let poll = Poll::new()?;
            let token = Worker::<F::Service>::waker_token(listeners.len());
            wakers.push(Arc::new(Waker::new(poll.registry(), token)?));
            let (config, stats, stop, factory) =
                (config.clone(), stats.clone(), stop.clone(), factory.clone());
            let thread = std::thread::Builder::new()
                .name(format!("{}-{index}", config.thread_name))
                .spawn(move || {
                    let service = factory.new_worker(index);
                    match Worker::new(poll, listeners, service, config, stats, stop) {
                        Ok(worker) => worker.run(),
                        Err(e) => {
                            tracing::error!(error = %e, worker = index, "worker failed to start")
                        }
                    }
                })?;
            threads.push(thread);
        }
        Ok(Self {
            threads,
            stopper: Stopper { stop, wakers },
            unix_paths,
        })
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
        for path in &self.unix_paths {
            let _ = std::fs::remove_file(path);
        }
        clean
    }
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
