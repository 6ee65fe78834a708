//! Real Python clients (pymemcache with its serializers and retrying client,
//! python-memcached, redis-py over RESP2 and RESP3) against the built binary.
//! The scripts live in tests/e2e/; python3 and both modules are required:
//! the tests fail, never skip, when they are missing.

mod support;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{require_tool, start_memcached, start_redis, start_tailcache};

/// Longest a client script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

fn run_script(script: &str, module: &str, addr: SocketAddr) {
    let python = require_tool("python3");
    let probe = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .expect("run python3");
    assert!(
        probe.status.success(),
        "python module `{module}` is required (pip install {module}): {}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let path = format!("{}/tests/e2e/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(&python)
        .args([
            path.as_str(),
            &addr.ip().to_string(),
            &addr.port().to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    while child.try_wait().expect("wait python3").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{script} ran over {SCRIPT_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("python3 output");
    assert!(
        output.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs a memcache client script against real memcached, to prove the
/// script's expectations are memcached's, then against tailcache.
fn run_memcache_script(script: &str, module: &str, flags: &[&str]) {
    let (_memcached, memcached) = start_memcached(flags);
    run_script(script, module, memcached);
    let server = start_tailcache(flags);
    run_script(script, module, server.memcache);
}

#[test]
fn pymemcache_runs_every_classic_command() {
    run_memcache_script(
        "pymemcache_client.py",
        "pymemcache",
        &["-m", "64", "-t", "2"],
    );
}

#[test]
fn pymemcache_serializers_and_retrying_client_work() {
    // The idle timeout makes the server close a connection the client
    // still holds, which the retrying client must get over.
    run_memcache_script(
        "pymemcache_serde_retry.py",
        "pymemcache",
        &["-m", "64", "-o", "idle_timeout=1"],
    );
}

#[test]
fn python_memcached_runs_every_classic_command() {
    run_memcache_script("python_memcached_client.py", "memcache", &["-m", "64"]);
}

#[test]
fn redis_py_runs_the_resp_commands() {
    // RESP2 and RESP3; the script's expectations are redis-server's own.
    let (_redis, redis) = start_redis(&[]);
    run_script("redis_py_client.py", "redis", redis);
    let server = start_tailcache(&["-m", "64"]);
    run_script("redis_py_client.py", "redis", server.resp);
}
