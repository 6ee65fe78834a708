//! Logging: quiet by default (nothing per request), -v and -vv add more.

mod support;

use std::io::{BufRead, BufReader, Write};

use support::Tailcache;

/// Runs a server with `args`, does requests, stops it; returns its stderr.
fn log_of(args: &[&str], name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("tailcache-server-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let mut server = Tailcache::start_logged(args, &path);
    let mut client = server.connect("memcache");
    for _ in 0..100 {
        client.write_all(b"version\r\n").unwrap();
        let mut line = String::new();
        BufReader::new(&client).read_line(&mut line).unwrap();
    }
    drop(client);
    let (status, _) = server.signal_and_wait("TERM");
    assert_eq!(status.code(), Some(0));
    let log = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    log
}

#[test]
fn default_level_logs_nothing_for_requests() {
    let log = log_of(&[], "quiet.log");
    assert!(log.is_empty(), "default level logged:\n{log}");
}

#[test]
fn verbose_flags_raise_the_level() {
    let info = log_of(&["-v"], "info.log");
    assert!(
        info.contains("INFO") && info.contains("listening"),
        "{info}"
    );
    assert!(info.contains("stopping"), "{info}");
    assert!(!info.contains("DEBUG"), "-v should stop at info:\n{info}");
    let lines = info.lines().count();
    assert!(lines < 20, "-v logged {lines} lines for 100 requests");
    let debug = log_of(&["-vv"], "debug.log");
    assert!(
        debug.contains("DEBUG") && debug.contains("connection accepted"),
        "{debug}"
    );
}
