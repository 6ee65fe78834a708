//! `/stats`: the same figures as `/metrics`, as one JSON object.

use serde_json::{json, Map, Value};

use crate::context::SharedState;
use crate::report::{figures, latencies};

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
    let doc = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "started_unix_secs": shared.started_unix_secs(),
        "stats": figures_map,
        "service_time": latency_map,
    });
    let mut text = doc.to_string();
    text.push('\n');
    text
}
