//! Sweeps climb until the P99.9 bound breaks and report the last rate that held it.

use std::time::Duration;
use tailcache_bench::config::RunConfig;
use tailcache_bench::echo_server::{EchoServer, Pause};
use tailcache_bench::sweep::{run_sweep, SweepSpec};

fn base(server: &EchoServer) -> RunConfig {
    let mut c = RunConfig::defaults(server.addr());
    c.warmup = Duration::ZERO;
    c.duration = Duration::from_millis(300);
    c
}

#[test]
fn a_generous_bound_holds_at_every_rate() {
    let server = EchoServer::start(None).unwrap();
    let spec = SweepSpec::parse("500:1500:500").unwrap();
    let mut rates = Vec::new();
    let s = run_sweep(
        &base(&server),
        spec,
        1_000_000_000,
        &mut |r| rates.push(r),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(rates, vec![500.0, 1000.0, 1500.0]);
    assert_eq!(s.best_rate_per_s, Some(1500.0));
    assert_eq!(s.steps.len(), 3);
    assert!((s.steps[2].achieved_rate_per_s() - 1500.0).abs() < 30.0);
}

#[test]
fn a_stalling_server_breaks_the_bound_and_the_sweep_stops() {
    // Paused 150 ms out of every 200 ms: no rate can keep P99.9 under 10 ms.
    let pause = Pause {
        period: Duration::from_millis(200),
        length: Duration::from_millis(150),
    };
    let server = EchoServer::start(Some(pause)).unwrap();
    let spec = SweepSpec::parse("500:1500:500").unwrap();
    let s = run_sweep(&base(&server), spec, 10_000_000, &mut |_| {}, &mut |_| {}).unwrap();
    assert_eq!(s.steps.len(), 1);
    assert_eq!(s.best_rate_per_s, None);
}
