//! Failures are counted and reported, never swallowed, and every run ends on time.

use std::time::{Duration, Instant};
use tailcache_bench::config::{Load, RunConfig};
use tailcache_bench::driver::run;
use tailcache_bench::echo_server::EchoServer;
use tailcache_bench::error::BenchError;

#[test]
fn nothing_listening_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = RunConfig::defaults(format!("127.0.0.1:{port}").parse().unwrap());
    match run(&c, &mut |_| {}) {
        Err(e @ BenchError::ConnectionRefused(_)) => {
            assert!(e.to_string().contains("connection refused"))
        }
        other => panic!("expected ConnectionRefused, got {other:?}"),
    }
}

#[test]
fn a_server_that_dies_mid_run_is_counted_and_the_run_ends_on_time() {
    let server = EchoServer::start(None).unwrap();
    let mut c = RunConfig::defaults(server.addr());
    c.load = Load::Open {
        rate_per_s: 2000.0,
        arrival: tailcache_bench::schedule::Arrival::Uniform,
    };
    c.warmup = Duration::ZERO;
    c.duration = Duration::from_millis(1500);
    c.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let runner = std::thread::spawn(move || run(&c, &mut |_| {}));
    std::thread::sleep(Duration::from_millis(400));
    drop(server);
    let r = runner.join().unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let k = r.counters;
    assert!(k.completed > 300, "{k:?}");
    assert!(k.disconnects > 0, "{k:?}");
    assert!(k.connect_refused > 0, "{k:?}");
    // Requests scheduled while the server was gone were never sent, and say so.
    assert!(k.unsent > 1000, "{k:?}");
}

#[test]
fn a_server_that_never_answers_times_out() {
    // Accepts connections (the kernel does) but never reads or answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = RunConfig::defaults(listener.local_addr().unwrap());
    c.warmup = Duration::ZERO;
    c.duration = Duration::from_millis(500);
    c.timeout = Duration::from_millis(200);
    c.connections = 1;
    let started = Instant::now();
    let r = run(&c, &mut |_| {}).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.counters.completed, 0);
    assert!(
        r.counters.timeouts >= 1 && r.counters.lost > 0,
        "{:?}",
        r.counters
    );
    drop(listener);
}

#[test]
fn a_server_that_never_reads_caps_the_send_buffer() {
    // 1000 sets of 64 KiB (64 MiB) into a socket nobody reads: the kernel buffers a few
    // MiB, the generator at most 4 MiB more; the rest stay unsent and are counted.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = RunConfig::defaults(listener.local_addr().unwrap());
    c.connections = 1;
    c.warmup = Duration::ZERO;
    c.duration = Duration::from_millis(500);
    c.timeout = Duration::from_secs(2);
    c.load = Load::Open {
        rate_per_s: 2000.0,
        arrival: tailcache_bench::schedule::Arrival::Uniform,
    };
    c.workload.mix = tailcache_bench::workload::Mix::parse("set=1").unwrap();
    c.workload.value_sizes = tailcache_bench::workload::ValueSizes::Fixed(64 * 1024);
    let started = Instant::now();
    let r = run(&c, &mut |_| {}).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let k = r.counters;
    assert_eq!(k.completed, 0);
    assert!(k.unsent > 500, "{k:?}");
    assert_eq!(k.unsent + k.lost, 1000, "{k:?}");
    drop(listener);
}
