//! The runtime end to end over loopback with a line-echo service.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tailcache_runtime::{
    AcceptMode, BoundListener, ConnStats, ListenAddr, ListenerSpec, LocalAddr, Processed, Runtime,
    RuntimeConfig, Service, ServiceFactory,
};

/// Echoes each `\n`-terminated line; `quit` closes; `big N` replies N bytes;
/// `wait` holds the worker inside the service until the gate opens.
struct Echo {
    processed: Arc<AtomicUsize>,
    gate: Arc<Gate>,
    /// Like a service that checks its output against the high-water mark:
    /// takes nothing while `output` is at least this long.
    refuse_output_over: usize,
}

impl Service for Echo {
    type Conn = ();

    fn new_conn(&mut self, _tag: usize) {}

    fn process(&mut self, _conn: &mut (), input: &[u8], output: &mut Vec<u8>) -> Processed {
        let Some(end) = input.iter().position(|&b| b == b'\n') else {
            return Processed::default();
        };
        if output.len() >= self.refuse_output_over {
            return Processed::default();
        }
        self.processed.fetch_add(1, Ordering::Relaxed);
        let line = &input[..end];
        if line == b"quit" {
            return Processed {
                consumed: end + 1,
                close_after_flush: true,
            };
        }
        assert!(line != b"panic", "the test asked for a panic");
        if line == b"wait" {
            self.gate.pass();
        }
        if line == b"slow" {
            // Stands in for an expensive request.
            let started = Instant::now();
            while started.elapsed() < Duration::from_micros(20) {}
        }
        if let Some(n) = line.strip_prefix(b"big ") {
            let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
            output.resize(output.len() + n, b'x');
        } else {
            output.extend_from_slice(&input[..=end]);
        }
        Processed {
            consumed: end + 1,
            close_after_flush: false,
        }
    }
}

/// Holds a worker busy at a point the test chooses.
#[derive(Default)]
struct Gate {
    entered: AtomicBool,
    opened: AtomicBool,
}

impl Gate {
    /// Bounds a test that forgets to open the gate.
    const MAX_WAIT: Duration = Duration::from_secs(10);

    fn pass(&self) {
        self.entered.store(true, Ordering::Release);
        let started = Instant::now();
        while !self.opened.load(Ordering::Acquire) && started.elapsed() < Self::MAX_WAIT {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn wait_entered(&self) {
        let started = Instant::now();
        while !self.entered.load(Ordering::Acquire) {
            assert!(
                started.elapsed() < Self::MAX_WAIT,
                "worker never reached the gate"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn open(&self) {
        self.opened.store(true, Ordering::Release);
    }
}

struct EchoFactory {
    processed: Arc<AtomicUsize>,
    gate: Arc<Gate>,
    refuse_output_over: usize,
}

impl ServiceFactory for EchoFactory {
    type Service = Echo;

    fn new_worker(&self, _index: usize) -> Echo {
        Echo {
            processed: self.processed.clone(),
            gate: self.gate.clone(),
            refuse_output_over: self.refuse_output_over,
        }
    }
}

struct Harness {
    runtime: Option<Runtime>,
    addr: SocketAddr,
    processed: Arc<AtomicUsize>,
    gate: Arc<Gate>,
    stats: Arc<ConnStats>,
}

impl Harness {
    fn start(config: RuntimeConfig) -> Self {
        let spec = ListenerSpec {
            addr: ListenAddr::Tcp("127.0.0.1:0".parse().unwrap()),
            tag: 0,
            reject_reply: b"ERROR Too many open connections\r\n".to_vec(),
            overflow_reply: b"TOO BIG\r\n".to_vec(),
            backlog: tailcache_runtime::DEFAULT_LISTEN_BACKLOG,
        };
        let bound = BoundListener::bind(spec, config.workers, config.accept_mode).unwrap();
        let LocalAddr::Tcp(addr) = bound.local_addr().clone() else {
            unreachable!()
        };
        let processed = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Gate::default());
        let stats = Arc::new(ConnStats::default());
        let factory = Arc::new(EchoFactory {
            processed: processed.clone(),
            gate: gate.clone(),
            refuse_output_over: config.write_buffer_high_water_bytes,
        });
        let runtime = Runtime::start(config, vec![bound], factory, stats.clone()).unwrap();
        Self {
            runtime: Some(runtime),
            addr,
            processed,
            gate,
            stats,
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
    }

    fn stop(&mut self) -> bool {
        let runtime = self.runtime.take().unwrap();
        runtime.stopper().stop();
        runtime.join()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if self.runtime.is_some() {
            self.stop();
        }
    }
}

fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    if let Err(e) = stream.read_to_end(&mut all) {
        panic!("read failed after {} bytes: {e}", all.len());
    }
    all
}

fn config(workers: usize) -> RuntimeConfig {
    RuntimeConfig {
        workers,
        ..RuntimeConfig::default()
    }
}

#[test]
fn pipelined_requests_are_all_answered_in_order() {
    for mode in [AcceptMode::ReusePort, AcceptMode::Shared] {
        let h = Harness::start(RuntimeConfig {
            accept_mode: mode,
            ..config(2)
        });
        let mut c = h.connect();
        let mut sent = Vec::new();
        for i in 0..1000 {
            sent.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        sent.extend_from_slice(b"quit\n");
        c.write_all(&sent).unwrap();
        let got = read_to_eof(&mut c);
        assert_eq!(got, sent[..sent.len() - 5]);
    }
}

#[test]
fn connection_limit_rejects_with_callers_reply() {
    let h = Harness::start(RuntimeConfig {
        max_connections: 2,
        ..config(1)
    });
    let mut a = h.connect();
    let mut b = h.connect();
    // Round trips make sure both are admitted before the third arrives.
    for c in [&mut a, &mut b] {
        c.write_all(b"hi\n").unwrap();
        let mut buf = [0u8; 3];
        c.read_exact(&mut buf).unwrap();
    }
    let mut third = h.connect();
    // A client that talks at once still sees the reply, not a reset.
    third.write_all(b"early request\n").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        read_to_eof(&mut third),
        b"ERROR Too many open connections\r\n"
    );
    assert_eq!(h.stats.snapshot().rejected, 1);
    drop(a);
    // The freed slot is reusable once the worker has seen the close.
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.stats.snapshot().current > 1 {
        assert!(Instant::now() < deadline, "close never counted");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut fourth = h.connect();
    fourth.write_all(b"ok\nquit\n").unwrap();
    assert_eq!(read_to_eof(&mut fourth), b"ok\n");
}

#[test]
fn request_larger_than_read_buffer_gets_overflow_reply_and_close() {
    let h = Harness::start(RuntimeConfig {
        read_buffer_initial_bytes: 16,
        read_buffer_max_bytes: 64,
        ..config(1)
    });
    let mut c = h.connect();
    c.write_all(b"short\n").unwrap();
    c.write_all(&[b'a'; 100]).unwrap();
    assert_eq!(read_to_eof(&mut c), b"short\nTOO BIG\r\n");
    assert_eq!(h.stats.snapshot().overflow_closed, 1);
}

#[test]
fn idle_connection_is_closed_after_timeout() {
    let h = Harness::start(RuntimeConfig {
        idle_timeout: Some(Duration::from_millis(100)),
        ..config(1)
    });
    let mut c = h.connect();
    let started = Instant::now();
    assert_eq!(read_to_eof(&mut c), b"");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(h.stats.snapshot().idle_closed, 1);
}

#[test]
fn partial_request_is_closed_after_request_timeout() {
    let h = Harness::start(RuntimeConfig {
        request_timeout: Some(Duration::from_millis(100)),
        ..config(1)
    });
    let mut c = h.connect();
    c.write_all(b"done\nnever finish").unwrap();
    let started = Instant::now();
    // Keep the connection busy so the idle timeout cannot be what closes it.
    assert_eq!(read_to_eof(&mut c), b"done\n");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(h.stats.snapshot().stalled_closed, 1);
    // A connection with complete requests only is left alone.
    let mut quiet = h.connect();
    quiet.write_all(b"x\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    quiet.write_all(b"quit\n").unwrap();
    assert_eq!(read_to_eof(&mut quiet), b"x\n");
}

#[test]
fn client_that_never_reads_stops_being_read() {
    let h = Harness::start(RuntimeConfig {
        write_buffer_high_water_bytes: 64 * 1024,
        ..config(1)
    });
    let mut c = h.connect();
    let requests = 100;
    let reply_bytes = 512 << 10;
    for _ in 0..requests {
        c.write_all(format!("big {reply_bytes}\n").as_bytes())
            .unwrap();
    }
    // Let the server run as far as it can while nothing is read.
    let mut last = usize::MAX;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(10));
        let now = h.processed.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
    let stalled_at = h.processed.load(Ordering::Relaxed);
    assert!(
        stalled_at < requests / 2,
        "server buffered {stalled_at} MiB replies"
    );
    // Once the client reads, everything arrives.
    c.write_all(b"quit\n").unwrap();
    let got = read_to_eof(&mut c);
    assert_eq!(got.len(), requests * reply_bytes);
}

#[test]
fn stop_flushes_replies_to_requests_already_sent() {
    let mut h = Harness::start(config(2));
    let mut c = h.connect();
    c.write_all(b"one\n").unwrap();
    let mut buf = [0u8; 4];
    c.read_exact(&mut buf).unwrap();
    c.write_all(b"two\nthree\n").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    assert!(h.stop());
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(read_to_eof(&mut c), b"two\nthree\n");
    assert!(
        TcpStream::connect(h.addr).is_err(),
        "still accepting after stop"
    );
}

/// The stop lands while the worker is busy and the other connection's
/// bytes are in its socket, reported by no poll yet: they are still read
/// (past several turn budgets) and answered before the close.
#[test]
fn stop_answers_requests_whose_readiness_was_never_polled() {
    let mut h = Harness::start(RuntimeConfig {
        turn_budget_bytes: 1024,
        ..config(1)
    });
    let mut quiet = h.connect();
    quiet.write_all(b"one\n").unwrap();
    let mut buf = [0u8; 4];
    quiet.read_exact(&mut buf).unwrap();
    let mut busy = h.connect();
    busy.write_all(b"wait\n").unwrap();
    h.gate.wait_entered();
    let pipeline = b"two\n".repeat(10_000);
    quiet.write_all(&pipeline).unwrap();
    h.runtime.as_ref().unwrap().stopper().stop();
    h.gate.open();
    let reader = std::thread::spawn(move || read_to_eof(&mut quiet));
    assert!(h.stop());
    assert_eq!(read_to_eof(&mut busy), b"wait\n");
    assert!(
        reader.join().unwrap() == pipeline,
        "replies lost or changed"
    );
}

#[test]
fn deep_pipeline_does_not_starve_another_connection() {
    let h = Harness::start(RuntimeConfig {
        turn_budget_bytes: 1024,
        write_buffer_high_water_bytes: 64 << 20,
        ..config(1)
    });
    let mut hog = h.connect();
    let requests = 50_000; // about 1 s of work at 20 µs each
    hog.write_all(&b"slow\n".repeat(requests)).unwrap();
    while h.processed.load(Ordering::Relaxed) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut other = h.connect();
    let started = Instant::now();
    other.write_all(b"hello\n").unwrap();
    let mut reply = [0u8; 6];
    other.read_exact(&mut reply).unwrap();
    let waited = started.elapsed();
    let done = h.processed.load(Ordering::Relaxed);
    assert!(
        done < requests,
        "the hog finished first; the test proves nothing"
    );
    assert!(
        waited < Duration::from_millis(300),
        "waited {waited:?} behind a pipeline"
    );
}

#[test]
fn stop_flushes_large_pending_output_to_a_slow_reader() {
    let mut h = Harness::start(RuntimeConfig {
        write_buffer_high_water_bytes: 64 << 10,
        ..config(2)
    });
    let mut c = h.connect();
    let reply_bytes = 8 << 20; // far more than the socket buffers hold
    c.write_all(format!("big {reply_bytes}\n").as_bytes())
        .unwrap();
    while h.processed.load(Ordering::Relaxed) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let reader = std::thread::spawn(move || read_to_eof(&mut c).len());
    assert!(h.stop());
    assert_eq!(reader.join().unwrap(), reply_bytes);
}

#[test]
fn service_panic_closes_only_that_connection() {
    let h = Harness::start(config(1));
    let mut bystander = h.connect();
    bystander.write_all(b"before\n").unwrap();
    let mut buf = [0u8; 7];
    bystander.read_exact(&mut buf).unwrap();
    let mut culprit = h.connect();
    culprit.write_all(b"ok\npanic\nnever\n").unwrap();
    assert_eq!(read_to_eof(&mut culprit), b"ok\n");
    assert_eq!(h.stats.snapshot().service_panics, 1);
    bystander.write_all(b"after\nquit\n").unwrap();
    assert_eq!(read_to_eof(&mut bystander), b"after\n");
}

#[test]
fn service_that_waits_for_output_room_is_resumed() {
    let high_water = 64 << 10;
    let h = Harness::start(RuntimeConfig {
        write_buffer_high_water_bytes: high_water,
        ..config(1)
    });
    let mut c = h.connect();
    let requests = 400;
    let reply_bytes = 3000;
    let mut sent = format!("big {reply_bytes}\n").repeat(requests).into_bytes();
    sent.extend_from_slice(b"quit\n");
    c.write_all(&sent).unwrap();
    // Let partial writes leave already-written bytes at the buffer's front.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(read_to_eof(&mut c).len(), requests * reply_bytes);
}

#[test]
fn half_closed_client_gets_all_replies() {
    let h = Harness::start(config(1));
    let mut c = h.connect();
    c.write_all(b"a\nb\npartial").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_to_eof(&mut c), b"a\nb\n");
}
