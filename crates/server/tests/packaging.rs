//! The shipped systemd unit and example configuration: the unit passes
//! `systemd-analyze verify` with no warning (where systemd-analyze exists), and the
//! example configuration passes `--check-config`.

mod support;

use std::path::PathBuf;
use std::process::Command;
use support::run;

fn packaging_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../packaging")
        .join(name)
}

#[test]
fn the_systemd_unit_verifies_without_a_warning() {
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("SKIPPED: systemd-analyze is not installed; the unit was not verified");
        return;
    };
    assert!(probe.status.success());
    let unit = std::fs::read_to_string(packaging_file("tailcache.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/tailcache --config /etc/tailcache/tailcache.toml")
    );
    // Verify checks that the binary exists and the user resolves: point both at
    // what this machine has.
    let unit = unit
        .replace("/usr/local/bin/tailcache", env!("CARGO_BIN_EXE_tailcache"))
        .replace("User=tailcache", "User=root")
        .replace("Group=tailcache", "Group=root");
    let dir = std::env::temp_dir().join(format!("tc-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tailcache.service");
    std::fs::write(&path, unit).unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // Unknown keys are only warnings: none may be printed.
    assert!(stderr.trim().is_empty(), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_example_configuration_checks_clean() {
    let path = packaging_file("tailcache.toml");
    let output = run(&["--check-config", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
}
