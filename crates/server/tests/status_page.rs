//! The admin status page (`/`) in a real browser: headless Chromium loads it
//! while a load runs, lets its timers poll `/stats`, and the numbers it shows
//! are checked against `/stats` read just before and just after. A screenshot
//! is left at `<target>/status-page.png` for people to look at.

mod support;

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use serde_json::Value;
use support::{http_get, Tailcache};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Longest a Chromium run may take before it is killed and the test fails.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);
/// Virtual time the page runs for: about five polls of one second.
const PAGE_RUN_MS: u32 = 5_000;
/// Keys the load cycles through (all fit: no eviction moves `curr_items` down).
const LOAD_KEYS: u32 = 500;

/// Chromium in its own process group, killed as a whole when dropped.
struct Browser {
    child: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Runs Chromium headless on `url` with `args`; its stdout. Panics (after
/// killing its process group) if it runs past [`CHROMIUM_TIMEOUT`].
fn chromium(url: &str, args: &[String]) -> String {
    let profile = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status-page-chromium");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless=new",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--virtual-time-budget={PAGE_RUN_MS}"),
        ])
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn chromium");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let _browser = Browser { child };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    rx.recv_timeout(CHROMIUM_TIMEOUT)
        .unwrap_or_else(|_| panic!("chromium did not finish within {CHROMIUM_TIMEOUT:?}"))
}

/// The `data-value` of the element with `id` in dumped DOM `html`.
fn shown(html: &str, id: &str) -> f64 {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let tag = &html[start..start + html[start..].find('>').expect("tag end")];
    let value = tag
        .split_once("data-value=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .unwrap_or_else(|| panic!("#{id} shows no value yet: {tag}"))
        .0;
    value
        .parse()
        .unwrap_or_else(|_| panic!("#{id} value {value:?}"))
}

fn stats(server: &Tailcache) -> Value {
    let (status, body) = http_get(server.addr("admin"), "/stats");
    assert!(status.contains(" 200 "), "{status}");
    serde_json::from_str(&body).expect("/stats JSON")
}

/// Sets and gets over one memcache connection until `stop`.
fn load(server: &Tailcache, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    let mut stream = server.connect("memcache");
    std::thread::spawn(move || {
        let mut rounds = 0u64;
        let mut reply = [0u8; 4096];
        while !stop.load(Ordering::Relaxed) {
            let key = rounds % u64::from(LOAD_KEYS);
            let request = format!("set k{key} 0 0 5\r\nhello\r\nget k{key}\r\n");
            stream.write_all(request.as_bytes()).expect("send");
            let mut got = Vec::new();
            while !got.ends_with(b"END\r\n") {
                let n = stream.read(&mut reply).expect("reply within the timeout");
                assert!(n > 0, "server closed the connection");
                got.extend_from_slice(&reply[..n]);
            }
            rounds += 1;
        }
        rounds
    })
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

#[test]
fn status_page_shows_live_figures_in_a_real_browser() {
    if !std::path::Path::new(CHROMIUM).is_file() {
        eprintln!("\n\n*** SKIPPED: chromium not installed ({CHROMIUM}); the status page was not tested in a browser ***\n\n");
        return;
    }
    let server = Tailcache::start(&[]);
    let url = format!("http://{}/", server.addr("admin"));
    let stop = Arc::new(AtomicBool::new(false));
    let loader = load(&server, stop.clone());
    // Let the load reach items and a rate before the page looks.
    std::thread::sleep(Duration::from_millis(500));

    let before = stats(&server);
    let dom = chromium(&url, &["--dump-dom".to_owned()]);
    let after = stats(&server);

    let updates: u32 = dom
        .split_once("data-updates=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no update counter in the page:\n{dom}"));
    assert!(updates >= 2, "the page updated {updates} times:\n{dom}");

    // Counters only grow: what the page showed lies between the two reads.
    for (id, name) in [("requests-total", "requests"), ("items", "curr_items")] {
        let (low, high) = (
            before["stats"][name].as_f64().unwrap(),
            after["stats"][name].as_f64().unwrap(),
        );
        let value = shown(&dom, id);
        assert!(
            low <= value && value <= high,
            "#{id} {value} not in {low}..={high}"
        );
        assert!(value > 0.0, "#{id} {value}");
    }
    assert!(shown(&dom, "request-rate") > 0.0, "the load runs");
    let (p50, p99, p999) = (shown(&dom, "p50"), shown(&dom, "p99"), shown(&dom, "p999"));
    assert!(0.0 < p50 && p50 <= p99 && p99 <= p999, "{p50} {p99} {p999}");
    let hit_ratio = shown(&dom, "hit-ratio");
    assert!(hit_ratio > 0.5, "gets follow their sets: {hit_ratio}");
    let segments = &after["segments"];
    assert!(shown(&dom, "segments-free") <= before["segments"]["free"].as_f64().unwrap());
    assert!(shown(&dom, "segments-live") >= 1.0, "{segments}");
    assert_eq!(shown(&dom, "stalls-total"), 0.0);

    let screenshot = target_dir().join("status-page.png");
    let _ = std::fs::remove_file(&screenshot);
    chromium(
        &url,
        &[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1280,900".to_owned(),
        ],
    );
    stop.store(true, Ordering::Relaxed);
    let rounds = loader.join().expect("the load ran without error");
    let size = std::fs::metadata(&screenshot).map_or(0, |m| m.len());
    assert!(
        size > 10_000,
        "screenshot {} is {size} bytes",
        screenshot.display()
    );
    eprintln!(
        "status page: {updates} updates, {rounds} load rounds; screenshot at {}",
        screenshot.display()
    );
}
