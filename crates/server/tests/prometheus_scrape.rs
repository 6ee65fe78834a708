//! A real Prometheus scrapes tailcache's `/metrics`: every family it parses has the
//! type the page declares and follows the naming conventions, a known load shows up
//! in `increase()`, and every query of docs/grafana-dashboard.json names only metrics
//! tailcache exposes and returns data.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::{http_get, require_tool, spawn_listening, Process, Tailcache};

/// Set/get pairs the load sends: one pair every [`LOAD_PERIOD`], about 7.5 s in all.
const LOAD_PAIRS: u64 = 300;
const LOAD_PERIOD: Duration = Duration::from_millis(25);
/// Longest wait for Prometheus to start, scrape, or see a value.
const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(40);
/// How far `increase()` may stray from the exact count. Evaluated at the last sample
/// it is exact; this covers a scrape missed at either end on a slow machine (one
/// interval of extrapolation in a window of a dozen).
const INCREASE_TOLERANCE: f64 = 0.15;
/// memcached_exporter's count of sets, from the recording rules in docs/metrics.md.
const EXPORTER_SETS: &str = "memcached_commands_total{command=\"set\",status=\"hit\"}";
/// Panels the dashboard must have.
const DASHBOARD_PANELS: &[&str] = &[
    "Throughput",
    "Hit ratio",
    "Latency P99 / P99.9",
    "Memory by segment state",
    "Evictions",
    "Stalls",
];

/// A Prometheus started by a test, in its own temporary directory; stopped and its
/// data removed on drop.
struct Prometheus {
    process: Option<Process>,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` every second and evaluating `rules` (a
    /// rule file's text); waits until it is ready.
    fn start(target: SocketAddr, rules: &str) -> Prometheus {
        let binary = require_tool("prometheus");
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("tailcache-prom-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(dir.join("data")).expect("temp dir");
        std::fs::write(dir.join("rules.yml"), rules).expect("write rules.yml");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files: ['{}']\n\
             scrape_configs:\n  - job_name: tailcache\n    static_configs:\n      - targets: ['{target}']\n",
            dir.join("rules.yml").display()
        );
        std::fs::write(dir.join("prometheus.yml"), config).expect("write prometheus.yml");
        let mut prometheus = Prometheus {
            process: None,
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let log_path = prometheus.dir.join("prometheus.log");
        let dir = prometheus.dir.clone();
        let (process, ports) = spawn_listening("prometheus", 1, |ports| {
            let log = std::fs::File::create(&log_path).expect("log file");
            let mut command = Command::new(&binary);
            command
                .arg(format!(
                    "--config.file={}",
                    dir.join("prometheus.yml").display()
                ))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{}", ports[0]))
                .arg("--storage.tsdb.retention.time=1h")
                .arg("--log.level=warn")
                .stdout(Stdio::null())
                .stderr(Stdio::from(log));
            command
        });
        prometheus.process = Some(process);
        prometheus.addr = SocketAddr::from(([127, 0, 0, 1], ports[0]));
        prometheus.wait_for("ready", |p| p.get("/-/ready").is_some());
        prometheus
    }

    /// Polls `done` until it holds; panics with Prometheus's log after the timeout.
    fn wait_for(&self, what: &str, mut done: impl FnMut(&Prometheus) -> bool) {
        let deadline = Instant::now() + PROMETHEUS_TIMEOUT;
        while Instant::now() < deadline {
            if done(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
        panic!("prometheus: not {what} within {PROMETHEUS_TIMEOUT:?}; its log:\n{log}");
    }

    /// The body of a 200 reply to `GET path`, or `None`.
    fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        // HTTP/1.0: the reply ends at close, never chunked.
        write!(stream, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.0 200")
            .then(|| body.to_owned())
            .or_else(|| head.starts_with("HTTP/1.1 200").then(|| body.to_owned()))
    }

    /// An API call's `data`, after checking its status is success.
    fn api(&self, path: &str) -> Value {
        let body = self
            .get(path)
            .unwrap_or_else(|| panic!("prometheus {path}: no 200 reply"));
        let doc: Value = serde_json::from_str(&body).expect("prometheus json");
        assert_eq!(doc["status"], "success", "{path}: {body}");
        doc["data"].clone()
    }

    /// The result vector of an instant query, at `at` (unix seconds) or now.
    fn query(&self, promql: &str, at: Option<f64>) -> Vec<Value> {
        let mut path = format!("/api/v1/query?query={}", url_encode(promql));
        if let Some(at) = at {
            path.push_str(&format!("&time={at:.3}"));
        }
        let data = self.api(&path);
        data["result"].as_array().cloned().unwrap_or_default()
    }

    /// The single value of an instant query, if it has exactly one series.
    fn scalar(&self, promql: &str, at: Option<f64>) -> Option<f64> {
        match self.query(promql, at).as_slice() {
            [one] => one["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.signal("TERM");
            // Killed on drop if it has not stopped by then.
            process.wait_exit(Duration::from_secs(10));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn unix_now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Family name → type, from the `# TYPE` lines of a live `/metrics` page.
fn declared_types(page: &str) -> BTreeMap<String, String> {
    page.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .map(|(name, kind)| (name.to_owned(), kind.to_owned()))
        .collect()
}

/// Sends `set`/`get` pairs on a fixed schedule; returns how many requests it sent.
fn send_load(addr: SocketAddr) -> u64 {
    let mut stream = support::connect(addr);
    let started = Instant::now();
    for i in 0..LOAD_PAIRS {
        let due = started + LOAD_PERIOD * i as u32;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let set = format!("set load:{i} 0 0 5\r\nvalue\r\n");
        let reply = support::exchange(&mut stream, set.as_bytes(), b"\r\n");
        assert_eq!(reply, b"STORED\r\n");
        let get = format!("get load:{i}\r\n");
        let reply = support::exchange(&mut stream, get.as_bytes(), b"END\r\n");
        assert!(reply.starts_with(b"VALUE "), "{reply:?}");
    }
    LOAD_PAIRS * 2
}

fn read_doc(name: &str) -> String {
    let path = format!("{}/../../docs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn dashboard() -> Value {
    serde_json::from_str(&read_doc("grafana-dashboard.json")).expect("dashboard is json")
}

/// The rule file docs/metrics.md gives under "### Recording rules".
fn recording_rules() -> String {
    let doc = read_doc("metrics.md");
    let section = &doc[doc.find("### Recording rules").expect("rules section")..];
    let start = section.find("```yaml\n").expect("yaml block") + "```yaml\n".len();
    let end = section[start..].find("```").expect("end of yaml block");
    section[start..start + end].to_owned()
}

/// (panel title, every query expression of it), rows' nested panels included.
fn dashboard_panels(dashboard: &Value) -> Vec<(String, Vec<String>)> {
    fn walk(panels: &Value, out: &mut Vec<(String, Vec<String>)>) {
        for panel in panels.as_array().into_iter().flatten() {
            let exprs: Vec<String> = panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["expr"].as_str().map(str::to_owned))
                .collect();
            if panel["type"] != "row" {
                out.push((panel["title"].as_str().unwrap_or("").to_owned(), exprs));
            }
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// Every `tailcache_...` metric name an expression uses.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("tailcache_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// Checks the dashboard's panels and that its queries name only families of `page`;
/// returns every query with Grafana's variables filled in for a plain Prometheus.
fn checked_dashboard_queries(page: &str) -> Vec<String> {
    let types = declared_types(page);
    let panels = dashboard_panels(&dashboard());
    let titles: Vec<&str> = panels.iter().map(|(t, _)| t.as_str()).collect();
    for wanted in DASHBOARD_PANELS {
        assert!(
            titles.contains(wanted),
            "dashboard lacks panel {wanted:?}: {titles:?}"
        );
    }
    let mut queries = Vec::new();
    for (title, exprs) in &panels {
        assert!(!exprs.is_empty(), "panel {title:?} has no query");
        for expr in exprs {
            let names = metric_names(expr);
            assert!(
                !names.is_empty(),
                "{title:?}: {expr} uses no tailcache metric"
            );
            for name in names {
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .filter(|base| types.get(*base).map(String::as_str) == Some("histogram"))
                    .unwrap_or(&name);
                assert!(
                    types.contains_key(family),
                    "{title:?}: {name} is not on /metrics"
                );
            }
            queries.push(
                expr.replace("$__rate_interval", "1m")
                    .replace("$instance", ".+")
                    .replace("$job", ".+"),
            );
        }
    }
    queries
}

#[test]
fn dashboard_queries_use_only_exposed_metrics() {
    let server = Tailcache::start(&[]);
    let (_, page) = http_get(server.addr("admin"), "/metrics");
    let queries = checked_dashboard_queries(&page);
    assert!(queries.len() >= DASHBOARD_PANELS.len());
    let doc = read_doc("metrics.md");
    for family in declared_types(&page).keys() {
        assert!(
            doc.contains(&format!("`{family}`")),
            "docs/metrics.md lacks {family}"
        );
    }
}

#[test]
fn prometheus_scrapes_tailcache() {
    let server = Tailcache::start(&[]);
    let admin = server.addr("admin");
    let prometheus = Prometheus::start(admin, &recording_rules());
    prometheus.wait_for("scraping", |p| {
        p.scalar("up{job=\"tailcache\"}", None) == Some(1.0)
    });
    prometheus.wait_for("holding a sample", |p| {
        p.scalar("tailcache_requests_total", None) == Some(0.0)
            && p.scalar(EXPORTER_SETS, None) == Some(0.0)
    });
    let load_started = unix_now_secs();
    let memcache = server.addr("memcache");
    let sent = std::thread::spawn(move || send_load(memcache))
        .join()
        .expect("load thread");
    prometheus.wait_for("seeing the whole load", |p| {
        p.scalar("tailcache_requests_total", None) == Some(sent as f64)
            && p.scalar(EXPORTER_SETS, None) == Some(LOAD_PAIRS as f64)
    });
    // Evaluated at the series' last sample, from a few zero samples before the load:
    // Prometheus extrapolates neither end (a counter's first sample is 0, the last
    // is the window's end), so the increase is the exact count.
    let expect_increase = |promql: &str, exact: u64| {
        let last = format!("max(timestamp({promql}))");
        let at = prometheus.scalar(&last, None).expect(&last);
        let window_secs = (at - load_started).ceil() as u64 + 3;
        let query = format!("sum(increase({promql}[{window_secs}s]))");
        let got = prometheus.scalar(&query, Some(at)).expect(&query);
        let exact = exact as f64;
        assert!(
            (got - exact).abs() <= exact * INCREASE_TOLERANCE,
            "{query} = {got}, sent {exact}"
        );
    };
    expect_increase("tailcache_requests_total", sent);
    expect_increase(
        "tailcache_commands_total{command=\"get\",status=\"hit\"}",
        LOAD_PAIRS,
    );
    expect_increase("tailcache_cmd_set_total", LOAD_PAIRS);
    expect_increase(
        "tailcache_command_duration_seconds_count{command=\"set\"}",
        LOAD_PAIRS,
    );
    // The recording rules of docs/metrics.md give memcached_exporter's names.
    expect_increase(
        "memcached_commands_total{command=\"get\",status=\"hit\"}",
        LOAD_PAIRS,
    );
    expect_increase(EXPORTER_SETS, LOAD_PAIRS);
    assert_eq!(
        prometheus.scalar("memcached_current_items", None),
        Some(LOAD_PAIRS as f64)
    );
    let flushes = "memcached_commands_total{command=\"flush\",status=\"hit\"}";
    assert_eq!(prometheus.scalar(flushes, None), Some(0.0));

    let (_, page) = http_get(admin, "/metrics");
    check_types_as_scraped(&prometheus, &page);
    for query in checked_dashboard_queries(&page) {
        let result = prometheus.query(&query, None);
        assert!(
            !result.is_empty(),
            "dashboard query returned nothing: {query}"
        );
    }
    drop(prometheus);
}

/// Prometheus's metadata for the target agrees with the page's types, every family
/// follows the conventions, and each histogram has its three series.
fn check_types_as_scraped(prometheus: &Prometheus, page: &str) {
    let metadata =
        prometheus.api("/api/v1/targets/metadata?match_target=%7Bjob%3D%22tailcache%22%7D");
    let scraped: BTreeMap<String, String> = metadata
        .as_array()
        .expect("metadata list")
        .iter()
        .map(|m| {
            let name = m["metric"].as_str().unwrap_or("").to_owned();
            (name, m["type"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    let declared = declared_types(page);
    for (name, kind) in &declared {
        assert_eq!(scraped.get(name), Some(kind), "{name}: scraped type");
        match kind.as_str() {
            "counter" => assert!(name.ends_with("_total"), "counter {name}"),
            "gauge" => assert!(!name.ends_with("_total"), "gauge {name}"),
            "histogram" => {
                assert!(name.ends_with("_seconds"), "histogram {name} unit");
                let query =
                    format!("group by (__name__) ({{__name__=~\"{name}_(bucket|sum|count)\"}})");
                assert_eq!(prometheus.query(&query, None).len(), 3, "{query}");
            }
            other => panic!("{name}: unexpected type {other}"),
        }
        for unit in [
            "_milliseconds",
            "_microseconds",
            "_nanoseconds",
            "_kib",
            "_mib",
            "maxbytes",
        ] {
            assert!(!name.contains(unit), "{name}: not in base units");
        }
    }
    for (name, kind) in [
        ("tailcache_commands_total", "counter"),
        ("tailcache_current_items", "gauge"),
        ("tailcache_current_connections", "gauge"),
        ("tailcache_segment_memory_bytes", "gauge"),
        ("tailcache_limit_bytes", "gauge"),
        ("tailcache_command_duration_seconds", "histogram"),
        ("tailcache_stalls_total", "counter"),
    ] {
        assert_eq!(declared.get(name).map(String::as_str), Some(kind), "{name}");
    }
}
