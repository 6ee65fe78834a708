//! Several generator threads split the connections and the schedule exactly.

use std::time::Duration;
use tailcache_bench::config::{Load, RunConfig};
use tailcache_bench::driver::run;
use tailcache_bench::echo_server::EchoServer;
use tailcache_bench::schedule::Arrival;

#[test]
fn threads_share_the_schedule_without_losing_or_adding_requests() {
    let server = EchoServer::start(None).unwrap();
    let mut c = RunConfig::defaults(server.addr());
    c.threads = 2;
    c.connections = 4;
    c.load = Load::Open {
        rate_per_s: 2000.0,
        arrival: Arrival::Uniform,
    };
    c.warmup = Duration::from_millis(200);
    c.duration = Duration::from_millis(500);
    let mut seconds = 0;
    let r = run(&c, &mut |_| seconds += 1).unwrap();
    // Uniform: each connection every 2 ms, so exactly 4 x 250 intended in the window.
    assert_eq!(r.counters.completed, 1000, "{:?}", r.counters);
    assert_eq!(r.histogram.count(), 1000);
    assert_eq!(r.counters.errors(), 0);
    assert!(r.send_lag.count() == 1000 && r.send_lag.percentile_ns(50.0) < 50_000_000);
    // The run spans 0.7 s: one (partial) second reported, merged over both threads.
    assert_eq!(seconds, 1);
    assert_eq!(r.seconds.len(), 1);
}
