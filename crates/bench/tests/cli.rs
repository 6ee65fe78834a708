//! The binary end to end: report files are written, bad targets are refused.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tailcache-bench");

#[test]
fn echo_run_writes_every_report_file() {
    let dir = std::env::temp_dir().join(format!("tailcache-bench-cli-{}", std::process::id()));
    let out = Command::new(BIN)
        .args([
            "--echo-server",
            "--rate",
            "2k",
            "-d",
            "500ms",
            "--warmup",
            "0s",
            "-q",
            "--title",
            "floor",
            "-o",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("p99.99") && stdout.contains("echo"),
        "{stdout}"
    );
    for f in [
        "report.html",
        "report.md",
        "report.json",
        "summary.txt",
        "floor-percentiles.svg",
        "echo.hgrm",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["runs"][0]["counters"]["completed"], 1000);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_refused_target_stops_a_comparison_with_a_clear_error() {
    let out = Command::new(BIN)
        .args([
            "--echo-server",
            "--target",
            "127.0.0.1:1",
            "--rounds",
            "2",
            "-d",
            "200ms",
            "--warmup",
            "0s",
            "-q",
        ])
        .output()
        .unwrap();
    // Port 1 refuses: the comparison stops with a clear error instead of inventing figures.
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("connection refused by 127.0.0.1:1"));
}

#[test]
fn non_loopback_targets_are_refused() {
    let out = Command::new(BIN)
        .args(["--target", "10.1.2.3:11211", "-d", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only loopback"));
}
