//! Measures SO_REUSEPORT-per-worker against one shared listening socket.
//!
//! `cargo run --release -p tailcache-runtime --example accept_modes -- [secs] [clients]`
//!
//! Two loads per mode, each against a line-echo service on 2 workers:
//! - churn: every client connects, does one round trip, closes (accept-bound);
//! - steady: every client keeps one connection and does round trips.
//!
//! Prints operations per second, the p99 round trip, and how evenly
//! connections landed on workers (max/min accepted per worker).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tailcache_runtime::{
    AcceptMode, BoundListener, ConnStats, ListenAddr, ListenerSpec, LocalAddr, Processed, Runtime,
    RuntimeConfig, Service, ServiceFactory,
};

const WORKERS: usize = 2;

struct Echo {
    accepted: Arc<AtomicU64>,
}

impl Service for Echo {
    type Conn = ();

    fn new_conn(&mut self, _tag: usize) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    fn process(&mut self, _c: &mut (), input: &[u8], output: &mut Vec<u8>) -> Processed {
        match input.iter().position(|&b| b == b'\n') {
            Some(end) => {
                output.extend_from_slice(&input[..=end]);
                Processed {
                    consumed: end + 1,
                    close_after_flush: false,
                }
            }
            None => Processed::default(),
        }
    }
}

struct Factory {
    accepted: Vec<Arc<AtomicU64>>,
}

impl ServiceFactory for Factory {
    type Service = Echo;

    fn new_worker(&self, index: usize) -> Echo {
        Echo {
            accepted: self.accepted[index].clone(),
        }
    }
}

fn start(mode: AcceptMode) -> (Runtime, SocketAddr, Vec<Arc<AtomicU64>>) {
    let config = RuntimeConfig {
        workers: WORKERS,
        accept_mode: mode,
        ..RuntimeConfig::default()
    };
    let spec = ListenerSpec {
        addr: ListenAddr::Tcp("127.0.0.1:0".parse().unwrap()),
        tag: 0,
        reject_reply: Vec::new(),
        overflow_reply: Vec::new(),
        backlog: tailcache_runtime::DEFAULT_LISTEN_BACKLOG,
        tls: None,
    };
    let bound = BoundListener::bind(spec, WORKERS, mode).unwrap();
    let LocalAddr::Tcp(addr) = bound.local_addr().clone() else {
        unreachable!()
    };
    let accepted: Vec<_> = (0..WORKERS).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let factory = Arc::new(Factory {
        accepted: accepted.clone(),
    });
    let runtime =
        Runtime::start(config, vec![bound], factory, Arc::new(ConnStats::default())).unwrap();
    (runtime, addr, accepted)
}

fn round_trip(stream: &mut TcpStream) {
    stream.write_all(b"ping\n").unwrap();
    let mut reply = [0u8; 5];
    stream.read_exact(&mut reply).unwrap();
}

/// Runs `clients` threads for `secs`; returns (ops/s, p99 µs).
fn load(addr: SocketAddr, clients: usize, secs: u64, churn: bool) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut samples_ns = Vec::new();
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.set_nodelay(true).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    if churn {
                        stream = TcpStream::connect(addr).unwrap();
                    }
                    round_trip(&mut stream);
                    samples_ns.push(started.elapsed().as_nanos() as u64);
                }
                samples_ns
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut all: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_unstable();
    let p99 = all[(all.len() * 99 / 100).min(all.len() - 1)] as f64 / 1000.0;
    (all.len() as f64 / secs as f64, p99)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().map(|s| s.parse().unwrap()).unwrap_or(3);
    let clients: usize = args.next().map(|s| s.parse().unwrap()).unwrap_or(8);
    println!("load    mode       ops/s      p99_us  accepted max/min per worker");
    for churn in [true, false] {
        for mode in [AcceptMode::ReusePort, AcceptMode::Shared] {
            let (runtime, addr, accepted) = start(mode);
            let (ops, p99) = load(addr, clients, secs, churn);
            let counts: Vec<u64> = accepted.iter().map(|a| a.load(Ordering::Relaxed)).collect();
            let balance = *counts.iter().max().unwrap() as f64
                / (*counts.iter().min().unwrap()).max(1) as f64;
            let name = if churn { "churn" } else { "steady" };
            println!("{name:<7} {mode:<10?} {ops:>9.0} {p99:>9.1}  {balance:.2} {counts:?}");
            runtime.stopper().stop();
            runtime.join();
        }
    }
}
