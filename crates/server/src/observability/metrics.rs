//! Per-worker counters and service-time histograms, summed on read.
//!
//! Each worker owns one [`WorkerMetrics`]; only that worker writes it, so
//! the hot path never writes a cache line another core writes. Readers
//! (admin endpoint, `stats`) sum all workers through [`MetricsRegistry`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;

/// Longest service time a histogram records, in nanoseconds (60 s); longer
/// values are clamped to it.
pub const HISTOGRAM_MAX_NS: u64 = 60_000_000_000;
/// Significant figures kept: 2 gives 1% precision in about 30 KiB per histogram.
const HISTOGRAM_SIGFIGS: u8 = 2;

macro_rules! counters {
    ($($variant:ident => $name:literal, $help:literal;)*) => {
        /// A per-worker counter. Names are memcached's `stats` names where one exists.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Counter { $(#[doc = $help] $variant,)* }

        impl Counter {
            /// Every counter, in declaration order.
            pub const ALL: &'static [Counter] = &[$(Counter::$variant,)*];

            /// Its memcached `stats` name (`/metrics` names it by Prometheus's
            /// conventions: see `prometheus::exposed`).
            pub const fn name(self) -> &'static str {
                match self { $(Counter::$variant => $name,)* }
            }

            /// One line saying what it counts.
            pub const fn help(self) -> &'static str {
                match self { $(Counter::$variant => $help,)* }
            }
        }
    };
}

counters! {
    CmdGet => "cmd_get", "Keys requested by retrieval commands (get, gets, gat, gats, mg).";
    CmdSet => "cmd_set", "Storage commands executed (set, add, replace, append, prepend, cas, ms).";
    CmdFlush => "cmd_flush", "flush_all commands executed.";
    CmdTouch => "cmd_touch", "Keys touched (touch, gat, gats).";
    CmdMeta => "cmd_meta", "Meta commands executed (mg, ms, md, ma, mn, me).";
    GetHits => "get_hits", "Keys found by retrieval commands.";
    GetMisses => "get_misses", "Keys not found by retrieval commands.";
    GetExpired => "get_expired", "Keys not found because they had expired.";
    GetFlushed => "get_flushed", "Keys not found because of flush_all.";
    DeleteHits => "delete_hits", "Deletes of present keys.";
    DeleteMisses => "delete_misses", "Deletes of absent keys.";
    IncrHits => "incr_hits", "incr on present keys.";
    IncrMisses => "incr_misses", "incr on absent keys.";
    DecrHits => "decr_hits", "decr on present keys.";
    DecrMisses => "decr_misses", "decr on absent keys.";
    CasHits => "cas_hits", "cas that stored.";
    CasMisses => "cas_misses", "cas on absent keys.";
    CasBadval => "cas_badval", "cas refused because the item changed.";
    TouchHits => "touch_hits", "touch on present keys.";
    TouchMisses => "touch_misses", "touch on absent keys.";
    StoreTooLarge => "store_too_large", "Writes refused as larger than the item size limit.";
    StoreNoMemory => "store_no_memory", "Writes refused for lack of memory.";
    AuthCmds => "auth_cmds", "memcache authentication attempts (-Y).";
    AuthErrors => "auth_errors", "memcache authentication attempts refused (-Y).";
    RespAuthErrors => "resp_auth_errors", "RESP AUTH and HELLO AUTH refused.";
    HttpAuthErrors => "http_auth_errors", "HTTP data API requests refused for a missing or wrong token.";
    ProtocolErrors => "protocol_errors", "Requests answered with a protocol error.";
    BytesRead => "bytes_read", "Request bytes consumed from clients.";
    BytesWritten => "bytes_written", "Reply bytes produced for clients.";
    Requests => "requests", "Requests executed, all protocols.";
}

/// What a service-time histogram is kept for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandKind {
    /// get, gets, mg, RESP GET/MGET, HTTP GET/HEAD.
    Get,
    /// gat, gats, RESP GETEX.
    GetAndTouch,
    /// set, add, replace, append, prepend, cas, ms, RESP SET/MSET/APPEND, HTTP PUT.
    Set,
    /// delete, md, RESP DEL/GETDEL, HTTP DELETE.
    Delete,
    /// incr, decr, ma, RESP INCR/DECR family.
    Arithmetic,
    /// touch, RESP EXPIRE family.
    Touch,
    /// flush_all, RESP FLUSHALL/FLUSHDB.
    Flush,
    /// stats, RESP INFO.
    Stats,
    /// Everything else (version, mn, PING, ...).
    Other,
}

impl CommandKind {
    /// Every kind, in index order.
    pub const ALL: &'static [CommandKind] = &[
        CommandKind::Get,
        CommandKind::GetAndTouch,
        CommandKind::Set,
        CommandKind::Delete,
        CommandKind::Arithmetic,
        CommandKind::Touch,
        CommandKind::Flush,
        CommandKind::Stats,
        CommandKind::Other,
    ];

    /// Its label value in metrics.
    pub const fn name(self) -> &'static str {
        match self {
            CommandKind::Get => "get",
            CommandKind::GetAndTouch => "get_and_touch",
            CommandKind::Set => "set",
            CommandKind::Delete => "delete",
            CommandKind::Arithmetic => "arithmetic",
            CommandKind::Touch => "touch",
            CommandKind::Flush => "flush",
            CommandKind::Stats => "stats",
            CommandKind::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One worker's metrics. Written by its worker only; read by anyone.
pub struct WorkerMetrics {
    counters: Vec<AtomicU64>,
    // Uncontended except while a reader sums: a lock costs ~20 ns there.
    service_time_ns: Vec<Mutex<Histogram<u64>>>,
}

impl WorkerMetrics {
    fn new() -> Self {
        Self {
            counters: Counter::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
            service_time_ns: CommandKind::ALL
                .iter()
                .map(|_| Mutex::new(new_histogram()))
                .collect(),
        }
    }

    /// Adds `n` to `counter`. Single writer, so load + store suffices and
    /// costs no locked instruction.
    #[inline]
    pub fn add(&self, counter: Counter, n: u64) {
        let cell = &self.counters[counter as usize];
        cell.store(
            cell.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Adds one to `counter`.
    #[inline]
    pub fn incr(&self, counter: Counter) {
        self.add(counter, 1);
    }

    /// Records one request's service time.
    pub fn record(&self, kind: CommandKind, service_time_ns: u64) {
        let mut histogram = lock(&self.service_time_ns[kind.index()]);
        histogram.saturating_record(service_time_ns.clamp(1, HISTOGRAM_MAX_NS));
    }

    fn counter(&self, counter: Counter) -> u64 {
        self.counters[counter as usize].load(Ordering::Relaxed)
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_NS, HISTOGRAM_SIGFIGS)
        .expect("constant histogram bounds are valid")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while recording cannot leave a histogram half-written in a
    // way that matters for reporting; keep serving.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// All workers' metrics.
pub struct MetricsRegistry {
    workers: Vec<Arc<WorkerMetrics>>,
}

/// Counters summed over all workers.
#[derive(Clone, Debug)]
pub struct CounterTotals {
    values: Vec<u64>,
}

impl CounterTotals {
    /// The sum of `counter` over all workers.
    pub fn get(&self, counter: Counter) -> u64 {
        self.values[counter as usize]
    }
}

impl MetricsRegistry {
    /// One [`WorkerMetrics`] for each of `workers`.
    pub fn new(workers: usize) -> Self {
        Self {
            workers: (0..workers)
                .map(|_| Arc::new(WorkerMetrics::new()))
                .collect(),
        }
    }

    /// The metrics of worker `index`.
    pub fn worker(&self, index: usize) -> Arc<WorkerMetrics> {
        self.workers[index].clone()
    }

    /// Every counter summed over the workers.
    pub fn totals(&self) -> CounterTotals {
        let values = Counter::ALL
            .iter()
            .map(|&c| {
                self.workers
                    .iter()
                    .map(|w| w.counter(c))
                    .fold(0, u64::wrapping_add)
            })
            .collect();
        CounterTotals { values }
    }

    /// The service-time histogram of `kind`, merged over the workers.
    pub fn service_time_ns(&self, kind: CommandKind) -> Histogram<u64> {
        let mut merged = new_histogram();
        for worker in &self.workers {
            let histogram = lock(&worker.service_time_ns[kind.index()]);
            merged.add(&*histogram).expect("histograms share bounds");
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn counter_names_are_unique() {
        let names: HashSet<_> = Counter::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Counter::ALL.len());
        let kinds: HashSet<_> = CommandKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(kinds.len(), CommandKind::ALL.len());
        for (i, kind) in CommandKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
    }

    #[test]
    fn totals_sum_workers() {
        let registry = MetricsRegistry::new(3);
        registry.worker(0).add(Counter::GetHits, 2);
        registry.worker(2).incr(Counter::GetHits);
        registry.worker(1).incr(Counter::CmdSet);
        let totals = registry.totals();
        assert_eq!(totals.get(Counter::GetHits), 3);
        assert_eq!(totals.get(Counter::CmdSet), 1);
        assert_eq!(totals.get(Counter::GetMisses), 0);
    }

    #[test]
    fn histograms_merge_and_clamp() {
        let registry = MetricsRegistry::new(2);
        registry.worker(0).record(CommandKind::Get, 1_000);
        registry.worker(1).record(CommandKind::Get, u64::MAX);
        registry.worker(1).record(CommandKind::Set, 0);
        let get = registry.service_time_ns(CommandKind::Get);
        assert_eq!(get.len(), 2);
        assert!(get.max() >= HISTOGRAM_MAX_NS / 2);
        assert_eq!(registry.service_time_ns(CommandKind::Set).len(), 1);
    }
}
