//! Stall detector: a thread that notices when a worker stops reaching
//! scheduling points, and says which task it was running and where it is stuck.
//!
//! A worker's requests wait while it runs one task, so a task that runs long
//! (a huge value copied, a slow background step, a lock held elsewhere) is tail
//! latency for every connection on that core. Each worker bumps its
//! [`Heartbeat`] at every scheduling point; the watchdog looks every
//! `check_interval`, and a counter that has not moved for `threshold` while the
//! worker is not idle in poll is one stall: logged once, counted, and (rate
//! limited) explained with the stalled thread's own stack.
//!
//! The watchdog measures from when *it* saw the counter move, so a stall's
//! reported length is short by up to one `check_interval`, and it is noticed up
//! to one `check_interval` late. That keeps [`Heartbeat::enter`] free of clock
//! reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::heartbeat::{task_name, Heartbeat, Sample, SLOT_IDLE};
use crate::stack_capture;

/// Shortest check interval: below it the watchdog would cost a core.
const CHECK_INTERVAL_MIN: Duration = Duration::from_millis(1);

/// Settings of a [`Watchdog`].
#[derive(Clone, Debug)]
pub struct WatchdogConfig {
    /// A worker that reaches no scheduling point for this long is stalled.
    pub threshold: Duration,
    /// How often the watchdog looks (at least 1 ms); a stall is noticed up to
    /// this much late.
    pub check_interval: Duration,
    /// At most one backtrace per this long: a capture interrupts the worker,
    /// and symbolizing costs a core milliseconds to seconds.
    pub backtrace_min_interval: Duration,
    /// Whether stalls capture the stalled thread's stack at all.
    pub capture_backtraces: bool,
}

impl WatchdogConfig {
    /// Defaults with this threshold, looking four times per threshold.
    pub fn with_threshold(threshold: Duration) -> WatchdogConfig {
        WatchdogConfig {
            threshold,
            check_interval: (threshold / 4).max(CHECK_INTERVAL_MIN),
            ..WatchdogConfig::default()
        }
    }
}

impl Default for WatchdogConfig {
    fn default() -> Self {
        // 25 ms: far beyond any healthy turn (task quota is a few hundred µs),
        // short enough to catch what a p99.9 would feel.
        WatchdogConfig {
            threshold: Duration::from_millis(25),
            check_interval: Duration::from_micros(6_250),
            backtrace_min_interval: Duration::from_secs(60),
            capture_backtraces: true,
        }
    }
}

/// What one stall looked like when the watchdog noticed it.
#[derive(Clone, Debug)]
pub struct StallReport {
    /// The stalled worker.
    pub worker_index: usize,
    /// The task it entered last.
    pub task: &'static str,
    /// How long it had been stuck when noticed (the stall may go on).
    pub stalled_for: Duration,
    /// The stalled thread's stack, innermost frame first, when one was captured.
    pub backtrace: Option<String>,
}

/// Counters of a [`Watchdog`], shared with whoever exports them.
#[derive(Debug, Default)]
pub struct WatchdogStats {
    stalls_total: AtomicU64,
    backtraces_total: AtomicU64,
    backtrace_failures_total: AtomicU64,
    longest_stall_ns: AtomicU64,
    last_stall: Mutex<Option<LastStall>>,
    /// Workers stalled now, with when their stall began (written only when a
    /// stall begins or ends).
    ongoing: Mutex<Vec<(usize, Instant)>>,
}

/// The most recent stall and its sequence number, which a late backtrace
/// checks before it attaches itself.
#[derive(Debug)]
struct LastStall {
    stall_seq: u64,
    report: StallReport,
}

impl WatchdogStats {
    /// Zeroed counters.
    pub fn new() -> WatchdogStats {
        WatchdogStats::default()
    }

    /// Stalls noticed, each counted once however long it lasted.
    pub fn stalls_total(&self) -> u64 {
        self.stalls_total.load(Ordering::Relaxed)
    }

    /// Backtraces captured and symbolized.
    pub fn backtraces_total(&self) -> u64 {
        self.backtraces_total.load(Ordering::Relaxed)
    }

    /// Backtraces attempted that did not come back (no signal, thread gone,
    /// handler too slow, symbolizer queue full).
    pub fn backtrace_failures_total(&self) -> u64 {
        self.backtrace_failures_total.load(Ordering::Relaxed)
    }

    /// The worker stalled the longest among those stalled now, and for how
    /// long; `None` while every worker reaches its scheduling points.
    pub fn longest_ongoing_stall(&self) -> Option<(usize, Duration)> {
        let now = Instant::now();
        self.ongoing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|&(worker, since)| (worker, now.saturating_duration_since(since)))
            .max_by_key(|&(_, stalled_for)| stalled_for)
    }

    fn stall_began(&self, worker: usize, stalled_for: Duration) {
        let since = Instant::now()
            .checked_sub(stalled_for)
            .unwrap_or_else(Instant::now);
        let mut ongoing = self.ongoing.lock().unwrap_or_else(PoisonError::into_inner);
        ongoing.retain(|&(w, _)| w != worker);
        ongoing.push((worker, since));
    }

    fn stall_ended(&self, worker: usize) {
        self.ongoing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|&(w, _)| w != worker);
    }

    /// Longest stall seen so far (of an ongoing one, its length when noticed).
    pub fn longest_stall_ns(&self) -> u64 {
        self.longest_stall_ns.load(Ordering::Relaxed)
    }

    /// The most recent stall, as it was when noticed; its backtrace arrives a
    /// little later (after symbolization), and not at all when another stall
    /// came first.
    pub fn last_stall(&self) -> Option<StallReport> {
        self.last_stall
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|last| last.report.clone())
    }

    fn record_length(&self, stalled_for: Duration) {
        let ns = u64::try_from(stalled_for.as_nanos()).unwrap_or(u64::MAX);
        self.longest_stall_ns.fetch_max(ns, Ordering::Relaxed);
    }
}

/// Stack captures waiting for the symbolizer; with the rate limit there is
/// rarely more than one, and one that finds the queue full is dropped.
const SYMBOLIZE_QUEUE_MAX: usize = 4;

/// The stall detector's threads; stops (and joins) on [`Watchdog::stop`] or drop.
///
/// Two threads: "watchdog" looks at the heartbeats and captures stacks (fast),
/// "watchdog-symbols" turns the captures into text, which the first time
/// reads the binary's debug info for up to seconds; on the watchdog's own
/// thread that would blind it to the stalls that follow.
#[derive(Debug)]
pub struct Watchdog {
    /// Dropping it wakes the watchdog and tells it to end.
    stop_tx: Option<mpsc::Sender<()>>,
    watcher: Option<JoinHandle<()>>,
    /// Ends once the watchdog (which holds its queue) has ended.
    symbolizer: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Spawns the threads "watchdog" and "watchdog-symbols" watching `hearts`;
    /// fails if the threshold is zero or a thread cannot be spawned.
    pub fn start(
        config: WatchdogConfig,
        hearts: Vec<Arc<Heartbeat>>,
        stats: Arc<WatchdogStats>,
    ) -> std::io::Result<Watchdog> {
        if config.threshold.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "watchdog threshold must be above zero",
            ));
        }
        let (job_tx, job_rx) = mpsc::sync_channel(SYMBOLIZE_QUEUE_MAX);
        let symbolizer_stats = stats.clone();
        let symbolizer = std::thread::Builder::new()
            .name(String::from("watchdog-symbols"))
            .spawn(move || symbolize_captures(&job_rx, &symbolizer_stats))?;
        let (stop_tx, stop_rx) = mpsc::channel();
        // On failure job_tx drops here, which ends the symbolizer.
        let watcher = std::thread::Builder::new()
            .name(String::from("watchdog"))
            .spawn(move || watch(&config, &hearts, &stats, &stop_rx, &job_tx))?;
        Ok(Watchdog {
            stop_tx: Some(stop_tx),
            watcher: Some(watcher),
            symbolizer: Some(symbolizer),
        })
    }

    /// Stops the threads and waits for them, so that a backtrace being
    /// symbolized is in the stats (and the log) when this returns.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        drop(self.stop_tx.take());
        // A panic in either thread has already been reported by the panic
        // hook; there is nothing more to do with it here.
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
        if let Some(symbolizer) = self.symbolizer.take() {
            let _ = symbolizer.join();
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A stalled thread's raw stack, on its way to the symbolizer.
struct SymbolizeJob {
    /// Which stall (its `stalls_total`) the stack belongs to.
    stall_seq: u64,
    worker_index: usize,
    task: &'static str,
    ips: Vec<usize>,
}

/// The watchdog's state between two looks.
struct Watcher<'a> {
    config: &'a WatchdogConfig,
    stats: &'a WatchdogStats,
    jobs: &'a mpsc::SyncSender<SymbolizeJob>,
    budget: BacktraceBudget,
}

fn watch(
    config: &WatchdogConfig,
    hearts: &[Arc<Heartbeat>],
    stats: &WatchdogStats,
    stop_rx: &mpsc::Receiver<()>,
    jobs: &mpsc::SyncSender<SymbolizeJob>,
) {
    let interval = config.check_interval.max(CHECK_INTERVAL_MIN);
    let start = Instant::now();
    let mut watches: Vec<HeartWatch> = hearts
        .iter()
        .map(|heart| HeartWatch::new(heart.sample(), start))
        .collect();
    let mut watcher = Watcher {
        config,
        stats,
        jobs,
        budget: BacktraceBudget::new(config.backtrace_min_interval),
    };
    loop {
        let stopping = !matches!(
            stop_rx.recv_timeout(interval),
            Err(RecvTimeoutError::Timeout)
        );
        // One more look when stopping, so that a stall that ended just before
        // has its length counted.
        for (heart, watch) in hearts.iter().zip(&mut watches) {
            watcher.look(heart, watch);
        }
        if stopping {
            return;
        }
    }
}

impl Watcher<'_> {
    fn look(&mut self, heart: &Heartbeat, watch: &mut HeartWatch) {
        // Read per heart: a capture for the previous one may have waited.
        let now = Instant::now();
        match watch.observe(heart.sample(), now, self.config.threshold) {
            Verdict::Running => {}
            Verdict::StallBegan {
                task_slot,
                stalled_for,
            } => {
                let task = task_name(task_slot);
                let stall_seq = self.report_stall(heart, task, stalled_for);
                if self.config.capture_backtraces && self.budget.try_take(now) {
                    self.capture(heart, task, stall_seq);
                }
            }
            Verdict::StallEnded {
                task_slot,
                stalled_for,
            } => {
                self.stats.record_length(stalled_for);
                self.stats.stall_ended(heart.worker_index());
                tracing::info!(
                    worker = heart.worker_index(),
                    task = task_name(task_slot),
                    stalled_for = ?stalled_for,
                    "worker stall ended"
                );
            }
        }
    }

    /// Logs and counts a stall; returns its sequence number.
    fn report_stall(&self, heart: &Heartbeat, task: &'static str, stalled_for: Duration) -> u64 {
        let worker_index = heart.worker_index();
        tracing::warn!(
            worker = worker_index,
            task,
            stalled_for = ?stalled_for,
            "worker stalled: no scheduling point"
        );
        self.stats.record_length(stalled_for);
        self.stats.stall_began(worker_index, stalled_for);
        let mut last = self
            .stats
            .last_stall
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Counted under the lock, so that a reader that sees the count sees
        // the report, and the symbolizer matches its stack to the right one.
        let stall_seq = self.stats.stalls_total.fetch_add(1, Ordering::Relaxed) + 1;
        *last = Some(LastStall {
            stall_seq,
            report: StallReport {
                worker_index,
                task,
                stalled_for,
                backtrace: None,
            },
        });
        stall_seq
    }

    fn capture(&self, heart: &Heartbeat, task: &'static str, stall_seq: u64) {
        let job = stack_capture::capture_ips(heart.tid())
            .map_err(|error| format!("{error:?}"))
            .and_then(|ips| {
                let job = SymbolizeJob {
                    stall_seq,
                    worker_index: heart.worker_index(),
                    task,
                    ips,
                };
                self.jobs
                    .try_send(job)
                    .map_err(|_| String::from("symbolizer queue full"))
            });
        if let Err(error) = job {
            self.stats
                .backtrace_failures_total
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                worker = heart.worker_index(),
                error,
                "no backtrace of stall"
            );
        }
    }
}

/// The symbolizer thread: turns each capture into text, logs it and, if its
/// stall is still the last one, puts it in the report.
fn symbolize_captures(jobs: &mpsc::Receiver<SymbolizeJob>, stats: &WatchdogStats) {
    for job in jobs {
        let backtrace = stack_capture::symbolize(&job.ips);
        tracing::warn!(
            worker = job.worker_index,
            task = job.task,
            "stalled worker's stack:\n{backtrace}"
        );
        let mut last = stats
            .last_stall
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(last) = last.as_mut().filter(|last| last.stall_seq == job.stall_seq) {
            last.report.backtrace = Some(backtrace);
        }
        // Counted under the lock, as stalls_total is.
        stats.backtraces_total.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the watchdog concluded from one look at a heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Moving, idle, or stalled and already reported.
    Running,
    /// Stuck for `threshold` or more; reported once.
    StallBegan {
        task_slot: usize,
        stalled_for: Duration,
    },
    /// A reported stall is over; `stalled_for` is its whole length, as seen.
    StallEnded {
        task_slot: usize,
        stalled_for: Duration,
    },
}

/// The watchdog's memory of one heartbeat, kept apart from the thread so that
/// the stall logic is tested with made-up times.
#[derive(Debug)]
struct HeartWatch {
    last_beats: u64,
    last_moved_at: Instant,
    /// The task slot of the stall being reported, while one lasts.
    stalled_task_slot: Option<usize>,
}

impl HeartWatch {
    fn new(sample: Sample, now: Instant) -> HeartWatch {
        HeartWatch {
            last_beats: sample.beats,
            last_moved_at: now,
            stalled_task_slot: None,
        }
    }

    fn observe(&mut self, sample: Sample, now: Instant, threshold: Duration) -> Verdict {
        let stuck_for = now.saturating_duration_since(self.last_moved_at);
        if sample.beats != self.last_beats || sample.task_slot == SLOT_IDLE {
            self.last_beats = sample.beats;
            self.last_moved_at = now;
            return match self.stalled_task_slot.take() {
                Some(task_slot) => Verdict::StallEnded {
                    task_slot,
                    stalled_for: stuck_for,
                },
                None => Verdict::Running,
            };
        }
        if self.stalled_task_slot.is_none() && stuck_for >= threshold {
            self.stalled_task_slot = Some(sample.task_slot);
            return Verdict::StallBegan {
                task_slot: sample.task_slot,
                stalled_for: stuck_for,
            };
        }
        Verdict::Running
    }
}

/// Rate limit of backtraces, over all workers: each one interrupts a worker and
/// costs the watchdog a symbolization.
#[derive(Debug)]
struct BacktraceBudget {
    min_interval: Duration,
    last_at: Option<Instant>,
}

impl BacktraceBudget {
    fn new(min_interval: Duration) -> BacktraceBudget {
        BacktraceBudget {
            min_interval,
            last_at: None,
        }
    }

    /// Whether a backtrace may be taken at `now`; a yes uses up the budget.
    fn try_take(&mut self, now: Instant) -> bool {
        let allowed = self
            .last_at
            .is_none_or(|last| now.saturating_duration_since(last) >= self.min_interval);
        if allowed {
            self.last_at = Some(now);
        }
        allowed
    }
}
#[cfg(test)]
mod tests;
