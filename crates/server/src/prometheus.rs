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
    render_lock_holds(shared, &mut out);
    if let Some(figures) = shared.runtime_figures() {
        crate::scheduler_metrics::render(figures, &mut out);
    }
    out
}

/// Bounds of the lock-hold histogram, in seconds: finer than the command one, since
/// holds are meant to stay well under 20 microseconds.
const LOCK_HOLD_BUCKETS_SECS: &[f64] = &[
    1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3, 1e-2,
];

/// The engine's bucket-lock holds (every hold by a writer or a background job).
fn render_lock_holds(shared: &SharedState, out: &mut String) {
    let holds = shared.engine.lock_holds();
    let name = format!("{PREFIX}storage_lock_hold_seconds");
    let _ = writeln!(
        out,
        "# HELP {name} How long writers and background jobs hold an index bucket lock."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    for &bound in LOCK_HOLD_BUCKETS_SECS {
        let bound_ns = (bound * 1e9) as u64;
        let count: u64 = holds
            .buckets
            .iter()
            .filter(|&&(upper_ns, _)| upper_ns <= bound_ns)
            .map(|&(_, count)| count)
            .sum();
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", holds.count());
    let sum_secs: f64 = holds
        .buckets
        .iter()
        .map(|&(upper_ns, count)| upper_ns as f64 * count as f64 / 1e9)
        .sum();
    let _ = writeln!(out, "{name}_sum {sum_secs}");
    let _ = writeln!(out, "{name}_count {}", holds.count());
    let max = format!("{PREFIX}storage_lock_hold_max_seconds");
    let _ = writeln!(
        out,
        "# HELP {max} The longest index bucket lock hold so far."
    );
    let _ = writeln!(out, "# TYPE {max} gauge");
    let _ = writeln!(out, "{max} {}", holds.max_ns as f64 / 1e9);
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
