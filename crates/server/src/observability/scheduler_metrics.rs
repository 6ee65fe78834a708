//! `/metrics` for the data runtime itself: each background group's runtime,
//! wait, steps, queue and quota violations, the scheduling delay and turn
//! duration histograms, and the stall detector's counts.

use std::fmt::Write;

use tailcache_runtime::{HistogramSnapshot, TaskGroup};

use crate::context::RuntimeFigures;
use crate::observability::prometheus::{render_histogram, PREFIX};

/// Histogram bounds, in seconds: from a microsecond (a turn with one small
/// request) to the stall threshold and beyond.
const TURN_BUCKETS_SECS: &[f64] = &[
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
    1e-1,
];

/// Appends the runtime's figures to a `/metrics` page.
pub fn render(figures: &RuntimeFigures, out: &mut String) {
    render_groups(figures, out);
    histogram(
        out,
        "scheduling_delay_seconds",
        "From a connection's readiness (or its requeue after a spent budget) to its turn.",
        &figures.scheduler.scheduling_delay(),
    );
    histogram(
        out,
        "worker_turn_seconds",
        "One worker turn: serving ready connections and background steps between two polls.",
        &figures.scheduler.turn_duration(),
    );
    let watchdog = &figures.watchdog;
    single(
        out,
        "background_deferred_total",
        "counter",
        "Turns whose background work waited because connections had requests waiting.",
        figures.scheduler.background_deferred() as f64,
    );
    single(
        out,
        "stalls_total",
        "counter",
        "Times a worker reached no scheduling point for the stall threshold.",
        watchdog.stalls_total() as f64,
    );
    single(
        out,
        "stall_backtraces_total",
        "counter",
        "Backtraces captured of stalled workers (rate-limited).",
        watchdog.backtraces_total() as f64,
    );
    single(
        out,
        "stall_longest_seconds",
        "gauge",
        "The longest stall seen so far.",
        watchdog.longest_stall_ns() as f64 / 1e9,
    );
}

fn render_groups(figures: &RuntimeFigures, out: &mut String) {
    type Pick = fn(&tailcache_runtime::GroupStatsSnapshot) -> f64;
    let series: [(&str, &str, &str, Pick); 5] = [
        (
            "scheduler_group_runtime_seconds_total",
            "counter",
            "Time a background group's steps ran.",
            |g| g.runtime_ns as f64 / 1e9,
        ),
        (
            "scheduler_group_wait_seconds_total",
            "counter",
            "Time a background group had work waiting while something else ran.",
            |g| g.wait_ns as f64 / 1e9,
        ),
        (
            "scheduler_group_tasks_total",
            "counter",
            "Steps a background group ran.",
            |g| g.tasks_run as f64,
        ),
        (
            "scheduler_group_queue_length",
            "gauge",
            "Jobs waiting in a background group now.",
            |g| g.queue_length as f64,
        ),
        (
            "scheduler_group_quota_violations_total",
            "counter",
            "Steps of a background group that ran past the task quota.",
            |g| g.quota_violations as f64,
        ),
    ];
    for (name, kind, help, pick) in series {
        let name = format!("{PREFIX}{name}");
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for group in TaskGroup::ALL {
            let value = pick(&figures.scheduler.group(group));
            let _ = writeln!(out, "{name}{{group=\"{}\"}} {value}", group.name());
        }
    }
}

fn single(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    let name = format!("{PREFIX}{name}");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

fn histogram(out: &mut String, name: &str, help: &str, snapshot: &HistogramSnapshot) {
    let sum_secs = snapshot.sum_ns as f64 / 1e9;
    render_histogram(
        out,
        name,
        help,
        &snapshot.buckets,
        sum_secs,
        TURN_BUCKETS_SECS,
    );
}
