//! Connection limit, idle timeout, backpressure and oversized requests
//! against the built binary: the server stays up, memory stays bounded.

mod support;

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{http_get, read_all, Tailcache};

fn round_trip(stream: &mut TcpStream) -> String {
    stream.write_all(b"version\r\n").unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

#[test]
fn connections_beyond_the_limit_get_memcached_error() {
    let server = Tailcache::start(&["-c", "3"]);
    let mut open: Vec<TcpStream> = (0..3).map(|_| server.connect("memcache")).collect();
    for stream in &mut open {
        assert!(round_trip(stream).ends_with("\r\n"));
    }
    let mut extra = server.connect("memcache");
    assert_eq!(read_all(&mut extra), b"ERROR Too many open connections\r\n");
    let (_, metrics) = http_get(server.addr("admin"), "/metrics");
    assert!(
        metrics.contains("tailcache_connections_rejected_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tailcache_current_connections 3"),
        "{metrics}"
    );
    drop(open.pop());
    // The slot frees once the worker sees the close.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = server.connect("memcache");
        again.write_all(b"version\r\n").unwrap();
        let mut reply = [0u8; 5];
        match std::io::Read::read_exact(&mut again, &mut reply) {
            Ok(()) if &reply != b"ERROR" => break,
            _ => assert!(Instant::now() < deadline, "slot never freed"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn idle_connections_are_closed() {
    let server = Tailcache::start(&["-o", "idle_timeout=1"]);
    let mut idle = server.connect("memcache");
    let started = Instant::now();
    assert!(read_all(&mut idle).is_empty());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    let mut fresh = server.connect("memcache");
    assert!(round_trip(&mut fresh).ends_with("\r\n"));
}

#[test]
fn client_that_never_reads_does_not_grow_memory() {
    // No stall detector: on a loaded machine a worker stall's backtrace
    // loads the binary's debug info, about 95 MiB of RSS for a debug build,
    // which has nothing to do with buffering (measured with
    // scripts/greedy-clients-rss.py: 109 MiB with it, 15 without).
    let config = std::env::temp_dir().join(format!(
        "tailcache-server-limits-{}.toml",
        std::process::id()
    ));
    std::fs::write(&config, "stall_threshold_ms = 0\n").unwrap();
    let server = Tailcache::start(&["--config", config.to_str().unwrap()]);
    let mut greedy = server.connect("memcache");
    greedy
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let rss_before_kib = server.rss_kib();
    let chunk = b"version\r\n".repeat(4096);
    let mut sent_bytes = 0usize;
    // Write until the server stops reading and every buffer on the way is full.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match greedy.write(&chunk) {
            Ok(n) => sent_bytes += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("write failed: {e}"),
        }
    }
    assert!(
        Instant::now() < deadline,
        "server kept reading {sent_bytes} bytes without replies read"
    );
    let grown_kib = server.rss_kib().saturating_sub(rss_before_kib);
    assert!(
        grown_kib < 32 * 1024,
        "RSS grew {grown_kib} KiB after {sent_bytes} bytes sent"
    );
    let mut other = server.connect("memcache");
    assert!(
        round_trip(&mut other).ends_with("\r\n"),
        "other clients are served"
    );
}

#[test]
fn oversized_request_closes_only_that_connection() {
    let server = Tailcache::start(&["-I", "64k"]);
    let mut big = server.connect("memcache");
    let junk = vec![b'a'; 1 << 20];
    // The server may close before all is sent; that is the point.
    let _ = big.write_all(&junk);
    let reply = read_all(&mut big);
    assert!(reply.len() < 1024, "bounded reply before close");
    let mut other = server.connect("memcache");
    assert!(round_trip(&mut other).ends_with("\r\n"));
    let grown = server.rss_kib();
    assert!(grown < 512 * 1024, "RSS {grown} KiB");
}

#[test]
fn admin_endpoint_serves_metrics_stats_health() {
    let server = Tailcache::start(&[]);
    let admin = server.addr("admin");
    let (status, body) = http_get(admin, "/health");
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "OK\n")
    );
    let mut client = server.connect("memcache");
    round_trip(&mut client);
    let (status, metrics) = http_get(admin, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    for needle in [
        "# TYPE tailcache_connections_total counter",
        "tailcache_current_connections 1",
        "tailcache_read_bytes_total 9",
        "# TYPE tailcache_command_duration_seconds histogram",
        "tailcache_command_duration_seconds_bucket{command=\"get\",le=\"+Inf\"}",
        "tailcache_limit_bytes 67108864",
        "# TYPE tailcache_scheduler_group_runtime_seconds_total counter",
        "tailcache_scheduler_group_tasks_total{group=\"maintenance\"}",
        "tailcache_scheduler_group_queue_length{group=\"bulk\"} 0",
        "# TYPE tailcache_scheduling_delay_seconds histogram",
        "tailcache_worker_turn_seconds_bucket{le=\"+Inf\"}",
        "# TYPE tailcache_stalls_total counter",
    ] {
        assert!(metrics.contains(needle), "/metrics lacks {needle}");
    }
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.starts_with("tailcache_"), "unprefixed metric: {line}");
        let name = line.split(['{', ' ']).next().unwrap();
        let kind_line = format!("# TYPE {} counter", name);
        if metrics.contains(&kind_line) {
            assert!(name.ends_with("_total"), "counter {name} lacks _total");
        }
    }
    let (status, stats) = http_get(admin, "/stats");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let doc: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(doc["stats"]["curr_connections"], 1);
    assert_eq!(doc["stats"]["threads"], 2);
    assert!(doc["service_time"]["get"]["count"].is_u64());
    let (status, _) = http_get(admin, "/nope");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    // Keep-alive and pipelining: two requests, two responses, one connection.
    let mut stream = TcpStream::connect(admin).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let text = String::from_utf8(read_all(&mut stream)).unwrap();
    assert_eq!(text.matches("200 OK").count(), 2, "{text}");
}

#[test]
fn a_thousand_connections_at_once_are_all_served() {
    let server = Tailcache::start(&["-c", "1024"]);
    let mut clients: Vec<TcpStream> = (0..1000).map(|_| server.connect("memcache")).collect();
    for client in &mut clients {
        client.write_all(b"version\r\n").unwrap();
    }
    for client in &mut clients {
        let mut line = String::new();
        BufReader::new(client).read_line(&mut line).unwrap();
        assert!(line.ends_with("\r\n"));
    }
    let (_, metrics) = http_get(server.addr("admin"), "/metrics");
    assert!(
        metrics.contains("tailcache_current_connections 1000"),
        "{metrics}"
    );
    assert!(metrics.contains("tailcache_connections_rejected_total 0"));
}

/// Gets of one 100 KB value pipelined without waiting: the replies stream out
/// whole and in order. 3 000 here (300 MB); the 300 000 (30 GB) with
/// `TAILCACHE_DEEP_PIPELINE_GETS=300000`.
#[test]
fn a_deep_pipeline_of_large_gets_streams_every_reply() {
    let gets: usize = std::env::var("TAILCACHE_DEEP_PIPELINE_GETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    let server = Tailcache::start(&[]);
    let mut client = server.connect("memcache");
    let value = vec![b'v'; 100_000];
    client.write_all(b"set big 0 0 100000\r\n").unwrap();
    client.write_all(&value).unwrap();
    client.write_all(b"\r\n").unwrap();
    let mut line = String::new();
    BufReader::new(&mut client).read_line(&mut line).unwrap();
    assert_eq!(line, "STORED\r\n");
    let mut writer = client.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let batch = b"get big\r\n".repeat(1_000);
        for _ in 0..gets / 1_000 {
            writer.write_all(&batch).unwrap();
        }
        writer.write_all(b"quit\r\n").unwrap();
    });
    let reply_bytes = "VALUE big 0 100000\r\n".len() + 100_000 + "\r\nEND\r\n".len();
    client
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut received = 0usize;
    let mut tail = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match std::io::Read::read(&mut client, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                received += n;
                tail.extend_from_slice(&buf[..n]);
                let keep = tail.len().saturating_sub(reply_bytes);
                tail.drain(..keep);
            }
            Err(e) => panic!("read failed after {received} bytes: {e}"),
        }
    }
    sender.join().unwrap();
    assert_eq!(received, gets / 1_000 * 1_000 * reply_bytes);
    assert!(tail.starts_with(b"VALUE big 0 100000\r\n") && tail.ends_with(b"\r\nEND\r\n"));
}
