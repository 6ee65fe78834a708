//! SIGTERM/SIGINT stop the server gracefully: replies to requests already
//! sent are flushed, then the process exits 0 quickly.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use support::{read_all, Tailcache};

/// The bound the issue asks for, with room for a loaded test machine.
const STOP_WITHIN: Duration = Duration::from_secs(5);

fn pipelined_requests_survive(signal: &str) {
    let mut server = Tailcache::start(&[]);
    let mut idle = server.connect("memcache");
    let mut client = server.connect("memcache");
    // Both are accepted by the server (a reply came back) before the stop.
    for stream in [&mut idle, &mut client] {
        stream.write_all(b"version\r\n").unwrap();
        let mut line = String::new();
        BufReader::new(&*stream).read_line(&mut line).unwrap();
    }
    let requests = 500;
    client.write_all(&b"version\r\n".repeat(requests)).unwrap();
    let (status, took) = server.signal_and_wait(signal);
    assert_eq!(status.code(), Some(0), "exit status after SIG{signal}");
    assert!(took < STOP_WITHIN, "stop took {took:?}");
    let replies = read_all(&mut client);
    let lines = replies
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(
        lines, requests,
        "every request sent before the signal is answered"
    );
    assert!(
        read_all(&mut idle).is_empty(),
        "idle connection closed without data"
    );
}

#[test]
fn sigterm_flushes_and_exits_0() {
    pipelined_requests_survive("TERM");
}

#[test]
fn sigint_flushes_and_exits_0() {
    pipelined_requests_survive("INT");
}

#[test]
fn unix_socket_has_its_mode_and_is_removed_at_exit() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("tailcache-server-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tc.sock");
    let path_text = path.to_str().unwrap();
    let mut server = Tailcache::start(&["-s", path_text, "-a", "600"]);
    assert!(server
        .listening
        .iter()
        .any(|(w, a)| w == "memcache" && a.contains("tc.sock")));
    assert!(
        !server
            .listening
            .iter()
            .any(|(w, a)| w == "memcache" && !a.starts_with("unix:")),
        "-s turns off memcache TCP, as in memcached"
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut client = std::os::unix::net::UnixStream::connect(&path).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client.write_all(b"version\r\n").unwrap();
    let mut line = String::new();
    BufReader::new(&client).read_line(&mut line).unwrap();
    assert!(
        line.ends_with("\r\n"),
        "reply over the unix socket: {line:?}"
    );
    let (status, _) = server.signal_and_wait("TERM");
    assert_eq!(status.code(), Some(0));
    assert!(!path.exists(), "socket file left behind");
    std::fs::remove_dir_all(&dir).unwrap();
}
