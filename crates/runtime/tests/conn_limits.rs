//! What a connection may cost and how the runtime sheds the ones that cost
//! too much: lazy buffers given back when idle, the per-connection output
//! cap, and a worker thread that dies taking the process down.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use support::{bind_loopback, LinesFactory, Replies};
use tailcache_runtime::{BufferStats, ConnStats, Runtime, RuntimeConfig};

struct Running {
    runtime: Option<Runtime>,
    addr: SocketAddr,
    stats: Arc<ConnStats>,
    buffers: Arc<BufferStats>,
}

fn start(config: RuntimeConfig, panic_on_start: bool) -> Running {
    let replies = Replies {
        reject: b"FULL\n",
        overflow: b"TOO BIG\n",
    };
    let (bound, addr) = bind_loopback(config.workers, config.accept_mode, replies, None);
    let stats = Arc::new(ConnStats::default());
    let factory = Arc::new(LinesFactory { panic_on_start });
    let runtime = Runtime::start(config, vec![bound], factory, stats.clone()).unwrap();
    let buffers = runtime.buffer_stats();
    Running {
        runtime: Some(runtime),
        addr,
        stats,
        buffers,
    }
}

impl Running {
    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.stopper().stop();
            runtime.join();
        }
    }
}

/// Polls `condition` for up to 30 s (a loaded 2-core machine); its last value.
fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

fn config() -> RuntimeConfig {
    RuntimeConfig {
        workers: 1,
        stall_threshold: None,
        ..RuntimeConfig::default()
    }
}

#[test]
fn idle_connections_hold_no_buffers() {
    let running = start(config(), false);
    let silent: Vec<TcpStream> = (0..100).map(|_| running.connect()).collect();
    assert!(eventually(|| running.stats.snapshot().current == 100));
    assert_eq!(running.buffers.total_bytes(), 0, "allocated at accept");
    let mut talker = running.connect();
    talker.write_all(b"hello\n").unwrap();
    let mut reply = [0u8; 6];
    talker.read_exact(&mut reply).unwrap();
    // Counted right after the turn, which may end after the reply arrived.
    assert!(
        eventually(|| running.buffers.total_bytes() > 0),
        "a served connection has buffers"
    );
    // Given back about a second after the last traffic.
    assert!(
        eventually(|| running.buffers.total_bytes() == 0),
        "{} bytes still held",
        running.buffers.total_bytes()
    );
    drop(silent);
}

#[test]
fn a_client_not_reading_is_closed_at_the_output_cap_and_others_are_served() {
    let running = start(
        RuntimeConfig {
            output_cap_bytes: 2 << 20,
            ..config()
        },
        false,
    );
    // A client with a small receive buffer that never reads: at most the
    // server's send buffer (4 MiB on Linux at most) and this buffer take
    // part of the 8 MB reply, so well over the 2 MiB cap stays unsent.
    let greedy = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    greedy.set_recv_buffer_size(64 << 10).unwrap();
    greedy.connect(&running.addr.into()).unwrap();
    let mut greedy: TcpStream = greedy.into();
    greedy.write_all(b"big 8000000\n").unwrap();
    assert!(
        eventually(|| running.stats.snapshot().output_cap_closed == 1),
        "not closed at the cap: {:?}, {} buffer bytes",
        running.stats.snapshot(),
        running.buffers.total_bytes()
    );
    let mut other = running.connect();
    other.write_all(b"still here\n").unwrap();
    let mut reply = [0u8; 11];
    other.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"still here\n");
    assert!(eventually(|| running.buffers.total_bytes() < 1 << 20));
}

/// Env var that makes the child copy of the test run the failing worker.
const CHILD: &str = "TAILCACHE_TEST_WORKER_FAILS";

#[test]
fn a_worker_that_fails_ends_the_process_with_code_70() {
    if std::env::var_os(CHILD).is_some() {
        let _running = start(
            RuntimeConfig {
                exit_process_on_worker_failure: true,
                ..config()
            },
            true,
        );
        std::thread::sleep(Duration::from_secs(30));
        unreachable!("the failed worker did not end the process");
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_worker_that_fails_ends_the_process_with_code_70",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(tailcache_runtime::EXIT_WORKER_FAILED),
        "{stderr}"
    );
    assert!(
        stderr.contains("the test asked the worker to fail"),
        "{stderr}"
    );
}

#[test]
fn a_failed_worker_without_the_exit_policy_is_reported_by_join() {
    let mut running = start(config(), true);
    let runtime = running.runtime.take().unwrap();
    runtime.stopper().stop();
    assert!(!runtime.join(), "join reports the failed worker");
}
