//! Cluster mode against real servers: our ring places keys where twemproxy
//! (nutcracker, `distribution: ketama`, `hash: md5`) does, a cluster run stores and
//! reads each key on its server, and clusters compare with targets. memcached and
//! nutcracker must be installed (scripts/test.sh installs them); a missing one fails.

mod support;

use serde_json::Value;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use support::{loopback, require_tool, spawn_listening, start_memcached, Client, Process};
use tailcache_bench::cluster::{Cluster, Router};

const BIN: &str = env!("CARGO_BIN_EXE_tailcache-bench");

fn memcacheds(n: usize) -> (Vec<Process>, Vec<SocketAddr>) {
    (0..n).map(|_| start_memcached()).unzip()
}

/// `HOST:PORT:WEIGHT,...` of `addrs` with `weights`.
fn spec(addrs: &[SocketAddr], weights: &[u32]) -> String {
    let servers: Vec<String> = addrs
        .iter()
        .zip(weights)
        .map(|(a, w)| format!("{a}:{w}"))
        .collect();
    servers.join(",")
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tailcache-bench-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn bench(args: &[&str], out: &std::path::Path) -> (Output, Value) {
    let output = Command::new(BIN)
        .args(args)
        .args(["-q", "--warmup", "0s", "-o"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json = std::fs::read_to_string(out.join("report.json")).unwrap();
    (output, serde_json::from_str(&json).unwrap())
}

#[test]
fn nutcracker_places_keys_where_our_ring_does() {
    let nutcracker = require_tool("nutcracker");
    let (_servers, addrs) = memcacheds(3);
    let dir = temp_dir("nutcracker");
    let conf_path = dir.join("nutcracker.yml");
    // Unnamed servers: twemproxy then hashes "HOST:PORT-N", as libmemcached does (a
    // named server would hash its name instead; the bench has no names).
    let pool = |name: &str, listen: u16, weights: [u32; 3]| {
        let servers: String = addrs
            .iter()
            .zip(weights)
            .map(|(a, w)| format!("    - {a}:{w}\n"))
            .collect();
        format!(
            "{name}:\n  listen: 127.0.0.1:{listen}\n  hash: md5\n  distribution: ketama\n  \
             timeout: 2000\n  servers:\n{servers}"
        )
    };
    let pools = [("equal", [1, 1, 1]), ("weighted", [1, 2, 3])];
    // Ports: one per pool, then the stats port.
    let (_proxy, ports) = spawn_listening("nutcracker", 3, |ports| {
        let conf = pool(pools[0].0, ports[0], pools[0].1) + &pool(pools[1].0, ports[1], pools[1].1);
        std::fs::write(&conf_path, conf).unwrap();
        let mut command = Command::new(&nutcracker);
        command
            .arg("-c")
            .arg(&conf_path)
            .args(["-s", &ports[2].to_string(), "-a", "127.0.0.1", "-o"])
            .arg(dir.join("nutcracker.log"))
            .arg("-p")
            .arg(dir.join("nutcracker.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        command
    });
    for (i, (name, weights)) in pools.iter().enumerate() {
        let prefix = format!("{name}:");
        let keys: Vec<String> = (0..1500).map(|k| format!("{prefix}{k}")).collect();
        Client::connect(loopback(ports[i])).set_all(&keys);
        let cluster = Cluster::parse(&spec(&addrs, weights)).unwrap();
        let router = Router::new(Some(&cluster));
        for (server, addr) in addrs.iter().enumerate() {
            let held = Client::connect(*addr).held(&keys);
            let ours: Vec<String> = (0..keys.len() as u64)
                .filter(|&k| router.server_of(prefix.as_bytes(), k) == server)
                .map(|k| format!("{prefix}{k}"))
                .collect();
            // Every server holds keys, so the comparison below is not vacuous. The
            // bound is a quarter of the server's weighted share: ketama's split varies
            // with the (random) ports hashed, and a weight-1 server of 6 was seen
            // holding 147 of an expected 250.
            let share =
                keys.len() * weights[server] as usize / weights.iter().sum::<u32>() as usize;
            assert!(
                ours.len() > share / 4,
                "{name}: server {server} holds {} of an expected {share}",
                ours.len()
            );
            assert_eq!(held, ours, "{name}: keys on server {server} ({addr})");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_cluster_run_sends_each_key_to_its_server() {
    let (_servers, addrs) = memcacheds(3);
    let cluster = spec(&addrs, &[1, 1, 1]);
    let dir = temp_dir("cluster-run");
    let keys = 3000u64;
    let (output, json) = bench(
        &[
            "--cluster",
            &cluster,
            "--label",
            "memcached-x3",
            "--prefill",
            "--keys",
            &keys.to_string(),
            "--mix",
            "get=1",
            "--rate",
            "4k",
            "-d",
            "1s",
            "-c",
            "2",
        ],
        &dir,
    );
    let run = &json["runs"][0];
    assert_eq!(run["summary"]["errors"], 0, "{run}");
    let servers = run["servers"].as_array().expect("per-server figures");
    assert_eq!(servers.len(), 3);
    let router = Router::new(Some(&Cluster::parse(&cluster).unwrap()));
    let mut completed = 0;
    for (i, s) in servers.iter().enumerate() {
        let items = Client::connect(addrs[i]).stat("curr_items");
        let ours = (0..keys)
            .filter(|&k| router.server_of(b"key:", k) == i)
            .count() as u64;
        assert_eq!(items, ours, "server {i}: keys stored");
        assert_eq!(s["prefilled_keys"], items, "server {i}: {s}");
        // Every get found its key, so every get went to the server that holds it.
        assert_eq!(s["misses"], 0, "server {i}: {s}");
        assert_eq!(s["hits"], s["completed"], "server {i}: {s}");
        // Uniform keys: the share of requests follows the share of keys (4000
        // requests: one standard deviation is under 0.01).
        let share = s["share"].as_f64().unwrap();
        let key_share = items as f64 / keys as f64;
        assert!(
            (share - key_share).abs() < 0.05,
            "server {i}: {share} vs {key_share}"
        );
        completed += s["completed"].as_u64().unwrap();
    }
    assert_eq!(run["counters"]["completed"], completed);
    assert!(completed >= 3900, "{completed}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for a in &addrs {
        assert!(stdout.contains(&a.to_string()), "{stdout}");
    }
    assert!(
        stdout.contains("memcached-x3") && stdout.contains("all"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn clusters_and_targets_compare_in_command_line_order() {
    let (_servers, addrs) = memcacheds(3);
    let dir = temp_dir("cluster-compare");
    let pair = spec(&addrs[..2], &[1, 1]);
    let weighted = spec(&addrs[1..], &[1, 2]);
    let solo = addrs[2].to_string();
    let (output, json) = bench(
        &[
            "--cluster",
            &pair,
            "--label",
            "pair",
            "--target",
            &solo,
            "--label",
            "solo",
            "--cluster",
            &weighted,
            "--label",
            "weighted",
            "--mix",
            "get=9,set=1",
            "--rate",
            "1k",
            "-d",
            "300ms",
        ],
        &dir,
    );
    let labels: Vec<&str> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["pair", "solo", "weighted"]);
    let runs = &json["runs"];
    assert_eq!(runs[0][0]["servers"].as_array().unwrap().len(), 2);
    assert!(runs[1][0].get("servers").is_none(), "{}", runs[1][0]);
    assert_eq!(runs[2][0]["servers"][1]["weight"], 2);
    for r in runs.as_array().unwrap() {
        assert_eq!(r[0]["summary"]["errors"], 0, "{}", r[0]);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Servers of pair") && stdout.contains("Servers of weighted"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_dead_server_costs_only_its_own_requests() {
    let (mut servers, addrs) = memcacheds(3);
    let cluster = spec(&addrs, &[1, 1, 1]);
    let dir = temp_dir("cluster-dead");
    let (keys, rate_per_s, duration_s) = (3000u64, 3000.0, 2.0);
    let mut child = Command::new(BIN)
        .args([
            "--cluster",
            &cluster,
            "--keys",
            &keys.to_string(),
            "--mix",
            "get=1",
        ])
        .args(["--rate", "3k", "-d", "2s", "--warmup", "0s", "-q", "-o"])
        .arg(&dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(600));
    drop(servers.remove(1)); // kills the second server mid-run
    assert!(child.wait().unwrap().success());
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let s = &json["runs"][0]["servers"];
    assert!(s[1]["errors"].as_u64().unwrap() > 0, "{}", s[1]);
    let router = Router::new(Some(&Cluster::parse(&cluster).unwrap()));
    for i in [0, 2] {
        assert_eq!(s[i]["errors"], 0, "{}", s[i]);
        // The others keep their full rate: requests for the dead server queue on its
        // connection, then are dropped, instead of stopping the lane.
        let key_share = (0..keys)
            .filter(|&k| router.server_of(b"key:", k) == i)
            .count() as f64
            / keys as f64;
        let expected = rate_per_s * duration_s * key_share;
        let completed = s[i]["completed"].as_f64().unwrap();
        assert!(
            completed > 0.85 * expected,
            "server {i}: {completed} of {expected}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn refused(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_clusters_are_refused_before_any_load() {
    assert!(refused(&["--cluster", "127.0.0.1:1,10.1.2.3:11211"]).contains("only loopback"));
    assert!(refused(&[
        "--cluster",
        "127.0.0.1:1,127.0.0.1:2",
        "--mix",
        "multiget=1"
    ])
    .contains("multiget"));
    assert!(refused(&["--cluster", "127.0.0.1:1,127.0.0.1:1"]).contains("twice"));
    assert!(
        refused(&["--cluster", "127.0.0.1:1", "--label", "a", "--label", "b"])
            .contains("more --label")
    );
}
