//! `/metrics`: Prometheus text exposition format 0.0.4.

use std::fmt::Write;

use crate::context::SharedState;
use crate::report::{figures, latencies, Kind, LATENCY_BUCKETS_SECS};

/// Every metric name starts with this.
pub const PREFIX: &str = "tailcache_";

/// The whole `/metrics` page.
pub fn render(shared: &SharedState) -> String {
    let mut out = String::with_capacity(16 * 1024);
    for figure in figures(shared) {
        let (suffix, kind) = match figure.kind {
            Kind::Counter => ("_total", "counter"),
            Kind::Gauge => ("", "gauge"),
        };
        let name = format!("{PREFIX}{}{suffix}", figure.name);
        let _ = writeln!(out, "# HELP {name} {}", figure.help);
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {}", figure.value);
    }
    render_latency(shared, &mut out);
    render_auth_failures(shared, &mut out);
    render_lock_holds(shared, &mut out);
    if let Some(figures) = shared.runtime_figures() {
        crate::scheduler_metrics::render(figures, &mut out);
    }
    out
}

/// Failed authentication attempts per protocol, one family with a label.
fn render_auth_failures(shared: &SharedState, out: &mut String) {
    use crate::metrics::Counter;
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
        .sum();
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
