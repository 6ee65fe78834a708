//! `/stats`: the same figures as `/metrics`, as one JSON object, plus what the
//! status page (`/`) draws from it every second: the time of the sample,
//! segments by state, every request's service time as cumulative buckets (the
//! page takes percentiles of the difference between two samples, so they
//! describe the last seconds rather than the whole uptime), and the data
//! runtime's background groups and stalls.

use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};
use tailcache_runtime::TaskGroup;
use tailcache_storage::Stats;

use crate::context::{RuntimeFigures, SharedState};
use crate::observability::metrics::CommandKind;
use crate::observability::report::{figures, latencies};

/// Service-time bucket bounds per factor of ten: each bucket is about 26%
/// wide, so a percentile read from two samples' difference is within that.
const SERVICE_TIME_BUCKETS_PER_DECADE: u32 = 10;
/// Smallest service-time bucket bound: nothing the server does is faster.
const SERVICE_TIME_FIRST_BOUND_NS: u64 = 1_000;
/// Decades the buckets span: 1 µs to 1 s; longer requests count only in `count`.
const SERVICE_TIME_DECADES: u32 = 6;

/// The `/stats` document.
pub fn render(shared: &SharedState) -> String {
    let mut figures_map = Map::new();
    for figure in figures(shared) {
        figures_map.insert(figure.name.to_owned(), Value::from(figure.value));
    }
    let mut latency_map = Map::new();
    for latency in latencies(shared) {
        let mut entry = Map::new();
        entry.insert("count".into(), Value::from(latency.count));
        for (q, ns) in &latency.quantiles_ns {
            let key = if *q >= 1.0 {
                "max_us".to_owned()
            } else {
                format!("p{}_us", q * 100.0)
            };
            entry.insert(key, Value::from(*ns as f64 / 1000.0));
        }
        latency_map.insert(latency.kind.name().to_owned(), Value::Object(entry));
    }
    let sampled_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let doc = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "started_unix_secs": shared.started_unix_secs(),
        "sampled_unix_ms": sampled_unix_ms,
        "stats": figures_map,
        "service_time": latency_map,
        "service_time_buckets": service_time_buckets(shared),
        "segments": segments(&shared.engine.stats()),
        "runtime": shared.runtime_figures().map_or(Value::Null, runtime),
    });
    let mut text = doc.to_string();
    text.push('\n');
    text
}

/// Segments by state, and their size: `live` holds servable items, `expired`
/// waits for the expiry job, `emptying` is being evicted, expired or merged.
fn segments(stats: &Stats) -> Value {
    let dead = stats.segments_expired + stats.segments_emptying;
    json!({
        "size_bytes": stats.segment_size_bytes,
        "free": stats.segments_free,
        "live": stats.segments_used.saturating_sub(dead),
        "expired": stats.segments_expired,
        "emptying": stats.segments_emptying,
    })
}

/// The bucket bounds, in nanoseconds: 10^(i/10) µs, 1 µs to 1 s.
fn service_time_bounds_ns() -> impl Iterator<Item = u64> {
    (0..=SERVICE_TIME_DECADES * SERVICE_TIME_BUCKETS_PER_DECADE).map(|step| {
        let decades = f64::from(step) / f64::from(SERVICE_TIME_BUCKETS_PER_DECADE);
        (SERVICE_TIME_FIRST_BOUND_NS as f64 * 10f64.powf(decades)).round() as u64
    })
}

/// Every request's service time since start (all command kinds together):
/// `counts[i]` requests took at most `le_us[i]`, `count` took any time.
fn service_time_buckets(shared: &SharedState) -> Value {
    let mut all: Option<Histogram<u64>> = None;
    for &kind in CommandKind::ALL {
        let histogram = shared.metrics.service_time_ns(kind);
        match all.as_mut() {
            None => all = Some(histogram),
            Some(sum) => sum.add(&histogram).expect("histograms share bounds"),
        }
    }
    let all = all.expect("there are command kinds");
    let mut le_us = Vec::new();
    let mut counts = Vec::new();
    for bound_ns in service_time_bounds_ns() {
        le_us.push(bound_ns as f64 / 1000.0);
        counts.push(if all.is_empty() {
            0
        } else {
            all.count_between(0, bound_ns)
        });
    }
    json!({ "count": all.len(), "le_us": le_us, "counts": counts })
}

/// The data runtime's background groups (cumulative), stall counts and the
/// stall going on now, if any.
fn runtime(figures: &RuntimeFigures) -> Value {
    let mut groups = Map::new();
    for group in TaskGroup::ALL {
        let stats = figures.scheduler.group(group);
        groups.insert(
            group.name().to_owned(),
            json!({
                "runtime_ns": stats.runtime_ns,
                "wait_ns": stats.wait_ns,
                "tasks_run": stats.tasks_run,
                "queue_length": stats.queue_length,
                "quota_violations": stats.quota_violations,
            }),
        );
    }
    let watchdog = &figures.watchdog;
    let (stalled_worker, stalled_ms) = watchdog
        .longest_ongoing_stall()
        .map_or((Value::Null, 0), |(worker, stalled_for)| {
            (Value::from(worker), stalled_for.as_millis() as u64)
        });
    json!({
        "groups": groups,
        "background_deferred": figures.scheduler.background_deferred(),
        "stalls_total": watchdog.stalls_total(),
        "stall_longest_ms": watchdog.longest_stall_ns() as f64 / 1e6,
        "stalled_worker": stalled_worker,
        "stalled_ms": stalled_ms,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::startup::config::Config;
    use crate::startup::engine::build_engine;

    fn shared() -> SharedState {
        let config = Config {
            threads: 2,
            memory_limit_mib: 16,
            segment_size_bytes: 1 << 20,
            ..Config::default()
        };
        let engine = Arc::new(build_engine(&config).expect("test engine"));
        SharedState::new(engine, Arc::new(config), 2)
    }

    #[test]
    fn bounds_run_from_a_microsecond_to_a_second() {
        let bounds: Vec<u64> = service_time_bounds_ns().collect();
        assert_eq!(bounds.first(), Some(&1_000));
        assert_eq!(bounds.last(), Some(&1_000_000_000));
        assert!(
            bounds.windows(2).all(|pair| pair[0] < pair[1]),
            "{bounds:?}"
        );
    }

    #[test]
    fn buckets_count_every_kind_cumulatively() {
        let shared = shared();
        let (first, second) = (shared.metrics.worker(0), shared.metrics.worker(1));
        first.record(CommandKind::Get, 3_000);
        second.record(CommandKind::Set, 3_000);
        first.record(CommandKind::Get, 200_000);
        second.record(CommandKind::Other, 5_000_000_000);
        let doc: Value = serde_json::from_str(&render(&shared)).expect("JSON");
        let buckets = &doc["service_time_buckets"];
        assert_eq!(buckets["count"], 4);
        let le_us: Vec<f64> = serde_json::from_value(buckets["le_us"].clone()).unwrap();
        let counts: Vec<u64> = serde_json::from_value(buckets["counts"].clone()).unwrap();
        let at = |us: f64| counts[le_us.iter().position(|&le| le == us).unwrap()];
        assert_eq!(at(1.0), 0);
        assert_eq!(at(10.0), 2, "{counts:?}");
        assert_eq!(at(1000.0), 3, "{counts:?}");
        assert_eq!(counts.last(), Some(&3), "5 s is past the last bound");
        assert!(counts.windows(2).all(|pair| pair[0] <= pair[1]));
    }

    #[test]
    fn segments_by_state_add_up_and_old_fields_stay() {
        let shared = shared();
        let doc: Value = serde_json::from_str(&render(&shared)).expect("JSON");
        let segments = &doc["segments"];
        let stats = shared.engine.stats();
        assert_eq!(segments["free"], stats.segments_free);
        assert_eq!(segments["live"], 0);
        assert_eq!(segments["size_bytes"], 1 << 20);
        assert!(doc["stats"]["curr_items"].is_u64(), "{doc}");
        assert!(doc["service_time"]["get"]["p99_us"].is_number(), "{doc}");
        assert!(doc["sampled_unix_ms"].as_u64().unwrap() > 1_600_000_000_000);
        assert_eq!(doc["runtime"], Value::Null, "no runtime before it starts");
    }
}
