//! Flags and configuration of the built binary: bad values exit 64 naming
//! the flag before anything is bound; help, version, print-config.

mod support;

use support::run;

/// sysexits EX_USAGE.
const EXIT_USAGE: i32 = 64;

fn assert_usage_error(args: &[&str], names: &str) {
    let output = run(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(EXIT_USAGE), "{args:?}: {stderr}");
    assert!(
        stderr.contains(names),
        "{args:?}: stderr does not name {names}: {stderr}"
    );
    assert!(output.stdout.is_empty(), "{args:?} printed to stdout");
}

#[test]
fn bad_values_exit_64_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["-m", "lots"], "--memory-limit"),
        (&["-m", "0"], "--memory-limit"),
        (&["-I", "12"], "--max-item-size"),
        (&["-I", "2g"], "--max-item-size"),
        (&["-t", "0"], "--threads"),
        (&["-c", "0"], "--conn-limit"),
        (&["-p", "70000"], "--port"),
        (&["-a", "999"], "--unix-mask"),
        (&["--eviction", "lru"], "--eviction"),
        (&["--segment-size", "1m", "-I", "2m"], "--segment-size"),
        (&["--expected-item-size", "0"], "--expected-item-size"),
        (&["-D", "ab"], "-D"),
        (&["-D", " "], "-D"),
        (&["--expected-item-size", "2m"], "--expected-item-size"),
        (&["-o", "idle_timeout=soon"], "idle_timeout"),
        (&["-o", "no_such_option"], "no_such_option"),
        (&["-o", "proxy_config=/etc/proxy.lua"], "proxy_config"),
        (&["-S"], "--enable-sasl"),
        (&["-Z"], "--tls-cert"),
        (&["-Z", "-o", "ssl_min_version=9"], "ssl_min_version"),
        (&["-Y", "/etc/memcached.auth"], "--auth-file"),
        (&["--aclfile", "/nonexistent/users.acl"], "--aclfile"),
        (&["--http-token", "short"], "--http-token"),
        (&["--auth-timeout", "0"], "--auth-timeout"),
        (&["-B", "udp"], "--protocol"),
        (&["-R", "0"], "--max-reqs-per-event"),
        (&["--admin-addr", "not an address"], "--admin-addr"),
        (&["-l", "300.1.1.1"], "--listen"),
        (&["--bogus-flag"], "--bogus-flag"),
        (&["--config", "/nonexistent/tailcache.toml"], "--config"),
    ];
    for (args, names) in cases {
        assert_usage_error(args, names);
    }
}

#[test]
fn bad_value_is_reported_before_binding() {
    // The port is taken; a bind attempt would fail with 71, not 64.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    assert_usage_error(&["-p", &port, "-m", "bad"], "--memory-limit");
    let output = run(&["-p", &port, "--admin-addr", "off"]);
    assert_eq!(
        output.status.code(),
        Some(71),
        "busy port should be EX_OSERR"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains(&port));
}

#[test]
fn help_and_version_exit_0() {
    let help = run(&["-h"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--port",
        "--listen",
        "--memory-limit",
        "--conn-limit",
        "--max-item-size",
        "--config",
    ] {
        assert!(text.contains(flag), "help lacks {flag}");
    }
    let version = run(&["-V"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn print_config_round_trips_and_flags_override_the_file() {
    let printed = run(&[
        "--print-config",
        "-m",
        "128",
        "-I",
        "2m",
        "-c",
        "77",
        "-M",
        "-o",
        "idle_timeout=9",
    ]);
    assert_eq!(printed.status.code(), Some(0));
    let text = String::from_utf8(printed.stdout).unwrap();
    for line in [
        "memory_limit_mib = 128",
        "max_item_size_bytes = 2097152",
        "conn_limit = 77",
        "eviction = \"none\"",
        "idle_timeout_secs = 9",
        "segment_size_bytes = 2097152",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line} in:\n{text}"
        );
    }
    let dir = std::env::temp_dir().join(format!("tailcache-server-flags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, &text).unwrap();
    let path = path.to_str().unwrap();
    let again = run(&["--config", path, "--print-config"]);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), text);
    let overridden = run(&["--config", path, "--print-config", "-c", "5"]);
    let overridden = String::from_utf8(overridden.stdout).unwrap();
    assert!(overridden.lines().any(|l| l == "conn_limit = 5"));
    assert!(overridden.lines().any(|l| l == "memory_limit_mib = 128"));
    std::fs::write(dir.join("bad.toml"), "memory_limit_mib = \"lots\"\n").unwrap();
    assert_usage_error(
        &["--config", dir.join("bad.toml").to_str().unwrap()],
        "memory_limit_mib",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn default_config_is_memcached_like() {
    let printed = run(&["--print-config"]);
    let text = String::from_utf8(printed.stdout).unwrap();
    for line in [
        "port = 11211",
        "listen = [\"127.0.0.1\"]",
        "memory_limit_mib = 64",
        "admin_addr = \"off\"",
        "flush_enabled = true",
        "conn_limit = 1024",
        "max_item_size_bytes = 1048576",
        "expected_item_size_bytes = 64",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line} in:\n{text}"
        );
    }
}

#[test]
fn check_config_validates_a_file_without_starting() {
    let dir = std::env::temp_dir().join(format!("tc-check-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(&good, "port = 11311\nmemory_limit_mib = 128\n").unwrap();
    let output = run(&["--check-config", good.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("configuration is valid"), "{stdout}");

    let unknown = dir.join("unknown.toml");
    std::fs::write(&unknown, "prot = 11311\n").unwrap();
    assert_usage_error(&["--check-config", unknown.to_str().unwrap()], "prot");
    // What only a start would meet: certificates are read and parsed.
    let tls = dir.join("tls.toml");
    std::fs::write(
        &tls,
        "[tls]\ncert = \"/no/such/cert.pem\"\nkey = \"/no/such/key.pem\"\nport = 0\n",
    )
    .unwrap();
    let output = run(&["--check-config", tls.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(EXIT_USAGE), "{stderr}");
    assert!(stderr.contains("--tls-cert"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn expected_item_size_shows_in_stats_tailcache() {
    let server = support::Tailcache::start(&["--expected-item-size", "2k"]);
    let mut stream = support::connect(server.memcache);
    let settings = support::exchange(&mut stream, b"stats tailcache\r\n", b"END\r\n");
    let settings = String::from_utf8_lossy(&settings);
    assert!(
        settings.contains("STAT expected_item_size 2048\r\n"),
        "{settings}"
    );
}
