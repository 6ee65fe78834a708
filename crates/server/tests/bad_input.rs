//! Hostile and careless clients: garbage bytes, a client that disconnects
//! mid-value, 1000 connections at once, a client that never reads. The
//! server stays up, other clients are unaffected, and resident memory
//! stays bounded.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::{connect, exchange, start_tailcache, Tailcache};

/// Resident memory the server may reach in these tests: the 64 MiB heap
/// plus buffers and code, far below what unbounded buffering would take.
const MAX_RSS_KIB: u64 = 256 * 1024;

/// Deterministic pseudo-random bytes (xorshift), so a failure replays.
fn garbage(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// A well-behaved client still gets correct answers.
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

/// Sends `bytes`, then reads whatever comes back until close or timeout.
fn send_and_drain(addr: std::net::SocketAddr, bytes: &[u8]) {
    let mut stream = connect(addr);
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let _ = stream.write_all(bytes);
    let mut sink = [0u8; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

#[test]
fn garbage_on_every_protocol_leaves_the_server_serving() {
    let mut server = start_tailcache(&["-m", "64"]);
    for (index, addr) in [server.memcache, server.resp, server.http]
        .into_iter()
        .enumerate()
    {
        for seed in 1..=4u64 {
            send_and_drain(addr, &garbage(256 * 1024, seed * 7919 + index as u64));
        }
    }
    assert!(server.process.is_running(), "server died on garbage input");
    assert_serves(&server);
    assert!(server.process.rss_kib() < MAX_RSS_KIB);
}

#[test]
fn a_client_vanishing_mid_value_costs_nothing() {
    let mut server = start_tailcache(&["-m", "64"]);
    for _ in 0..50 {
        let mut stream = connect(server.memcache);
        stream.write_all(b"set half 0 0 100000\r\n").unwrap();
        stream.write_all(&[b'x'; 5000]).unwrap();
        drop(stream);
    }
    let mut stream = connect(server.memcache);
    assert_eq!(
        exchange(&mut stream, b"get half\r\n", b"END\r\n"),
        b"END\r\n"
    );
    assert!(server.process.is_running());
    assert_serves(&server);
}

#[test]
fn a_thousand_connections_at_once_are_all_served() {
    let mut server = start_tailcache(&["-m", "64", "-c", "2000"]);
    let mut streams: Vec<TcpStream> = (0..1000).map(|_| connect(server.memcache)).collect();
    for (index, stream) in streams.iter_mut().enumerate() {
        stream
            .write_all(format!("set c{index} 0 0 1\r\nx\r\nget c{index}\r\n").as_bytes())
            .unwrap();
    }
    for (index, stream) in streams.iter_mut().enumerate() {
        let expected = format!("STORED\r\nVALUE c{index} 0 1\r\nx\r\nEND\r\n");
        let reply = support::read_until(stream, b"END\r\n");
        assert_eq!(String::from_utf8_lossy(&reply), expected);
    }
    drop(streams);
    assert!(server.process.is_running());
    assert_serves(&server);
    assert!(server.process.rss_kib() < MAX_RSS_KIB);
}

#[test]
fn a_client_that_never_reads_is_held_back_not_buffered() {
    let mut server = start_tailcache(&["-m", "64"]);
    let value = vec![b'v'; 500 * 1024];
    let mut setter = connect(server.memcache);
    let mut set = b"set big 0 0 512000\r\n".to_vec();
    set.extend_from_slice(&value);
    set.extend_from_slice(b"\r\n");
    assert_eq!(exchange(&mut setter, &set, b"\r\n"), b"STORED\r\n");

    // Ask for the 500 KiB value over and over without reading: the server
    // must stop reading this client instead of queueing gigabytes.
    let mut greedy = connect(server.memcache);
    greedy.set_nonblocking(true).unwrap();
    let request = b"get big\r\n".repeat(1000);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut sent_bytes = 0usize;
    while Instant::now() < deadline && sent_bytes < 64 << 20 {
        match greedy.write(&request) {
            Ok(n) => sent_bytes += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    // Requested: sent_bytes / 9 gets of 500 KiB each, far over the RSS bound.
    assert!(sent_bytes / 9 * value.len() > (MAX_RSS_KIB as usize) * 1024 * 4);
    let started = Instant::now();
    assert_serves(&server);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "others were slowed"
    );
    assert!(
        server.process.rss_kib() < MAX_RSS_KIB,
        "rss {} KiB",
        server.process.rss_kib()
    );
    assert!(server.process.is_running());
}
