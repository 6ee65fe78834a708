//! Figures the admin endpoint reports, gathered once per request from the
//! shared state: connections, counters, storage and latency.

use tailcache_storage::Stats;

use crate::context::SharedState;
use crate::observability::metrics::{CommandKind, Counter, CounterTotals};

/// Whether a figure only grows or can go down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only grows (Prometheus counter, `_total`).
    Counter,
    /// Any value.
    Gauge,
}

/// One named figure with its help text.
#[derive(Clone, Debug)]
pub struct Figure {
    /// Name without prefix or `_total`.
    pub name: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// One line of help.
    pub help: &'static str,
    /// The value.
    pub value: u64,
}

/// Every scalar figure of the server now.
pub fn figures(shared: &SharedState) -> Vec<Figure> {
    let mut out = server_figures(shared);
    counter_figures(&shared.totals(), &mut out);
    storage_figures(&shared.engine.stats(), &mut out);
    if let Some(tls) = shared.tls() {
        tls_figures(tls, &mut out);
    }
    out
}

fn tls_figures(tls: &crate::security::tls::TlsState, out: &mut Vec<Figure>) {
    use Kind::{Counter as C, Gauge as G};
    let counters = tls.counters();
    out.extend([
        figure(
            "tls_handshakes",
            C,
            "TLS handshakes completed.",
            counters.handshakes(),
        ),
        figure(
            "tls_handshake_errors",
            C,
            "TLS connections that failed before their handshake completed.",
            counters.handshake_errors(),
        ),
        figure(
            "tls_cert_reload_failures",
            C,
            "Certificate reloads (SIGHUP, refresh_certs) that failed; the old certificates stayed.",
            tls.reload_failures(),
        ),
        figure(
            "tls_cert_age_seconds",
            G,
            "Seconds since the TLS certificates were last loaded.",
            tls.secs_since_refresh(),
        ),
    ]);
}

fn figure(name: &'static str, kind: Kind, help: &'static str, value: u64) -> Figure {
    Figure {
        name,
        kind,
        help,
        value,
    }
}

fn server_figures(shared: &SharedState) -> Vec<Figure> {
    use Kind::{Counter as C, Gauge as G};
    let conns = shared.connections();
    vec![
        figure(
            "uptime_seconds",
            G,
            "Seconds since the server started.",
            shared.uptime_secs(),
        ),
        figure("threads", G, "Worker threads.", shared.threads() as u64),
        figure(
            "curr_connections",
            G,
            "Open data connections.",
            conns.current as u64,
        ),
        figure(
            "connections",
            C,
            "Data connections accepted.",
            conns.total_accepted,
        ),
        figure(
            "rejected_connections",
            C,
            "Connections refused by -c.",
            conns.rejected,
        ),
        figure(
            "idle_closed_connections",
            C,
            "Connections closed by idle_timeout.",
            conns.idle_closed,
        ),
        figure(
            "stalled_closed_connections",
            C,
            "Connections closed by request_timeout_secs (a request never completed).",
            conns.stalled_closed,
        ),
        figure(
            "deadline_closed_connections",
            C,
            "Connections closed at their deadline: not authenticated within auth_timeout_secs.",
            conns.deadline_closed,
        ),
        figure(
            "conn_yields",
            C,
            "Turns a connection ended on its request or reply budget with requests waiting (-R).",
            shared.conn_yields(),
        ),
        figure(
            "service_panics",
            C,
            "Connections closed because command execution panicked (a bug).",
            conns.service_panics,
        ),
        figure(
            "overflow_closed_connections",
            C,
            "Connections closed for a request over the read buffer bound.",
            conns.overflow_closed,
        ),
        figure(
            "output_cap_closed_connections",
            C,
            "Connections closed because their unsent replies passed connection_output_cap_bytes.",
            conns.output_cap_closed,
        ),
        figure(
            "over_budget_closed_connections",
            C,
            "Connections closed because all connection buffers passed connection_buffer_budget_mib.",
            conns.over_budget_closed,
        ),
        figure(
            "idle_reclaimed_connections",
            C,
            "Idle connections closed at -c to admit a new one (idle_reclaim_secs).",
            conns.idle_reclaimed,
        ),
        figure(
            "accept_fd_exhausted",
            C,
            "Accepts that failed for want of file descriptors (EMFILE/ENFILE).",
            conns.accept_fd_exhausted,
        ),
        figure(
            "connection_buffer_bytes",
            G,
            "Bytes the data connections' read and write buffers hold.",
            shared
                .runtime_figures()
                .map_or(0, |figures| figures.buffers.total_bytes() as u64),
        ),
    ]
}

fn counter_figures(totals: &CounterTotals, out: &mut Vec<Figure>) {
    for &counter in Counter::ALL {
        out.push(figure(
            counter.name(),
            Kind::Counter,
            counter.help(),
            totals.get(counter),
        ));
    }
}

fn storage_figures(stats: &Stats, out: &mut Vec<Figure>) {
    use Kind::{Counter as C, Gauge as G};
    let counters = [
        ("storage_sets", "Items written by the engine (stores, arithmetic, moves).", stats.sets),
        ("evictions", "Live items evicted to make room.", stats.evicted_items),
        ("evicted_segments", "Segments freed by eviction.", stats.evicted_segments),
        (
            "evictions_inline",
            "Writes that found no free segment and freed one themselves (background eviction fell behind).",
            stats.inline_evictions,
        ),
        ("merged_segments", "Segments compacted by merge eviction.", stats.merged_segments),
        ("merge_kept_items", "Items a merge kept (read since written).", stats.merge_kept_items),
        ("index_evictions", "Live items dropped because both index buckets were full.", stats.index_evictions),
        ("expired_items", "Expired items removed.", stats.expired_items),
        ("expired_segments", "Segments reclaimed as all expired or flushed.", stats.expired_segments),
        ("flushed_items", "Items removed after flush_all.", stats.flushed_items),
        ("write_retries", "Writes that started over after racing another writer on their buckets.", stats.write_retries),
    ];
    let gauges = [
        ("curr_items", "Live items.", stats.items),
        (
            "bytes",
            "Bytes of live items, headers included.",
            stats.bytes_used,
        ),
        ("bytes_free", "Free bytes in segments.", stats.bytes_free),
        (
            "segments_free",
            "Segments in the free pool.",
            stats.segments_free,
        ),
        (
            "segments_used",
            "Segments holding items.",
            stats.segments_used,
        ),
        (
            "segments_reserve_target",
            "Free segments background eviction keeps ready, from the recent write rate.",
            stats.segments_reserve_target,
        ),
        (
            "segment_size_bytes",
            "Size of one segment.",
            stats.segment_size_bytes,
        ),
        ("index_bytes", "Bytes of the hash index.", stats.index_bytes),
        (
            "limit_maxbytes",
            "Memory budget (-m) in bytes.",
            stats.limit_bytes,
        ),
        (
            "reserved_bytes",
            "Bytes reserved for segments, index, bookkeeping.",
            stats.reserved_bytes,
        ),
    ];
    out.extend(
        counters
            .into_iter()
            .map(|(name, help, value)| figure(name, C, help, value)),
    );
    out.extend(
        gauges
            .into_iter()
            .map(|(name, help, value)| figure(name, G, help, value)),
    );
}

/// Prometheus histogram bucket bounds, in seconds.
pub const LATENCY_BUCKETS_SECS: &[f64] = &[
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
    5e-2, 0.1, 0.25, 0.5, 1.0,
];

/// A command's service-time distribution, ready to print.
#[derive(Clone, Debug)]
pub struct Latency {
    /// Command kind.
    pub kind: CommandKind,
    /// Samples.
    pub count: u64,
    /// Approximate sum of samples in seconds (mean × count).
    pub sum_secs: f64,
    /// Cumulative counts at each of [`LATENCY_BUCKETS_SECS`].
    pub buckets: Vec<u64>,
    /// (quantile, nanoseconds) for p50, p90, p99, p99.9, p99.99 and max.
    pub quantiles_ns: Vec<(f64, u64)>,
}

/// Service-time distributions of every command kind.
pub fn latencies(shared: &SharedState) -> Vec<Latency> {
    CommandKind::ALL
        .iter()
        .map(|&kind| {
            let histogram = shared.metrics.service_time_ns(kind);
            let count = histogram.len();
            let buckets = LATENCY_BUCKETS_SECS
                .iter()
                .map(|&secs| histogram.count_between(0, (secs * 1e9) as u64))
                .collect();
            let quantiles_ns = [0.5, 0.9, 0.99, 0.999, 0.9999, 1.0]
                .iter()
                .map(|&q| {
                    (
                        q,
                        if count == 0 {
                            0
                        } else {
                            histogram.value_at_quantile(q)
                        },
                    )
                })
                .collect();
            let sum_secs = histogram.mean() * count as f64 / 1e9;
            Latency {
                kind,
                count,
                sum_secs,
                buckets,
                quantiles_ns,
            }
        })
        .collect()
}
