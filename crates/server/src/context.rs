//! What command execution on one worker can reach: the engine, the
//! configuration, this worker's metrics, and server-wide figures for `stats`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tailcache_runtime::{ConnStats, ConnStatsSnapshot};

use crate::observability::metrics::{CounterTotals, MetricsRegistry, WorkerMetrics};
use crate::startup::config::Config;
use crate::startup::engine::Engine;

/// Which wire protocol a data listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// memcached text and meta protocol.
    Memcache,
    /// Redis RESP2/RESP3.
    Resp,
    /// HTTP/1.1 key-value API.
    Http,
}

impl Protocol {
    /// Every protocol, in tag order.
    pub const ALL: [Protocol; 3] = [Protocol::Memcache, Protocol::Resp, Protocol::Http];

    /// The runtime listener tag of this protocol.
    pub fn tag(self) -> usize {
        self as usize
    }

    /// The protocol of a runtime listener tag.
    pub fn from_tag(tag: usize) -> Option<Protocol> {
        Self::ALL.get(tag).copied()
    }

    /// Lower-case name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Memcache => "memcache",
            Protocol::Resp => "resp",
            Protocol::Http => "http",
        }
    }
}

/// Where a data listener listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataListenAddr {
    /// TCP.
    Tcp(SocketAddr),
    /// Unix stream socket with its mode bits.
    Unix {
        /// Socket path.
        path: PathBuf,
        /// Permission bits.
        mode: u32,
    },
    /// UDP (memcache only, `-U`).
    Udp(SocketAddr),
}

/// State shared by every worker and the admin endpoint.
pub struct SharedState {
    /// The storage engine.
    pub engine: Arc<Engine>,
    /// The effective configuration.
    pub config: Arc<Config>,
    /// Every worker's metrics.
    pub metrics: Arc<MetricsRegistry>,
    /// Data-port connection counts.
    pub conn_stats: Arc<ConnStats>,
    /// Open data connections and listening sockets (`stats conns`).
    pub conns: Arc<crate::conn_registry::ConnRegistry>,
    started: Instant,
    started_unix_secs: u64,
    verbosity: AtomicU8,
    /// memcached `stats` values as they were at the last `stats reset`, by name: the
    /// memcache view subtracts them (Prometheus keeps the raw, monotonic counters).
    stats_reset_baseline: std::sync::Mutex<std::collections::HashMap<&'static [u8], u64>>,
    /// Whether the LRU crawler commands are served (`lru_crawler enable|disable`).
    pub lru_crawler_enabled: std::sync::atomic::AtomicBool,
    /// `stats detail`: per-prefix counts, off until turned on.
    pub prefix_stats: crate::observability::prefix_stats::PrefixStats,
    /// Admin endpoint requests refused for a missing or wrong token (the
    /// admin thread is not a worker, so it has no per-worker counters).
    pub admin_auth_failures: std::sync::atomic::AtomicU64,
    /// The data runtime's scheduler and stall figures, once it has started.
    runtime_figures: std::sync::OnceLock<RuntimeFigures>,
    /// Certificates of the TLS listeners, when there are any.
    tls: std::sync::OnceLock<Arc<crate::security::tls::TlsState>>,
    /// The engine's clock when `debugtime` may move it (--debug-commands).
    debug_clock: std::sync::OnceLock<Arc<tailcache_storage::SteppedClock>>,
    /// memcached's `watch` connections, told of fetches, mutations,
    /// evictions and connections.
    pub log_watchers: Arc<crate::observability::log_watchers::LogWatchers>,
    /// memcached's `lru_crawler crawl`: the walk in progress and its counts.
    pub lru_crawl: crate::lru_crawl::LruCrawl,
}

/// Figures the data runtime keeps about itself.
#[derive(Debug, Clone)]
pub struct RuntimeFigures {
    /// Per background group, scheduling delay, turn duration.
    pub scheduler: Arc<tailcache_runtime::SchedulerStats>,
    /// The stall detector's counts.
    pub watchdog: Arc<tailcache_runtime::WatchdogStats>,
    /// Bytes the data connections' buffers hold.
    pub buffers: Arc<tailcache_runtime::BufferStats>,
}

impl SharedState {
    /// Shared state for a server starting now.
    pub fn new(engine: Arc<Engine>, config: Arc<Config>, workers: usize) -> Self {
        let started_unix_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let verbosity = AtomicU8::new(config.verbosity);
        let lru_crawler_enabled = std::sync::atomic::AtomicBool::new(config.lru_crawler_enabled);
        // validate() holds the delimiter to printable ASCII.
        let prefix_stats = crate::observability::prefix_stats::PrefixStats::new(
            u8::try_from(config.prefix_delimiter).unwrap_or(b':'),
        );
        let buffer_bytes =
            usize::try_from(config.watcher_buffer_kib.saturating_mul(1024)).unwrap_or(usize::MAX);
        let log_watchers = Arc::new(crate::observability::log_watchers::LogWatchers::new(
            buffer_bytes,
        ));
        // A second SharedState over the same engine (tests) keeps the first listener.
        engine.set_eviction_listener(log_watchers.clone());
        Self {
            log_watchers,
            lru_crawl: crate::lru_crawl::LruCrawl::default(),
            engine,
            config,
            metrics: Arc::new(MetricsRegistry::new(workers)),
            conn_stats: Arc::new(ConnStats::default()),
            conns: Arc::default(),
            started: Instant::now(),
            started_unix_secs,
            verbosity,
            stats_reset_baseline: std::sync::Mutex::default(),
            runtime_figures: std::sync::OnceLock::new(),
            tls: std::sync::OnceLock::new(),
            debug_clock: std::sync::OnceLock::new(),
            lru_crawler_enabled,
            prefix_stats,
            admin_auth_failures: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Records the TLS listeners' certificates (once, at start).
    pub fn set_tls(&self, tls: Arc<crate::security::tls::TlsState>) {
        let _ = self.tls.set(tls);
    }

    /// Records the engine's clock that `debugtime` moves (once, at start).
    pub fn set_debug_clock(&self, clock: Arc<tailcache_storage::SteppedClock>) {
        let _ = self.debug_clock.set(clock);
    }

    /// The clock `debugtime` moves; `None` unless --debug-commands.
    pub fn debug_clock(&self) -> Option<&Arc<tailcache_storage::SteppedClock>> {
        self.debug_clock.get()
    }

    /// The TLS listeners' certificates; `None` when no listener speaks TLS.
    pub fn tls(&self) -> Option<&Arc<crate::security::tls::TlsState>> {
        self.tls.get()
    }

    /// Records the data runtime's figures once it has started.
    pub fn set_runtime_figures(&self, figures: RuntimeFigures) {
        let _ = self.runtime_figures.set(figures);
    }

    /// Turns a data connection ended on its `-R`/reply budget with requests
    /// still waiting (memcached's `conn_yields`); 0 before the runtime started.
    pub fn conn_yields(&self) -> u64 {
        self.runtime_figures()
            .map_or(0, |figures| figures.scheduler.conn_yields())
    }

    /// The data runtime's figures; `None` before it started.
    pub fn runtime_figures(&self) -> Option<&RuntimeFigures> {
        self.runtime_figures.get()
    }

    /// Remembers `values` as the zero of memcached's resettable `stats` (`stats reset`).
    pub fn reset_stats(&self, values: impl IntoIterator<Item = (&'static [u8], u64)>) {
        let mut baseline = self
            .stats_reset_baseline
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        baseline.clear();
        baseline.extend(values);
    }

    /// Each stat of `values` as counted since the last `stats reset`.
    pub fn since_stats_reset(
        &self,
        values: Vec<(&'static [u8], u64)>,
    ) -> std::collections::HashMap<&'static [u8], u64> {
        let baseline = self
            .stats_reset_baseline
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        values
            .into_iter()
            .map(|(name, value)| {
                let zero = baseline.get(name).copied().unwrap_or(0);
                (name, value.saturating_sub(zero))
            })
            .collect()
    }

    /// Seconds since start.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Unix time the server started at.
    pub fn started_unix_secs(&self) -> u64 {
        self.started_unix_secs
    }

    /// Data-port connection counts now.
    pub fn connections(&self) -> ConnStatsSnapshot {
        self.conn_stats.snapshot()
    }

    /// Worker threads serving data ports.
    pub fn threads(&self) -> usize {
        self.config.threads
    }

    /// Counters summed over workers.
    pub fn totals(&self) -> CounterTotals {
        self.metrics.totals()
    }

    /// memcached `verbosity` level last set (starts at -v count).
    pub fn verbosity(&self) -> u8 {
        self.verbosity.load(Ordering::Relaxed)
    }

    /// Records a `verbosity N` command (memcached keeps it; so do we).
    pub fn set_verbosity(&self, level: u8) {
        self.verbosity.store(level, Ordering::Relaxed);
    }
}

/// One worker's view: shared state plus its own metrics handle.
pub struct ServerContext {
    /// The storage engine (shared by all workers).
    pub engine: Arc<Engine>,
    /// The effective configuration.
    pub config: Arc<Config>,
    /// This worker's counters and histograms; write only from this worker.
    pub metrics: Arc<WorkerMetrics>,
    /// Server-wide state (connections, totals, uptime) for `stats`.
    pub shared: Arc<SharedState>,
    /// The fd of the connection whose requests run now (`cfd` in watch lines).
    conn_fd: std::cell::Cell<i32>,
}

impl ServerContext {
    /// The context of worker `worker_index`.
    pub fn new(shared: Arc<SharedState>, worker_index: usize) -> Self {
        Self {
            engine: shared.engine.clone(),
            config: shared.config.clone(),
            metrics: shared.metrics.worker(worker_index),
            shared,
            conn_fd: std::cell::Cell::new(-1),
        }
    }

    /// Notes whose requests run next (its fd; -1 when it has none).
    pub fn set_conn_fd(&self, fd: i32) {
        self.conn_fd.set(fd);
    }

    /// The fd of the connection whose requests run now.
    pub fn conn_fd(&self) -> i32 {
        self.conn_fd.get()
    }
}
