//! The proof that the generator measures what a user sees: against a server that
//! stops answering for 100 ms once a second, the open-loop P99 shows the stall (about
//! a tenth of the requests are scheduled inside a pause and wait up to 100 ms), while a
//! closed-loop run of the same server hides it (the connection simply stops sending, so
//! only one request per pause is slow).

use std::time::Duration;
use tailcache_bench::config::{Load, RunConfig};
use tailcache_bench::driver::run;
use tailcache_bench::echo_server::{EchoServer, Pause};
use tailcache_bench::schedule::Arrival;

const MS: u64 = 1_000_000;

fn stalling_server() -> EchoServer {
    EchoServer::start(Some(Pause {
        period: Duration::from_secs(1),
        length: Duration::from_millis(100),
    }))
    .unwrap()
}

fn config(server: &EchoServer, load: Load) -> RunConfig {
    let mut c = RunConfig::defaults(server.addr());
    c.load = load;
    c.connections = 2;
    c.warmup = Duration::ZERO;
    // Three whole periods, so exactly three pauses fall in the window.
    c.duration = Duration::from_secs(3);
    c
}

#[test]
fn open_loop_sees_the_stall_and_closed_loop_hides_it() {
    let server = stalling_server();

    let open = run(
        &config(
            &server,
            Load::Open {
                rate_per_s: 2000.0,
                arrival: Arrival::Uniform,
            },
        ),
        &mut |_| {},
    )
    .unwrap();
    let h = &open.histogram;
    assert_eq!(open.counters.errors(), 0, "{:?}", open.counters);
    // 3 s at 2000/s, all answered.
    assert!(
        (5_900..=6_000).contains(&open.counters.completed),
        "{:?}",
        open.counters
    );
    // 10% of requests are scheduled inside a pause, their waits spread over 0..100 ms:
    // the top 10% sit above the stall-free floor, P95 near the middle of the stall,
    // P99 near its end.
    assert!(
        h.percentile_ns(85.0) < 20 * MS,
        "p85 {}",
        h.percentile_ns(85.0)
    );
    assert!(
        (25 * MS..=80 * MS).contains(&h.percentile_ns(95.0)),
        "p95 {}",
        h.percentile_ns(95.0)
    );
    assert!(
        h.percentile_ns(99.0) >= 80 * MS,
        "p99 {}",
        h.percentile_ns(99.0)
    );
    assert!(h.max_ns() >= 95 * MS, "max {}", h.max_ns());

    // About 5% of requests are scheduled in the first half of a pause and wait 50 ms or more.
    let open_slow = share_at_least(&open.histogram, 50 * MS);
    assert!(
        (0.035..0.08).contains(&open_slow),
        "open share >= 50ms: {open_slow}"
    );

    let closed = run(&config(&server, Load::Closed { pipeline: 1 }), &mut |_| {}).unwrap();
    let h = &closed.histogram;
    assert_eq!(closed.counters.errors(), 0, "{:?}", closed.counters);
    // The same stalls happened (the slowest request waited through one) ...
    assert!(h.max_ns() >= 80 * MS, "max {}", h.max_ns());
    // ... yet only the request in flight on each connection waited (2 per pause), so the
    // P99 stays far below the open-loop one and below the stall. The bounds leave room
    // for a loaded CI box, whose scheduling adds milliseconds but not a tenth of requests.
    assert!(closed.counters.completed > 1_000, "{:?}", closed.counters);
    let (open_p99, closed_p99) = (open.histogram.percentile_ns(99.0), h.percentile_ns(99.0));
    assert!(
        closed_p99 < 50 * MS && closed_p99 < open_p99 / 2,
        "closed p99 {closed_p99}, open p99 {open_p99}"
    );
    let closed_slow = share_at_least(h, 50 * MS);
    assert!(closed_slow < 0.01, "closed share >= 50ms: {closed_slow}");
}

/// The share of recorded latencies at or above `ns`.
fn share_at_least(h: &tailcache_bench::histogram::LatencyHistogram, ns: u64) -> f64 {
    let inner = h.inner();
    let slow = inner.count_between(ns, inner.max().max(ns));
    slow as f64 / h.count() as f64
}

#[test]
fn late_requests_count_from_their_schedule() {
    // A stalled server makes the generator fall behind; the requests it sends late
    // must carry the lateness. With a 300 ms pause once per 400 ms at 1000/s, three
    // quarters of requests are scheduled inside a pause, so the median is large.
    let server = EchoServer::start(Some(Pause {
        period: Duration::from_millis(400),
        length: Duration::from_millis(300),
    }))
    .unwrap();
    let mut c = config(
        &server,
        Load::Open {
            rate_per_s: 1000.0,
            arrival: Arrival::Poisson,
        },
    );
    c.duration = Duration::from_millis(1200);
    let r = run(&c, &mut |_| {}).unwrap();
    assert_eq!(r.counters.errors(), 0, "{:?}", r.counters);
    assert!(
        r.histogram.percentile_ns(50.0) >= 50 * MS,
        "p50 {}",
        r.histogram.percentile_ns(50.0)
    );
}
