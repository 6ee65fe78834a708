//! Clients that attack with their own slowness or silence: one that asks for
//! large replies and never reads them, many such, one that sends a byte at a
//! time, and sockets that hold every connection slot saying nothing. Each is
//! shed by its own limit, counted, and a well-behaved client keeps being served.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::{connect, exchange, start_tailcache, Tailcache};

/// Writes `body` as a TOML config file for one test; returns its path.
fn config_file(name: &str, body: &str) -> String {
    let path = std::env::temp_dir().join(format!(
        "tailcache-hostile-{}-{name}.toml",
        std::process::id()
    ));
    std::fs::write(&path, body).expect("write config");
    path.display().to_string()
}

/// One figure of the admin endpoint's `/stats` (a connection of its own,
/// so the data port's connection limit does not count it).
fn stat(server: &Tailcache, name: &str) -> u64 {
    let mut stream = connect(server.admin);
    stream
        .write_all(b"GET /stats HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    let _ = stream.read_to_string(&mut body);
    let key = format!("\"{name}\":");
    let at = body
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in /stats:\n{body}"));
    body[at + key.len()..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a number")
}

/// Waits (generously: a loaded 2-core machine) until `stat` reaches `at_least`.
fn wait_for_stat(server: &Tailcache, name: &str, at_least: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = stat(server, name);
        if value >= at_least || Instant::now() > deadline {
            return value;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A well-behaved client gets correct answers.
fn assert_serves(server: &Tailcache) {
    let mut stream = connect(server.memcache);
    assert_eq!(
        exchange(&mut stream, b"set ok 0 0 2\r\nok\r\n", b"\r\n"),
        b"STORED\r\n"
    );
    assert_eq!(
        exchange(&mut stream, b"get ok\r\n", b"END\r\n"),
        b"VALUE ok 0 2\r\nok\r\nEND\r\n"
    );
}

/// Stores a value of about 1 MB under `big`.
fn store_big(server: &Tailcache) {
    let value = vec![b'v'; 1_000_000];
    let mut setter = connect(server.memcache);
    let mut set = format!("set big 0 0 {}\r\n", value.len()).into_bytes();
    set.extend_from_slice(&value);
    set.extend_from_slice(b"\r\n");
    assert_eq!(exchange(&mut setter, &set, b"\r\n"), b"STORED\r\n");
}

/// A client that pipelines multigets of the big value, duplicates and all,
/// for `for_how_long`, and never reads a reply. Returns its socket.
fn greedy_client(server: &Tailcache, for_how_long: Duration) -> TcpStream {
    let greedy = connect(server.memcache);
    greedy.set_nonblocking(true).unwrap();
    let request = format!("get {}\r\n", "big ".repeat(100)).into_bytes();
    let deadline = Instant::now() + for_how_long;
    let mut stream = &greedy;
    while Instant::now() < deadline {
        match stream.write(&request) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            // Closed by the server: what the test waits for.
            Err(_) => break,
        }
    }
    greedy
}

#[test]
fn a_client_not_reading_its_multigets_is_closed_at_the_output_cap() {
    // A cap under one reply: backpressure refills unsent output up to high
    // water (1 MiB), so a client that does not read always passes it. (With
    // a cap between high water and high water plus one reply, a non-reader
    // is closed only if its output settles above the cap.)
    // No stall detector: a stall's backtrace loads the binary's debug
    // info, tens of MiB of RSS that have nothing to do with the buffers.
    let config = config_file(
        "cap",
        "connection_output_cap_bytes = 524288\nstall_threshold_ms = 0\n",
    );
    let mut server = start_tailcache(&["-m", "64", "--config", &config]);
    store_big(&server);
    let rss_before_kib = server.process.rss_kib();
    let greedy: Vec<TcpStream> = (0..8)
        .map(|_| greedy_client(&server, Duration::from_millis(500)))
        .collect();
    let closed = wait_for_stat(&server, "output_cap_closed_connections", 8);
    assert_eq!(closed, 8, "every greedy client closed at the cap");
    assert_serves(&server);
    // Their buffers are given back: what stays is the setter's and ours.
    let held = wait_until_at_most(&server, "connection_buffer_bytes", 1 << 20);
    assert!(held <= 1 << 20, "buffers still hold {held} bytes");
    // Resident memory stays bounded: about 10 MiB measured (the allocator
    // keeps part of what the closed connections freed); 8 clients asking
    // for 100 MB each, buffered, would pass the bound many times over.
    let grown_kib = server.process.rss_kib().saturating_sub(rss_before_kib);
    assert!(grown_kib < 64 * 1024, "rss grew {grown_kib} KiB");
    // The closed client sees its connection end.
    let mut first = &greedy[0];
    first.set_nonblocking(false).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut sink = vec![0u8; 1 << 20];
    let deadline = Instant::now() + Duration::from_secs(30);
    let ended = loop {
        match first.read(&mut sink) {
            Ok(0) | Err(_) => break true,
            Ok(_) if Instant::now() > deadline => break false,
            Ok(_) => {}
        }
    };
    assert!(ended, "the greedy connection was not closed");
    assert!(server.process.is_running());
}

#[test]
fn over_the_buffer_budget_the_largest_holders_are_closed() {
    // 4 MiB for all connections; each greedy client holds 1-2 MiB.
    let mut server = start_tailcache(&["-m", "64", "-o", "resp_obj_mem_limit=4"]);
    store_big(&server);
    let _greedy: Vec<TcpStream> = (0..6)
        .map(|_| greedy_client(&server, Duration::from_millis(500)))
        .collect();
    let closed = wait_for_stat(&server, "over_budget_closed_connections", 1);
    assert!(closed >= 1, "no connection closed over the budget");
    let held = wait_until_at_most(&server, "connection_buffer_bytes", 5 << 20);
    assert!(held <= 5 << 20, "buffers still hold {held} bytes");
    assert_serves(&server);
    assert!(server.process.is_running());
}

/// Waits until `name` is at most `bound`; returns its last value.
fn wait_until_at_most(server: &Tailcache, name: &str, bound: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = stat(server, name);
        if value <= bound || Instant::now() > deadline {
            return value;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_byte_a_second_client_is_closed_by_the_request_timeout() {
    let config = config_file("slow", "request_timeout_secs = 2\n");
    let server = start_tailcache(&["-m", "64", "--config", &config]);
    let mut slow = connect(server.memcache);
    let started = Instant::now();
    let mut closed_after = None;
    // A request that never completes: 'get ' and then key bytes, one a
    // quarter second (faster than the byte a second, to be sure each read
    // alone would not look idle).
    for byte in b"get ".iter().chain([b'k'; 200].iter()) {
        if slow.write_all(&[*byte]).is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let closed_after = closed_after.expect("the slow client was never closed");
    // 2 s timeout, scanned every second; generous for a loaded machine.
    assert!(
        closed_after < Duration::from_secs(20),
        "closed after {closed_after:?}"
    );
    assert!(closed_after >= Duration::from_secs(2), "{closed_after:?}");
    assert!(stat(&server, "stalled_closed_connections") >= 1);
    assert_serves(&server);
}

#[test]
fn silent_sockets_holding_every_slot_do_not_lock_clients_out() {
    let config = config_file("silent", "idle_reclaim_secs = 1\n");
    let server = start_tailcache(&["-m", "64", "-c", "16", "--config", &config]);
    // Every slot taken by a socket that says nothing (one opened too soon
    // may be refused while the harness's probe connection still counts).
    let mut silent: Vec<TcpStream> = (0..16).map(|_| connect(server.memcache)).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while stat(&server, "curr_connections") < 16 {
        assert!(Instant::now() < deadline, "the slots never filled");
        silent.push(connect(server.memcache));
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut served = false;
    while !served && Instant::now() < deadline {
        let mut stream = connect(server.memcache);
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let _ = stream.write_all(b"version\r\n");
        let mut reply = [0u8; 64];
        served = matches!(stream.read(&mut reply), Ok(n) if reply[..n].starts_with(b"VERSION"));
        if !served {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    assert!(served, "a well-behaved client was locked out");
    assert!(stat(&server, "idle_reclaimed_connections") >= 1);
    drop(silent);
}

#[test]
fn connections_are_clamped_to_the_open_file_limit_with_a_warning() {
    let stderr_file =
        std::env::temp_dir().join(format!("tailcache-ulimit-stderr-{}", std::process::id()));
    let stderr_path = stderr_file.clone();
    let (mut process, ports) = support::spawn_listening("tailcache", 1, |ports| {
        let script = format!(
            "ulimit -n 256 && exec {} -p {} -t 2 -c 1024",
            env!("CARGO_BIN_EXE_tailcache"),
            ports[0]
        );
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut command = std::process::Command::new("sh");
        command
            .args(["-c", &script])
            .stdout(std::process::Stdio::null())
            .stderr(stderr);
        command
    });
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], ports[0]));
    let mut stream = connect(addr);
    let settings = exchange(&mut stream, b"stats settings\r\n", b"END\r\n");
    let settings = String::from_utf8_lossy(&settings).into_owned();
    // 256 less the reserve (64 + 8 a worker): the server refuses past it
    // with its own reply rather than running out of descriptors.
    assert!(settings.contains("STAT maxconns 176\r\n"), "{settings}");
    process.signal("KILL");
    let status = process.wait_exit(Duration::from_secs(10));
    assert!(status.is_some());
    let stderr = std::fs::read_to_string(&stderr_file).unwrap();
    let _ = std::fs::remove_file(&stderr_file);
    assert!(
        stderr.contains("-c 1024 does not fit the open-file limit; -c 176 in force"),
        "{stderr}"
    );
}
