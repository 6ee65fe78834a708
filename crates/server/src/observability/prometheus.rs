//! `/metrics`: Prometheus text exposition format 0.0.4.
//!
//! Names follow Prometheus's conventions (base units, `_total` on counters, labels
//! for dimensions); `stats` and `/stats` keep memcached's names. [`exposed`] maps
//! one to the other; docs/metrics.md lists every family.

use std::fmt::Write;

use tailcache_storage::Stats;

use crate::context::SharedState;
use crate::observability::report::{figures, latencies, Kind, LATENCY_BUCKETS_SECS};

/// Every metric name starts with this.
pub const PREFIX: &str = "tailcache_";

/// How a figure (named as in `stats`) appears on `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exposure {
    /// As `family` (without prefix), with `labels` (`""` or `key="value",...`).
    Series {
        family: &'static str,
        labels: &'static str,
    },
    /// Under its `stats` name, with `_total` added to a counter: already conventional.
    AsIs,
    /// Not on its own: another family already carries it.
    Omitted,
}

const fn series(family: &'static str, labels: &'static str) -> Option<Exposure> {
    Some(Exposure::Series { family, labels })
}

/// The `/metrics` name of the figure `stats_name`; `None` for a figure this table
/// does not know yet (rendered with the plain rule, and failed by a unit test).
fn exposed(stats_name: &'static str) -> Option<Exposure> {
    match stats_name {
        "curr_connections" => series("current_connections", ""),
        "rejected_connections" => series("connections_rejected_total", ""),
        "conn_yields" => series("connections_yielded_total", ""),
        "idle_closed_connections" => series("connections_closed_total", "reason=\"idle\""),
        "stalled_closed_connections" => series("connections_closed_total", "reason=\"stalled\""),
        "deadline_closed_connections" => series("connections_closed_total", "reason=\"deadline\""),
        "overflow_closed_connections" => series("connections_closed_total", "reason=\"overflow\""),
        "output_cap_closed_connections" => {
            series("connections_closed_total", "reason=\"output_cap\"")
        }
        "over_budget_closed_connections" => {
            series("connections_closed_total", "reason=\"over_budget\"")
        }
        "idle_reclaimed_connections" => {
            series("connections_closed_total", "reason=\"idle_reclaimed\"")
        }
        "get_hits" => series("commands_total", "command=\"get\",status=\"hit\""),
        "get_misses" => series("commands_total", "command=\"get\",status=\"miss\""),
        "touch_hits" => series("commands_total", "command=\"touch\",status=\"hit\""),
        "touch_misses" => series("commands_total", "command=\"touch\",status=\"miss\""),
        "delete_hits" => series("commands_total", "command=\"delete\",status=\"hit\""),
        "delete_misses" => series("commands_total", "command=\"delete\",status=\"miss\""),
        "incr_hits" => series("commands_total", "command=\"incr\",status=\"hit\""),
        "incr_misses" => series("commands_total", "command=\"incr\",status=\"miss\""),
        "decr_hits" => series("commands_total", "command=\"decr\",status=\"hit\""),
        "decr_misses" => series("commands_total", "command=\"decr\",status=\"miss\""),
        "cas_hits" => series("commands_total", "command=\"cas\",status=\"hit\""),
        "cas_misses" => series("commands_total", "command=\"cas\",status=\"miss\""),
        "cas_badval" => series("commands_total", "command=\"cas\",status=\"badval\""),
        "store_too_large" => series("stores_refused_total", "reason=\"too_large\""),
        "store_no_memory" => series("stores_refused_total", "reason=\"no_memory\""),
        "auth_cmds" => series("auth_attempts_total", "protocol=\"memcache\""),
        // In `auth_failures_total{protocol}`, with the admin endpoint's.
        "auth_errors" | "resp_auth_errors" | "http_auth_errors" => Some(Exposure::Omitted),
        "bytes_read" => series("read_bytes_total", ""),
        "bytes_written" => series("written_bytes_total", ""),
        "evictions" => series("items_evicted_total", ""),
        "curr_items" => series("current_items", ""),
        "bytes" => series("current_bytes", ""),
        "limit_maxbytes" => series("limit_bytes", ""),
        // In `segment_memory_bytes{state="unwritten"|"free"}`.
        "bytes_free" => Some(Exposure::Omitted),
        "segments_free" => series("segments", "state=\"free\""),
        "segments_used" => series("segments", "state=\"used\""),
        "uptime_seconds"
        | "threads"
        | "connection_buffer_bytes"
        | "segments_reserve_target"
        | "segment_size_bytes"
        | "index_bytes"
        | "reserved_bytes"
        | "tls_cert_age_seconds"
        | "connections"
        | "accept_fd_exhausted"
        | "service_panics"
        | "cmd_get"
        | "cmd_set"
        | "cmd_flush"
        | "cmd_touch"
        | "cmd_meta"
        | "get_expired"
        | "get_flushed"
        | "protocol_errors"
        | "requests"
        | "storage_sets"
        | "evicted_segments"
        | "evictions_inline"
        | "merged_segments"
        | "merge_kept_items"
        | "index_evictions"
        | "expired_items"
        | "expired_segments"
        | "flushed_items"
        | "write_retries"
        | "tls_handshakes"
        | "tls_handshake_errors"
        | "tls_cert_reload_failures" => Some(Exposure::AsIs),
        _ => None,
    }
}

/// Help of the families that gather several figures under labels (each figure's own
/// help describes one member only).
fn family_help(family: &str) -> Option<&'static str> {
    Some(match family {
        "connections_closed_total" => "Data connections the server closed, by reason.",
        "commands_total" => {
            "Keyed commands by outcome (memcached_exporter's command and status labels)."
        }
        "stores_refused_total" => "Writes refused, by reason.",
        "auth_attempts_total" => "Authentication attempts, by protocol.",
        "segments" => "Segments by state: in the free pool, or in use.",
        _ => return None,
    })
}

/// One family being rendered: its series in first-seen order.
struct Family {
    name: String,
    kind: &'static str,
    help: &'static str,
    series: Vec<(&'static str, String)>,
}

/// The whole `/metrics` page.
pub fn render(shared: &SharedState) -> String {
    let mut out = String::with_capacity(16 * 1024);
    for family in scalar_families(shared) {
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
        for (labels, value) in &family.series {
            if labels.is_empty() {
                let _ = writeln!(out, "{} {value}", family.name);
            } else {
                let _ = writeln!(out, "{}{{{labels}}} {value}", family.name);
            }
        }
    }
    render_segment_memory(&shared.engine.stats(), &mut out);
    render_latency(shared, &mut out);
    render_auth_failures(shared, &mut out);
    render_lock_holds(shared, &mut out);
    if let Some(figures) = shared.runtime_figures() {
        crate::observability::scheduler_metrics::render(figures, &mut out);
    }
    out
}

/// The report's figures under their Prometheus names, labelled ones gathered into
/// one family each.
fn scalar_families(shared: &SharedState) -> Vec<Family> {
    let mut families: Vec<Family> = Vec::new();
    for figure in figures(shared) {
        let kind = match figure.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let plain = || match figure.kind {
            Kind::Counter => format!("{PREFIX}{}_total", figure.name),
            Kind::Gauge => format!("{PREFIX}{}", figure.name),
        };
        let (name, labels) = match exposed(figure.name) {
            Some(Exposure::Omitted) => continue,
            Some(Exposure::Series { family, labels }) => (format!("{PREFIX}{family}"), labels),
            Some(Exposure::AsIs) | None => (plain(), ""),
        };
        let value = figure.value.to_string();
        if let Some(family) = families.iter_mut().find(|f| f.name == name) {
            family.series.push((labels, value));
            continue;
        }
        let help = family_help(&name[PREFIX.len()..]).unwrap_or(figure.help);
        families.push(Family {
            name,
            kind,
            help,
            series: vec![(labels, value)],
        });
    }
    families
}

/// Segment memory by what it holds; the four states add up to all segments.
fn segment_memory_bytes(stats: &Stats) -> [(&'static str, u64); 4] {
    let segment = stats.segment_size_bytes;
    let free = stats.segments_free.saturating_mul(segment);
    let in_use = stats.segments_used.saturating_mul(segment);
    // `bytes_free` counts free segments and the unwritten tails of segments in use.
    let unwritten = stats.bytes_free.saturating_sub(free).min(in_use);
    let live = stats.bytes_used.min(in_use - unwritten);
    let dead = in_use - unwritten - live;
    [
        ("live", live),
        ("dead", dead),
        ("unwritten", unwritten),
        ("free", free),
    ]
}

fn render_segment_memory(stats: &Stats, out: &mut String) {
    let name = format!("{PREFIX}segment_memory_bytes");
    let _ = writeln!(
        out,
        "# HELP {name} Segment memory by state: live items; dead items (deleted, replaced, \
         expired or flushed, not yet reclaimed); unwritten tails of segments in use; free segments."
    );
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (state, bytes) in segment_memory_bytes(stats) {
        let _ = writeln!(out, "{name}{{state=\"{state}\"}} {bytes}");
    }
}

/// Failed authentication attempts per protocol, one family with a label.
fn render_auth_failures(shared: &SharedState, out: &mut String) {
    use crate::observability::metrics::Counter;
    let totals = shared.totals();
    let name = format!("{PREFIX}auth_failures_total");
    let _ = writeln!(
        out,
        "# HELP {name} Authentication attempts refused (wrong or missing credentials)."
    );
    let _ = writeln!(out, "# TYPE {name} counter");
    let admin = shared
        .admin_auth_failures
        .load(std::sync::atomic::Ordering::Relaxed);
    for (protocol, value) in [
        ("memcache", totals.get(Counter::AuthErrors)),
        ("resp", totals.get(Counter::RespAuthErrors)),
        ("http", totals.get(Counter::HttpAuthErrors)),
        ("admin", admin),
    ] {
        let _ = writeln!(out, "{name}{{protocol=\"{protocol}\"}} {value}");
    }
}

/// Bounds of the lock-hold histogram, in seconds: finer than the command one, since
/// holds are meant to stay well under 20 microseconds.
const LOCK_HOLD_BUCKETS_SECS: &[f64] = &[
    1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3, 1e-2,
];

/// The engine's bucket-lock holds (every hold by a writer or a background job).
fn render_lock_holds(shared: &SharedState, out: &mut String) {
    let holds = shared.engine.lock_holds();
    let sum_secs: f64 = holds
        .buckets
        .iter()
        .map(|&(upper_ns, count)| upper_ns as f64 * count as f64 / 1e9)
        // From +0: an empty `sum()` of floats is -0, which the page would print as "-0".
        .fold(0.0, |total, secs| total + secs);
    render_histogram(
        out,
        "storage_lock_hold_seconds",
        "How long writers and background jobs hold an index bucket lock.",
        &holds.buckets,
        sum_secs,
        LOCK_HOLD_BUCKETS_SECS,
    );
    let max = format!("{PREFIX}storage_lock_hold_max_seconds");
    let _ = writeln!(
        out,
        "# HELP {max} The longest index bucket lock hold so far."
    );
    let _ = writeln!(out, "# TYPE {max} gauge");
    let _ = writeln!(out, "{max} {}", holds.max_ns as f64 / 1e9);
}

/// A histogram from power-of-two buckets (`(upper bound in ns, count)`): each
/// `le` bound counts the buckets whose upper bound is at most it, so a count is
/// never too high.
pub fn render_histogram(
    out: &mut String,
    name: &str,
    help: &str,
    buckets: &[(u64, u64)],
    sum_secs: f64,
    bounds_secs: &[f64],
) {
    let name = format!("{PREFIX}{name}");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    let below = |bound_ns: u64| -> u64 {
        buckets
            .iter()
            .filter(|&&(upper_ns, _)| upper_ns <= bound_ns)
            .map(|&(_, count)| count)
            .sum()
    };
    for &bound in bounds_secs {
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"{bound}\"}} {}",
            below((bound * 1e9) as u64)
        );
    }
    let count: u64 = buckets.iter().map(|&(_, count)| count).sum();
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum {sum_secs}");
    let _ = writeln!(out, "{name}_count {count}");
}

fn render_latency(shared: &SharedState, out: &mut String) {
    let name = format!("{PREFIX}command_duration_seconds");
    let _ = writeln!(
        out,
        "# HELP {name} Service time per command kind, from read to reply."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    for latency in latencies(shared) {
        let command = latency.kind.name();
        for (bound, count) in LATENCY_BUCKETS_SECS.iter().zip(&latency.buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{command=\"{command}\",le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{command=\"{command}\",le=\"+Inf\"}} {}",
            latency.count
        );
        let _ = writeln!(
            out,
            "{name}_sum{{command=\"{command}\"}} {}",
            latency.sum_secs
        );
        let _ = writeln!(
            out,
            "{name}_count{{command=\"{command}\"}} {}",
            latency.count
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::startup::config::Config;
    use crate::startup::engine::build_engine;
    use std::collections::HashSet;
    use std::sync::Arc;

    fn shared() -> SharedState {
        let config = Config {
            threads: 1,
            memory_limit_mib: 16,
            segment_size_bytes: 1 << 20,
            ..Config::default()
        };
        let engine = Arc::new(build_engine(&config).expect("test engine"));
        SharedState::new(engine, Arc::new(config), 1)
    }

    #[test]
    fn every_figure_has_a_prometheus_name() {
        let shared = shared();
        for figure in figures(&shared) {
            assert!(exposed(figure.name).is_some(), "{} unmapped", figure.name);
        }
    }

    #[test]
    fn families_are_typed_once_and_counters_end_in_total() {
        let page = render(&shared());
        let mut typed = HashSet::new();
        let mut series = HashSet::new();
        for line in page.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(typed.insert(name.to_owned()), "{name} typed twice");
                assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
                assert!(name.starts_with(PREFIX), "{line}");
            } else if !line.starts_with('#') {
                let (key, _) = line.rsplit_once(' ').unwrap();
                assert!(series.insert(key.to_owned()), "{key} twice");
            }
        }
        for family in ["commands_total", "connections_closed_total", "segments"] {
            assert!(typed.contains(&format!("{PREFIX}{family}")), "{family}");
        }
        assert!(page.contains("tailcache_commands_total{command=\"cas\",status=\"badval\"} 0\n"));
    }

    #[test]
    fn segment_memory_states_add_up_to_all_segments() {
        let stats = Stats {
            segment_size_bytes: 100,
            segments_free: 3,
            segments_used: 2,
            bytes_used: 120,
            bytes_free: 3 * 100 + 50,
            ..Stats::default()
        };
        let states = segment_memory_bytes(&stats);
        assert_eq!(
            states,
            [
                ("live", 120),
                ("dead", 30),
                ("unwritten", 50),
                ("free", 300)
            ]
        );
        // A snapshot taken while segments moved never shows more than there is.
        let torn = Stats {
            bytes_used: 1_000,
            ..stats
        };
        let total: u64 = segment_memory_bytes(&torn).iter().map(|s| s.1).sum();
        assert_eq!(total, 500);
    }
}
