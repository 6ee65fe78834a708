//! Out of file descriptors (EMFILE): clients that cannot be accepted are
//! told so at once instead of hanging in the accept queue, and once
//! connections close, new ones get in without waiting for another event.
//!
//! One test in its own binary: it lowers this process's descriptor limit.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use support::LinesFactory;
use tailcache_runtime::{
    BoundListener, ConnStats, ListenAddr, ListenerSpec, LocalAddr, Runtime, RuntimeConfig,
};

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

/// What a client got for `ping`: its echo, the reject reply, or nothing.
#[derive(Debug, PartialEq)]
enum Answer {
    Served,
    Refused,
    Silent,
}

fn ask(stream: &mut TcpStream) -> Answer {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    if stream.write_all(b"ping\n").is_err() {
        return Answer::Silent;
    }
    let mut reply = [0u8; 5];
    match stream.read_exact(&mut reply) {
        Ok(()) if &reply == b"ping\n" => Answer::Served,
        Ok(()) if &reply == b"FULL\n" => Answer::Refused,
        _ => Answer::Silent,
    }
}

#[test]
fn out_of_descriptors_clients_are_refused_at_once_and_admitted_again_later() {
    let spec = ListenerSpec {
        addr: ListenAddr::Tcp("127.0.0.1:0".parse().unwrap()),
        tag: 0,
        reject_reply: b"FULL\n".to_vec(),
        overflow_reply: Vec::new(),
        backlog: tailcache_runtime::DEFAULT_LISTEN_BACKLOG,
        tls: None,
    };
    let config = RuntimeConfig {
        workers: 1,
        stall_threshold: None,
        ..RuntimeConfig::default()
    };
    let bound = BoundListener::bind(spec, 1, config.accept_mode).unwrap();
    let LocalAddr::Tcp(addr) = bound.local_addr().clone() else {
        unreachable!()
    };
    let stats = Arc::new(ConnStats::default());
    let runtime = Runtime::start(
        config,
        vec![bound],
        Arc::new(LinesFactory {
            panic_on_start: false,
        }),
        stats.clone(),
    )
    .unwrap();
    // Let the worker open its spare descriptor before the limit drops.
    std::thread::sleep(Duration::from_millis(200));
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    // Room for about 15 connections: each takes a descriptor here (the
    // client's) and one in the worker (the accepted socket).
    setrlimit(Resource::RLIMIT_NOFILE, open_fds() + 30, hard).unwrap();

    let mut served = Vec::new();
    for _ in 0..5 {
        let mut stream = TcpStream::connect(addr).unwrap();
        assert_eq!(ask(&mut stream), Answer::Served);
        served.push(stream);
    }
    // Every descriptor taken, so that exactly the ones freed below are free.
    let mut fillers = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(file) => fillers.push(file),
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EMFILE as i32) => break,
            Err(e) => panic!("open: {e}"),
        }
        assert!(fillers.len() < 1000, "the limit did not apply");
    }
    // One free: the client's socket takes it, the worker has none.
    fillers.pop();
    let mut refused = TcpStream::connect(addr).unwrap();
    let asked = Instant::now();
    assert_eq!(
        ask(&mut refused),
        Answer::Refused,
        "told at once, not left waiting"
    );
    let refused_after = asked.elapsed();
    assert!(
        refused_after < Duration::from_secs(5),
        "refused after {refused_after:?}"
    );
    assert!(stats.snapshot().accept_fd_exhausted >= 1);
    drop(refused);
    // The worker still serves the connections it has.
    assert_eq!(ask(&mut served[0]), Answer::Served);

    // Descriptors come free: a new client gets in.
    fillers.truncate(fillers.len().saturating_sub(4));
    let mut stream = TcpStream::connect(addr).unwrap();
    assert_eq!(
        ask(&mut stream),
        Answer::Served,
        "admitted once descriptors came free"
    );
    drop(fillers);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    drop(served);
    runtime.stopper().stop();
    assert!(runtime.join());
}
