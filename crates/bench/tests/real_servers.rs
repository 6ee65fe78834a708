//! Every protocol against a real server started by the test: memcached for the text
//! and meta protocols, redis-server for RESP. The tools must be installed (scripts/test.sh
//! installs them); a missing one fails the test loudly.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tailcache_bench::config::{Load, RunConfig};
use tailcache_bench::driver::run;
use tailcache_bench::protocol::Protocol;
use tailcache_bench::workload::Mix;

/// A server process stopped (exactly this one) when dropped.
struct Server(Child, SocketAddr);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(program: &str, args: &[String], port: u16) -> Server {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {program} (is it installed? scripts/test.sh installs it): {e}")
        });
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let server = Server(child, addr);
    for _ in 0..200 {
        if TcpStream::connect(addr).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{program} did not listen on {addr} within 2 s");
}

fn memcached() -> Server {
    let port = free_port();
    let mut args: Vec<String> = [
        "-p",
        &port.to_string(),
        "-l",
        "127.0.0.1",
        "-m",
        "16",
        "-t",
        "1",
        "-U",
        "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // /proc/self belongs to the process's effective user.
    let euid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap());
    if euid == 0 {
        args.extend(["-u".to_string(), "root".to_string()]);
    }
    start("memcached", &args, port)
}

fn redis() -> Server {
    let port = free_port();
    let args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    start("redis-server", &args, port)
}

fn mixed_config(addr: SocketAddr, protocol: Protocol, load: Load) -> RunConfig {
    let mut c = RunConfig::defaults(addr);
    c.protocol = protocol;
    c.load = load;
    c.connections = 2;
    c.warmup = Duration::ZERO;
    c.duration = Duration::from_millis(700);
    c.prefill = true;
    c.workload.keys = 500;
    c.workload.ttl_s = 300;
    c.workload.multiget_keys = 4;
    c.workload.mix = Mix::parse("get=70,set=15,delete=5,multiget=10").unwrap();
    c
}

fn check(protocol: Protocol, server: &Server) {
    for load in [
        Load::Closed { pipeline: 8 },
        Load::Open {
            rate_per_s: 2000.0,
            arrival: tailcache_bench::schedule::Arrival::Poisson,
        },
    ] {
        let r = run(&mixed_config(server.1, protocol, load), &mut |_| {}).unwrap();
        let c = r.counters;
        assert_eq!(c.errors(), 0, "{protocol:?} {load:?}: {c:?}");
        assert!(c.completed > 500, "{protocol:?} {load:?}: {c:?}");
        // Prefilled keys are found, deleted ones are missed: both must be counted.
        assert!(
            c.hits > c.misses && c.misses > 0,
            "{protocol:?} {load:?}: {c:?}"
        );
        assert_eq!(r.histogram.count(), c.completed);
    }
}

#[test]
fn memcache_text_against_memcached() {
    check(Protocol::MemcacheText, &memcached());
}

#[test]
fn meta_against_memcached() {
    check(Protocol::Meta, &memcached());
}

#[test]
fn resp_against_redis() {
    check(Protocol::Resp, &redis());
}
