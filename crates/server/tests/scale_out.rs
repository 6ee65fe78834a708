//! Scale-out as users run it: three tailcache instances behind twemproxy
//! (Debian's `nutcracker`, a memcache and a redis ketama pool with
//! auto_eject_hosts), and pymemcache's HashClient over the same three. Every key
//! reads back, each instance holds 20-45% of them, and clients keep working when
//! one instance is stopped. The checks are in tests/e2e/scale_out_clients.py.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{require_tool, spawn_listening, start_tailcache};

/// Longest the client script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn twemproxy_and_hashclient_spread_keys_and_survive_a_lost_instance() {
    let nutcracker = require_tool("nutcracker");
    let python = require_tool("python3");
    let mut instances: Vec<_> = (0..3).map(|_| start_tailcache(&[])).collect();
    let dir = std::env::temp_dir().join(format!("tc-scale-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool = |name: &str, listen: u16, redis: bool, servers: Vec<SocketAddr>| {
        // Named servers: ketama hashes the names, so the ring, and each instance's
        // share of the test's keys, do not change with the ports picked.
        let servers: String = servers
            .iter()
            .enumerate()
            .map(|(n, addr)| format!("    - {addr}:1 tailcache{n}\n"))
            .collect();
        format!(
            "{name}:\n  listen: 127.0.0.1:{listen}\n  hash: fnv1a_64\n  distribution: ketama\n  \
             redis: {redis}\n  auto_eject_hosts: true\n  server_failure_limit: 1\n  \
             server_retry_timeout: 30000\n  timeout: 2000\n  servers:\n{servers}"
        )
    };
    let conf_path = dir.join("nutcracker.yml");
    let memcache_servers: Vec<SocketAddr> = instances.iter().map(|t| t.memcache).collect();
    let resp_servers: Vec<SocketAddr> = instances.iter().map(|t| t.resp).collect();
    // Ports: the memcache pool, the redis pool, and the stats port.
    let (mut proxy, proxy_ports) = spawn_listening("nutcracker", 3, |ports| {
        let conf = pool("memcache", ports[0], false, memcache_servers.clone())
            + &pool("redis", ports[1], true, resp_servers.clone());
        std::fs::write(&conf_path, conf).unwrap();
        let mut command = Command::new(&nutcracker);
        command
            .arg("-c")
            .arg(&conf_path)
            .args(["-s", &ports[2].to_string(), "-a", "127.0.0.1"])
            .arg("-o")
            .arg(dir.join("nutcracker.log"))
            .arg("-p")
            .arg(dir.join("nutcracker.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        command
    });
    let (proxy_mc, proxy_redis) = (proxy_ports[0], proxy_ports[1]);
    let loopback = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));

    let stop_file = dir.join("stopped");
    let memcache_list: Vec<String> = instances.iter().map(|t| t.memcache.to_string()).collect();
    let script = format!(
        "{}/tests/e2e/scale_out_clients.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut child = Command::new(&python)
        .arg(&script)
        .arg(loopback(proxy_mc).to_string())
        .arg(loopback(proxy_redis).to_string())
        .arg(memcache_list.join(","))
        .arg(&stop_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run the client script");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let started = Instant::now();
    for line in stdout.lines() {
        let line = line.unwrap();
        eprintln!("scale_out_clients.py: {line}");
        if line == "STOP" {
            let third = instances.pop().unwrap();
            drop(third); // kills the instance
            std::fs::write(&stop_file, b"").unwrap();
        }
        assert!(started.elapsed() < SCRIPT_TIMEOUT, "client script too slow");
    }
    let status = child.wait().unwrap();
    assert_eq!(
        instances.len(),
        2,
        "the script never asked to stop an instance"
    );
    assert!(status.success(), "client script failed: {status:?}");
    assert!(proxy.is_running(), "nutcracker exited");
    drop(proxy);
    std::fs::remove_dir_all(&dir).unwrap();
}
