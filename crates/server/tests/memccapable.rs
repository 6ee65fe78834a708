//! libmemcached's own conformance checker, `memccapable`, run against
//! tailcache: every test it knows, of the ASCII protocol (`-a`) and of the
//! binary one (`-b`), must pass, as they do against memcached 1.6. A
//! client-side tool written by others catches what our own differential
//! scripts did not think to send.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{require_tool, start_tailcache};

#[test]
fn memccapable_ascii_suite_passes() {
    run_memccapable("-a");
}

#[test]
fn memccapable_binary_suite_passes() {
    run_memccapable("-b");
}

fn run_memccapable(protocol_flag: &str) {
    let memccapable = require_tool("memccapable");
    let server = start_tailcache(&[]);
    let mut child = Command::new(memccapable)
        .args(["-h", "127.0.0.1", "-p"])
        .arg(server.memcache.port().to_string())
        .args([protocol_flag, "-t", "5"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start memccapable");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("poll memccapable").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("memccapable did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("memccapable output");
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && report.contains("All tests passed"),
        "memccapable {protocol_flag} failed against tailcache:\n{report}"
    );
}
