//! Bearer tokens on the HTTP data API and the admin endpoint, checked with
//! curl and raw requests; failed attempts of every protocol are counted in
//! `tailcache_auth_failures_total{protocol=...}` on /metrics and memcached's
//! `auth_errors`; a non-loopback listener without authentication warns.

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::Command;

use support::{connect, exchange, require_tool, start_tailcache};

const DATA_TOKEN: &str = "data-token-0123456789";
const ADMIN_TOKEN: &str = "admin-token-9876543210";

/// Sends one raw request and reads the reply until the server closes.
fn raw(addr: SocketAddr, request: &str) -> String {
    let mut stream = connect(addr);
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

/// curl's status code and body for `url`, with `token` as bearer if given.
fn curl(url: &str, token: Option<&str>) -> (String, String) {
    let curl = require_tool("curl");
    let mut command = Command::new(curl);
    command.args(["-s", "-w", "\n%{http_code}", url]);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let output = command.output().expect("run curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.to_owned(), body.to_owned())
}

fn token_file(name: &str, token: &str) -> String {
    let path = std::env::temp_dir().join(format!("tailcache-{name}-{}", std::process::id()));
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn data_api_and_admin_need_their_own_tokens() {
    let admin_file = token_file("admin-token", ADMIN_TOKEN);
    let server = start_tailcache(&[
        "--http-token",
        DATA_TOKEN,
        "--admin-token-file",
        &admin_file,
    ]);
    let key_url = format!("http://{}/keys/k", server.http);
    let metrics_url = format!("http://{}/metrics", server.admin);
    // Without a token, with the wrong one, or with the other endpoint's: 401.
    for token in [None, Some("wrong-token-123"), Some(ADMIN_TOKEN)] {
        assert_eq!(curl(&key_url, token).0, "401", "{token:?}");
    }
    for token in [None, Some(DATA_TOKEN)] {
        assert_eq!(curl(&metrics_url, token).0, "401", "{token:?}");
    }
    assert_eq!(curl(&key_url, Some(DATA_TOKEN)).0, "404");
    // /health stays open for probes.
    let health = format!("http://{}/health", server.admin);
    assert_eq!(curl(&health, None).0, "200");
    let reply = raw(
        server.http,
        "GET /keys/k HTTP/1.1\r\nHost: t\r\n\r\nGET /keys/k HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    // One 401 with the challenge, then the connection closes.
    assert!(
        reply.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{reply}"
    );
    assert!(
        reply.contains("\r\nWWW-Authenticate: Bearer\r\n"),
        "{reply}"
    );
    assert_eq!(reply.matches("HTTP/1.1").count(), 1, "{reply}");
    // Five refusals on the data port (three curl, one raw), two on admin.
    let (code, metrics) = curl(&metrics_url, Some(ADMIN_TOKEN));
    assert_eq!(code, "200");
    assert!(
        metrics.contains("tailcache_auth_failures_total{protocol=\"http\"} 4\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tailcache_auth_failures_total{protocol=\"admin\"} 2\n"),
        "{metrics}"
    );
}

#[test]
fn failures_of_each_protocol_are_counted() {
    let auth_file = token_file("authfile-metrics", "user:pass");
    let server = start_tailcache(&["-Y", &auth_file, "--requirepass", "secretpw"]);
    let mut memcache = connect(server.memcache);
    let reply = exchange(&mut memcache, b"set a 0 0 10\r\nuser wrong\r\n", b"\r\n");
    assert_eq!(reply, b"CLIENT_ERROR authentication failure\r\n");
    let reply = exchange(&mut memcache, b"set a 0 0 9\r\nuser pass\r\n", b"\r\n");
    assert_eq!(reply, b"STORED\r\n");
    let stats = exchange(&mut memcache, b"stats\r\n", b"END\r\n");
    let stats = String::from_utf8_lossy(&stats);
    assert!(stats.contains("STAT auth_cmds 2\r\n"), "{stats}");
    assert!(stats.contains("STAT auth_errors 1\r\n"), "{stats}");
    let mut resp = connect(server.resp);
    for _ in 0..3 {
        let reply = exchange(&mut resp, b"AUTH nope\r\n", b"\r\n");
        assert!(reply.starts_with(b"-WRONGPASS"));
    }
    let (_, metrics) = curl(&format!("http://{}/metrics", server.admin), None);
    for (protocol, count) in [("memcache", 1), ("resp", 3), ("http", 0), ("admin", 0)] {
        let line = format!("tailcache_auth_failures_total{{protocol=\"{protocol}\"}} {count}\n");
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
    // The password never reaches /metrics or the process's output.
    assert!(!metrics.contains("secretpw"));
}

#[test]
fn open_non_loopback_listener_warns_once() {
    let binary = env!("CARGO_BIN_EXE_tailcache");
    let warning = "non-loopback address with no authentication";
    // --print-config does not serve, so it does not warn; the check runs at
    // start, so a short-lived server tells: -l 0.0.0.0 with -p 0.
    let run = |extra: &[&str]| {
        let mut child = Command::new(binary)
            .args(["-l", "0.0.0.0", "-p", "-1", "--admin-addr", "off"])
            .args(extra)
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let open = run(&[]);
    assert_eq!(open.matches(warning).count(), 1, "{open}");
    let auth_file = token_file("authfile-warn", "user:pass");
    assert!(!run(&["-Y", &auth_file]).contains(warning));
}
