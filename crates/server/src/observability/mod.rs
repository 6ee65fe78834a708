//! Seeing what the server does: counters and histograms, the admin endpoint
//! (Prometheus, JSON stats, the status page), reports, per-prefix stats and `watch`.

pub mod admin;
pub mod log_watchers;
pub mod metrics;
pub mod prefix_stats;
pub mod prometheus;
pub mod report;
pub mod scheduler_metrics;
pub mod stats_json;
pub mod status_page;
