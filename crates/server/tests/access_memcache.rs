//! memcached's ascii authentication (-Y): the same conversation with a real
//! memcached 1.6 and with tailcache gives the same bytes, and the bounds
//! tailcache adds (an auth timeout, a small auth data block) hold.

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use support::{connect, exchange, start_memcached, start_tailcache};

/// The auth file of memcached's t/ascii-auth.t, one per test (tests run
/// in parallel, and a file rewritten while a server reads it is half there).
fn auth_file(test: &str) -> PathBuf {
    let name = format!("tailcache-authfile-{}-{test}", std::process::id());
    let path = std::env::temp_dir().join(name);
    std::fs::write(&path, "foo:bar\nbaaaz:quux\n").unwrap();
    path
}

/// Requests and the replies they get, one line each; `stats` is reduced to
/// the two auth counters.
fn conversation(addr: SocketAddr) -> Vec<String> {
    let steps: &[&[u8]] = &[
        b"set foo 0 0 2\r\nhi\r\n",
        b"get foo\r\n",
        b"stats\r\n",
        b"set foo 0 0 7\r\nfoo bab\r\n",
        // A data block whose length is wrong leaves a stray line end behind, which
        // memcached (1.6.18) answers depending on how reads split: not compared.
        b"set foo 0 0 3\r\nfoo\r\n",
        b"set foo 0 0 7\r\nfoo bar\r\n",
        b"set toast 0 0 2\r\nhi\r\n",
        b"get toast\r\n",
    ];
    let mut stream = connect(addr);
    let mut replies = Vec::new();
    for &step in steps {
        let terminator: &[u8] = if step.starts_with(b"get toast") {
            b"END\r\n"
        } else {
            b"\r\n"
        };
        let reply = exchange(&mut stream, step, terminator);
        replies.push(String::from_utf8_lossy(&reply).into_owned());
    }
    let stats = exchange(&mut stream, b"stats\r\n", b"END\r\n");
    let stats = String::from_utf8_lossy(&stats);
    replies.extend(
        stats
            .lines()
            .filter(|line| line.starts_with("STAT auth_"))
            .map(str::to_owned),
    );
    replies
}

#[test]
fn ascii_auth_matches_memcached() {
    let path = auth_file("differential");
    let path_text = path.to_str().unwrap();
    let (_memcached, memcached_addr) = start_memcached(&["-Y", path_text]);
    let tailcache = start_tailcache(&["-Y", path_text]);
    let expected = conversation(memcached_addr);
    assert_eq!(conversation(tailcache.memcache), expected);
    // The memcached run is what the test pins; check it said what we think.
    assert_eq!(expected[1], "CLIENT_ERROR unauthenticated\r\n");
    assert_eq!(expected[3], "CLIENT_ERROR authentication failure\r\n");
    assert_eq!(expected[5], "STORED\r\n");
    assert!(
        expected.contains(&"STAT auth_errors 1".to_owned()),
        "{expected:?}"
    );
}

#[test]
fn second_user_authenticates_its_own_connection_only() {
    let path = auth_file("second_user");
    let tailcache = start_tailcache(&["-Y", path.to_str().unwrap()]);
    let mut first = connect(tailcache.memcache);
    let mut second = connect(tailcache.memcache);
    let reply = exchange(&mut second, b"set x 0 0 10\r\nbaaaz quux\r\n", b"\r\n");
    assert_eq!(reply, b"STORED\r\n");
    assert_eq!(
        exchange(&mut second, b"version\r\n", b"\r\n")[..8],
        *b"VERSION "
    );
    let reply = exchange(&mut first, b"version\r\n", b"\r\n");
    assert_eq!(reply, b"CLIENT_ERROR unauthenticated\r\n");
}

#[test]
fn unauthenticated_connection_meets_the_auth_timeout() {
    let path = auth_file("timeout");
    let tailcache = start_tailcache(&["-Y", path.to_str().unwrap(), "--auth-timeout", "1"]);
    let mut stream = connect(tailcache.memcache);
    // Well past the 1 s deadline: the worker may accept late on a loaded machine.
    std::thread::sleep(Duration::from_millis(2500));
    // Anything sent after the deadline closes the connection without a reply.
    stream.write_all(b"set foo 0 0 7\r\nfoo bar\r\n").unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    assert_eq!(reply, b"");
    // A connection that authenticated in time is not closed by it.
    let mut stream = connect(tailcache.memcache);
    assert_eq!(
        exchange(&mut stream, b"set foo 0 0 7\r\nfoo bar\r\n", b"\r\n"),
        b"STORED\r\n"
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        exchange(&mut stream, b"set k 0 0 1\r\nv\r\n", b"\r\n"),
        b"STORED\r\n"
    );
}

#[test]
fn stats_settings_names_the_auth_file_as_memcached() {
    let path = auth_file("bounded");
    let path_text = path.to_str().unwrap();
    let tailcache = start_tailcache(&["-Y", path_text]);
    let mut stream = connect(tailcache.memcache);
    exchange(&mut stream, b"set a 0 0 7\r\nfoo bar\r\n", b"\r\n");
    let settings = exchange(&mut stream, b"stats settings\r\n", b"END\r\n");
    let line = format!("STAT auth_enabled_ascii {path_text}\r\n");
    assert!(String::from_utf8_lossy(&settings).contains(&line));
    let open = start_tailcache(&[]);
    let settings = exchange(
        &mut connect(open.memcache),
        b"stats settings\r\n",
        b"END\r\n",
    );
    assert!(String::from_utf8_lossy(&settings).contains("STAT auth_enabled_ascii no\r\n"));
}

#[test]
fn auth_data_block_is_bounded() {
    let path = auth_file("settings");
    let tailcache = start_tailcache(&["-Y", path.to_str().unwrap()]);
    let mut stream = connect(tailcache.memcache);
    // memcached would wait for all 100 MB; tailcache refuses at the line.
    stream.write_all(b"set foo 0 0 100000000\r\n").unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    assert_eq!(reply, b"CLIENT_ERROR authentication failure\r\n");
}

/// pymemcache authenticates with a plain `set` of "user password", as with
/// memcached, and is refused before.
#[test]
fn pymemcache_authenticates_with_a_set() {
    let path = auth_file("pymemcache");
    let tailcache = start_tailcache(&["-Y", path.to_str().unwrap()]);
    let script = format!(
        "from pymemcache.client.base import Client\n\
         from pymemcache.exceptions import MemcacheClientError\n\
         c = Client(('127.0.0.1', {port}))\n\
         try:\n    c.get('k'); raise SystemExit('served before auth')\n\
         except MemcacheClientError as e: assert b'unauthenticated' in str(e).encode(), e\n\
         c = Client(('127.0.0.1', {port}))\n\
         assert c.set('auth', 'baaaz quux', noreply=False)\n\
         assert c.set('k', 'v', noreply=False) and c.get('k') == b'v'\n",
        port = tailcache.memcache.port()
    );
    let python = support::require_tool("python3");
    let output = std::process::Command::new(python)
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_silent_unauthenticated_connection_is_closed_at_the_auth_timeout() {
    let path = auth_file("silent");
    let tailcache = start_tailcache(&[
        "-Y",
        path.to_str().unwrap(),
        "--auth-timeout",
        "1",
        "--requirepass",
        "s3cret-pass",
    ]);
    let silent_memcache = connect(tailcache.memcache);
    let silent_resp = connect(tailcache.resp);
    let started = std::time::Instant::now();
    for mut stream in [silent_memcache, silent_resp] {
        // It sends nothing: the server closes it (end of stream), well before
        // the client's 20 s read timeout.
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        assert_eq!(reply, b"");
    }
    assert!(started.elapsed() < Duration::from_secs(15));
    let mut admin = connect(tailcache.admin);
    admin
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut metrics = String::new();
    admin.read_to_string(&mut metrics).unwrap();
    assert!(
        metrics.contains("tailcache_connections_closed_total{reason=\"deadline\"} 2"),
        "{metrics}"
    );
}
