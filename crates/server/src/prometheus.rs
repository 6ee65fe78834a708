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
    out
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
