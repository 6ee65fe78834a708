//! The runtime end to end over loopback with a line-echo service.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use support::{bind_loopback, Replies};
use tailcache_runtime::{
    AcceptMode, BackgroundProgress, CloseCause, ConnStats, JobProgress, ManualClock, Processed,
    Runtime, RuntimeConfig, SchedulerStats, Service, ServiceFactory, TaskGroup, WatchdogStats,
};

/// Echoes each `\n`-terminated line; `quit` closes; `big N` replies N bytes;
/// `wait` holds the worker inside the service until the gate opens; `hello`
/// notes how many requests were processed before it; `closed` replies with how
/// many connections the service has seen closed; `dump N` starts a job that
/// writes N lines in bulk steps of 100.
struct Echo {
    processed: Arc<AtomicUsize>,
    gate: Arc<Gate>,
    /// Like a service that checks its output against the high-water mark:
    /// takes nothing while `output` is at least this long.
    refuse_output_over: usize,
    /// `processed` when the last `hello` was processed.
    hello_after: Arc<AtomicUsize>,
    /// Job steps run, over all connections.
    job_steps: Arc<AtomicUsize>,
    /// The next `new_conn` panics (taken back by it).
    panic_next_conn: Arc<AtomicBool>,
    /// While set, maintenance always has more work; `maintenance_seen_at`
    /// keeps the least `processed` any of its steps saw.
    maintenance_busy: Arc<AtomicBool>,
    maintenance_seen_at: Arc<AtomicUsize>,
    /// Connections closed (`on_close` calls), over all workers.
    conns_closed: Arc<AtomicUsize>,
}

/// An echo connection: the lines its dump job has left to write.
#[derive(Default)]
struct EchoConn {
    dump_next: usize,
    dump_end: usize,
    /// Each job step spins this long first (`slowdump N`).
    step_spin: Duration,
}

/// Lines one job step writes.
const DUMP_LINES_PER_STEP: usize = 100;

impl Service for Echo {
    type Conn = EchoConn;

    fn new_conn(&mut self, _tag: usize) -> EchoConn {
        assert!(
            !self.panic_next_conn.swap(false, Ordering::Relaxed),
            "the test asked new_conn to panic"
        );
        EchoConn::default()
    }

    fn on_close(&mut self, _conn: EchoConn, _cause: CloseCause) {
        self.conns_closed.fetch_add(1, Ordering::Relaxed);
    }

    fn background_step(&mut self, group: TaskGroup, _budget: Duration) -> BackgroundProgress {
        if group != TaskGroup::Maintenance || !self.maintenance_busy.load(Ordering::Relaxed) {
            return BackgroundProgress::Idle;
        }
        let processed = self.processed.load(Ordering::Relaxed);
        self.maintenance_seen_at
            .fetch_min(processed, Ordering::Relaxed);
        BackgroundProgress::MoreWork
    }

    fn job_group(&self, conn: &EchoConn) -> Option<TaskGroup> {
        (conn.dump_next < conn.dump_end).then_some(TaskGroup::Bulk)
    }

    fn job_step(&mut self, conn: &mut EchoConn, output: &mut Vec<u8>, _: Duration) -> JobProgress {
        self.job_steps.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        while started.elapsed() < conn.step_spin {}
        let end = conn.dump_end.min(conn.dump_next + DUMP_LINES_PER_STEP);
        for i in conn.dump_next..end {
            output.extend_from_slice(format!("item {i}\n").as_bytes());
        }
        conn.dump_next = end;
        if end == conn.dump_end {
            output.extend_from_slice(b"END\n");
            JobProgress::Done
        } else {
            JobProgress::More
        }
    }

    fn process(&mut self, conn: &mut EchoConn, input: &[u8], output: &mut Vec<u8>) -> Processed {
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
        if line == b"hello" {
            self.hello_after
                .store(self.processed.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        if let Some(n) = line.strip_prefix(b"slowdump ") {
            let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
            (conn.dump_next, conn.dump_end) = (0, n);
            conn.step_spin = Duration::from_millis(1);
            return Processed {
                consumed: end + 1,
                close_after_flush: false,
            };
        }
        if let Some(n) = line.strip_prefix(b"dump ") {
            let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
            (conn.dump_next, conn.dump_end) = (0, n);
            return Processed {
                consumed: end + 1,
                close_after_flush: false,
            };
        }
        if line == b"spin" {
            // The stall the watchdog must catch: 300 ms without a scheduling point.
            let started = Instant::now();
            while started.elapsed() < Duration::from_millis(300) {}
        }
        if let Some(ms) = line.strip_prefix(b"slowms ") {
            // One long request: a turn as long as a multiget of large values.
            let ms: u64 = std::str::from_utf8(ms).unwrap().parse().unwrap();
            let started = Instant::now();
            while started.elapsed() < Duration::from_millis(ms) {}
        }
        if line == b"slow" {
            // Stands in for an expensive request.
            let started = Instant::now();
            while started.elapsed() < Duration::from_micros(20) {}
        }
        if line == b"closed" {
            let closed = self.conns_closed.load(Ordering::Relaxed);
            output.extend_from_slice(format!("closed {closed}\n").as_bytes());
        } else if let Some(n) = line.strip_prefix(b"big ") {
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
    hello_after: Arc<AtomicUsize>,
    job_steps: Arc<AtomicUsize>,
    panic_next_conn: Arc<AtomicBool>,
    maintenance_busy: Arc<AtomicBool>,
    maintenance_seen_at: Arc<AtomicUsize>,
    conns_closed: Arc<AtomicUsize>,
}

impl ServiceFactory for EchoFactory {
    type Service = Echo;

    fn new_worker(&self, _index: usize) -> Echo {
        Echo {
            processed: self.processed.clone(),
            gate: self.gate.clone(),
            refuse_output_over: self.refuse_output_over,
            hello_after: self.hello_after.clone(),
            job_steps: self.job_steps.clone(),
            panic_next_conn: self.panic_next_conn.clone(),
            maintenance_busy: self.maintenance_busy.clone(),
            maintenance_seen_at: self.maintenance_seen_at.clone(),
            conns_closed: self.conns_closed.clone(),
        }
    }
}

struct Harness {
    runtime: Option<Runtime>,
    addr: SocketAddr,
    processed: Arc<AtomicUsize>,
    gate: Arc<Gate>,
    stats: Arc<ConnStats>,
    hello_after: Arc<AtomicUsize>,
    job_steps: Arc<AtomicUsize>,
    sched: Arc<SchedulerStats>,
    watchdog: Arc<WatchdogStats>,
    panic_next_conn: Arc<AtomicBool>,
    maintenance_busy: Arc<AtomicBool>,
    maintenance_seen_at: Arc<AtomicUsize>,
}

impl Harness {
    fn start(config: RuntimeConfig) -> Self {
        let replies = Replies {
            reject: b"ERROR Too many open connections\r\n",
            overflow: b"TOO BIG\r\n",
        };
        let (bound, addr) = bind_loopback(config.workers, config.accept_mode, replies, None);
        let processed = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Gate::default());
        let stats = Arc::new(ConnStats::default());
        let hello_after = Arc::new(AtomicUsize::new(usize::MAX));
        let job_steps = Arc::new(AtomicUsize::new(0));
        let panic_next_conn = Arc::new(AtomicBool::new(false));
        let maintenance_busy = Arc::new(AtomicBool::new(false));
        let maintenance_seen_at = Arc::new(AtomicUsize::new(usize::MAX));
        let factory = Arc::new(EchoFactory {
            panic_next_conn: panic_next_conn.clone(),
            maintenance_busy: maintenance_busy.clone(),
            maintenance_seen_at: maintenance_seen_at.clone(),
            processed: processed.clone(),
            gate: gate.clone(),
            refuse_output_over: config.write_buffer_high_water_bytes,
            hello_after: hello_after.clone(),
            job_steps: job_steps.clone(),
            conns_closed: Arc::new(AtomicUsize::new(0)),
        });
        let runtime = Runtime::start(config, vec![bound], factory, stats.clone()).unwrap();
        let sched = runtime.scheduler_stats();
        let watchdog = runtime.watchdog_stats();
        Self {
            runtime: Some(runtime),
            addr,
            processed,
            gate,
            stats,
            hello_after,
            job_steps,
            sched,
            watchdog,
            panic_next_conn,
            maintenance_busy,
            maintenance_seen_at,
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
fn a_cheap_request_waits_for_one_long_turn_not_a_round_of_them() {
    const LONG_MS: u64 = 30;
    const HEAVY_CLIENTS: usize = 6;
    let h = Harness::start(RuntimeConfig {
        // Far above a ping's turn even on a busy machine, far below a long one.
        heavy_turn: Duration::from_millis(2),
        ..config(1)
    });
    let stop = Arc::new(AtomicBool::new(false));
    let heavy_replies = Arc::new(AtomicUsize::new(0));
    // Each heavy client sends its next long request as soon as it has the reply,
    // so most of them are ready whenever the cheap one asks.
    let heavy: Vec<_> = (0..HEAVY_CLIENTS)
        .map(|_| {
            let mut conn = h.connect();
            let (stop, replies) = (stop.clone(), heavy_replies.clone());
            std::thread::spawn(move || {
                let request = format!("slowms {LONG_MS}\n");
                let mut reply = vec![0u8; request.len()];
                while !stop.load(Ordering::Relaxed) {
                    conn.write_all(request.as_bytes()).unwrap();
                    conn.read_exact(&mut reply).unwrap();
                    replies.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Two long turns each make them heavy.
    while heavy_replies.load(Ordering::Relaxed) < 3 * HEAVY_CLIENTS {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut cheap = h.connect();
    // Not timed: the connection is accepted between two long turns, and its first
    // request is seen at the poll after the next one.
    cheap.write_all(b"ping\n").unwrap();
    cheap.read_exact(&mut [0u8; 5]).unwrap();
    let mut slowest = Duration::ZERO;
    let replies_before = heavy_replies.load(Ordering::Relaxed);
    for _ in 0..15 {
        let started = Instant::now();
        cheap.write_all(b"ping\n").unwrap();
        let mut reply = [0u8; 5];
        cheap.read_exact(&mut reply).unwrap();
        slowest = slowest.max(started.elapsed());
        std::thread::sleep(Duration::from_millis(7));
    }
    let heavy_served = heavy_replies.load(Ordering::Relaxed) - replies_before;
    stop.store(true, Ordering::Relaxed);
    for client in heavy {
        client.join().unwrap();
    }
    assert!(
        heavy_served >= 2 * HEAVY_CLIENTS,
        "the heavy clients were not being served ({heavy_served} replies): the test proves nothing"
    );
    // In arrival order it would wait for most of the heavy clients' turns (about
    // 150-180 ms); light-first, for the one turn under way (up to 30 ms, and the
    // rest is room for a busy machine).
    assert!(
        slowest < Duration::from_millis(LONG_MS * 10 / 3),
        "a cheap request waited {slowest:?} behind {LONG_MS} ms turns"
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

/// Holds the worker in `wait`, queues `hog_requests` behind it on one
/// connection and `hello` on another, then lets go: returns how many of the
/// hog's requests were processed before `hello`.
fn hog_requests_before_hello(config: RuntimeConfig, hog_requests: &[u8]) -> usize {
    let h = Harness::start(config);
    let mut hog = h.connect();
    let mut sent = b"wait\n".to_vec();
    sent.extend_from_slice(hog_requests);
    hog.write_all(&sent).unwrap();
    let hog_reader = std::thread::spawn(move || {
        let mut sink = [0u8; 64 * 1024];
        while hog.read(&mut sink).is_ok_and(|n| n > 0) {}
    });
    h.gate.wait_entered();
    let mut other = h.connect();
    other.write_all(b"hello\n").unwrap();
    // Let the kernel finish the handshake and queue the bytes while the worker is held.
    std::thread::sleep(Duration::from_millis(50));
    h.gate.open();
    let mut reply = [0u8; 6];
    other.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"hello\n");
    let before_hello = h.hello_after.load(Ordering::Relaxed);
    drop(h);
    hog_reader.join().unwrap();
    before_hello
}

#[test]
fn a_deep_pipeline_is_served_in_slices_counted_in_requests() {
    // 20 000 two-byte requests arrive in one read (40 KB, under the read
    // budget): without a request budget all run in one turn, before `hello`.
    let before = hog_requests_before_hello(config(1), &b"x\n".repeat(20_000));
    assert!(
        before < 2_000,
        "{before} of the hog's requests ran before another client's one"
    );
}

#[test]
fn large_replies_are_served_in_slices_counted_in_bytes_written() {
    // Each request makes a 100 KB reply; the hog reads them all. Without a
    // budget of bytes written, a turn goes on while the socket takes them.
    let before = hog_requests_before_hello(
        RuntimeConfig {
            write_buffer_high_water_bytes: 64 << 20,
            ..config(1)
        },
        &b"big 100000\n".repeat(500),
    );
    assert!(
        before < 50,
        "{before} large replies went out before another client's request"
    );
}

#[test]
fn a_job_runs_in_bulk_steps_and_the_requests_behind_it_wait_their_turn() {
    let h = Harness::start(config(1));
    let mut c = h.connect();
    let lines = 5_000;
    c.write_all(format!("a\ndump {lines}\nb\nquit\n").as_bytes())
        .unwrap();
    let got = read_to_eof(&mut c);
    let mut expected = b"a\n".to_vec();
    for i in 0..lines {
        expected.extend_from_slice(format!("item {i}\n").as_bytes());
    }
    expected.extend_from_slice(b"END\nb\n");
    assert!(got == expected, "the job's output or the order is wrong");
    let bulk = h.sched.group(TaskGroup::Bulk);
    assert_eq!(
        h.job_steps.load(Ordering::Relaxed),
        lines / DUMP_LINES_PER_STEP
    );
    // The job's steps, and the worker's look for its own bulk work.
    assert!(bulk.tasks_run as usize >= lines / DUMP_LINES_PER_STEP);
    assert!(bulk.runtime_ns > 0);
    // The job has left the queue. The gauge also counts the worker's periodic look for
    // its own bulk work, which a turn that ends early (a connection became ready)
    // leaves pending until the next turn: so it reads 0 soon, not at once.
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.sched.group(TaskGroup::Bulk).queue_length != 0 {
        assert!(Instant::now() < deadline, "the bulk queue never emptied");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(h.sched.scheduling_delay().count() > 0);
    assert!(h.sched.turn_duration().count() > 0);
}

#[test]
fn other_clients_are_served_while_a_job_runs() {
    let h = Harness::start(config(1));
    let mut dumper = h.connect();
    dumper.write_all(b"dump 100000000\n").unwrap();
    let dump_reader = std::thread::spawn(move || {
        let mut sink = [0u8; 64 * 1024];
        let mut total = 0;
        while total < 20 << 20 {
            match dumper.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
        total
    });
    while h.job_steps.load(Ordering::Relaxed) < 10 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut other = h.connect();
    for i in 0..100 {
        let started = Instant::now();
        let line = format!("ping {i}\n");
        other.write_all(line.as_bytes()).unwrap();
        let mut reply = vec![0u8; line.len()];
        other.read_exact(&mut reply).unwrap();
        assert_eq!(reply, line.as_bytes());
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "a request waited {:?} behind a job",
            started.elapsed()
        );
    }
    assert!(dump_reader.join().unwrap() >= 20 << 20, "the dump stalled");
}

#[test]
fn a_job_whose_client_does_not_read_pauses_at_the_high_water_mark() {
    let h = Harness::start(RuntimeConfig {
        write_buffer_high_water_bytes: 64 << 10,
        ..config(1)
    });
    let mut dumper = h.connect();
    dumper.write_all(b"dump 100000000\n").unwrap();
    // Never read: the socket buffers fill, then the job must stop stepping.
    let mut last = 0;
    let mut steady_checks = 0;
    for _ in 0..400 {
        std::thread::sleep(Duration::from_millis(10));
        let steps = h.job_steps.load(Ordering::Relaxed);
        if steps == last {
            steady_checks += 1;
            if steady_checks == 20 {
                break;
            }
        } else {
            steady_checks = 0;
        }
        last = steps;
    }
    assert_eq!(
        steady_checks, 20,
        "the job kept running for a client that reads nothing"
    );
    // About 1.5 MB of lines per 10 000 steps: far below the 100 M lines asked.
    assert!(last < 20_000, "{last} steps ran without a reader");
    // And the worker still serves others.
    let mut other = h.connect();
    other.write_all(b"ping\n").unwrap();
    let mut reply = [0u8; 5];
    other.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"ping\n");
}

#[test]
fn idle_timeout_follows_the_injected_clock() {
    let clock = Arc::new(ManualClock::new());
    let h = Harness::start(RuntimeConfig {
        idle_timeout: Some(Duration::from_secs(600)),
        clock: clock.clone(),
        ..config(1)
    });
    let mut c = h.connect();
    c.write_all(b"hi\n").unwrap();
    let mut reply = [0u8; 3];
    c.read_exact(&mut reply).unwrap();
    // Real time passes, the clock stands still: the connection stays.
    std::thread::sleep(Duration::from_millis(100));
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut byte = [0u8; 1];
    let still_open =
        matches!(c.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    assert!(still_open, "closed before the clock moved");
    // Ten minutes pass on the clock in an instant: the next scan closes it.
    clock.advance(Duration::from_secs(601));
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(read_to_eof(&mut c), b"");
    assert_eq!(h.stats.snapshot().idle_closed, 1);
}

#[test]
fn timed_out_connections_are_closed_a_heavy_turn_at_a_time() {
    const STALLED: usize = 8;
    let clock = Arc::new(ManualClock::new());
    let h = Harness::start(RuntimeConfig {
        clock: clock.clone(),
        request_timeout: Some(Duration::from_secs(1)),
        // Every close takes longer than this: one close per scan.
        heavy_turn: Duration::from_nanos(1),
        // The worker wakes only for events, so the test decides which turn scans.
        background_interval: Duration::from_secs(30),
        ..config(1)
    });
    // The lowest session indices: the scan looks at these first.
    let mut stalled: Vec<TcpStream> = (0..STALLED)
        .map(|_| {
            let mut conn = h.connect();
            conn.write_all(b"a request that never ends").unwrap();
            conn
        })
        .collect();
    let mut holder = h.connect();
    let mut asker = h.connect();
    // Once the asker has a reply, the worker has read the partial requests, which
    // arrived before it (their stall starts).
    asker.write_all(b"hi\n").unwrap();
    let mut hi = [0u8; 3];
    asker.read_exact(&mut hi).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    // Every partial request is now past its timeout; the turn that serves `wait`
    // ends with the idle scan, and the asker's request arrives during that turn.
    clock.advance(Duration::from_secs(5));
    holder.write_all(b"wait\n").unwrap();
    h.gate.wait_entered();
    asker.write_all(b"closed\n").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    h.gate.open();
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while reply.last() != Some(&b'\n') {
        asker.read_exact(&mut byte).unwrap();
        reply.push(byte[0]);
    }
    let text = String::from_utf8(reply).unwrap();
    let closed: usize = text
        .trim_end()
        .strip_prefix("closed ")
        .unwrap()
        .parse()
        .unwrap();
    // One scan closing every timed-out connection before the next poll would
    // have answered STALLED.
    assert_eq!(
        closed, 1,
        "the asker was served after {closed} of {STALLED} timed-out connections were closed"
    );
    for conn in &mut stalled {
        assert!(
            read_to_eof(conn).is_empty(),
            "a stalled connection got a reply"
        );
    }
    assert_eq!(h.stats.snapshot().stalled_closed, STALLED as u64);
}

#[test]
fn a_worker_stuck_in_a_request_is_reported_with_its_task() {
    // A threshold well above what preemption on a loaded CI machine costs, so
    // that only the injected stall is one.
    let mut h = Harness::start(RuntimeConfig {
        stall_threshold: Some(Duration::from_millis(100)),
        stall_backtraces: false,
        ..config(1)
    });
    let mut c = h.connect();
    c.write_all(b"hi\n").unwrap();
    let mut reply = [0u8; 3];
    c.read_exact(&mut reply).unwrap();
    let before = h.watchdog.stalls_total();
    c.write_all(b"spin\n").unwrap();
    let mut reply = [0u8; 5];
    c.read_exact(&mut reply).unwrap();
    assert!(h.stop());
    assert_eq!(h.watchdog.stalls_total(), before + 1);
    let stall = h.watchdog.last_stall().expect("a report");
    assert_eq!((stall.worker_index, stall.task), (0, "serve"));
    assert!(stall.stalled_for >= Duration::from_millis(100), "{stall:?}");
}

#[test]
fn a_request_arriving_during_background_work_waits_one_step_not_the_quota() {
    // A quota of 200 ms and job steps of 1 ms each: a request that arrives
    // mid-quota is served after the step in progress.
    let h = Harness::start(RuntimeConfig {
        task_quota: Duration::from_millis(200),
        ..config(1)
    });
    let mut dumper = h.connect();
    dumper.write_all(b"slowdump 100000000\n").unwrap();
    let dump_reader = std::thread::spawn(move || {
        let mut sink = [0u8; 64 * 1024];
        let mut total = 0;
        while total < 2 << 20 {
            match dumper.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    });
    while h.job_steps.load(Ordering::Relaxed) < 5 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut other = h.connect();
    let mut waits = Vec::new();
    for i in 0..20 {
        let line = format!("ping {i}\n");
        let started = Instant::now();
        other.write_all(line.as_bytes()).unwrap();
        let mut reply = vec![0u8; line.len()];
        other.read_exact(&mut reply).unwrap();
        waits.push(started.elapsed());
        std::thread::sleep(Duration::from_millis(3));
    }
    waits.sort();
    let median = waits[waits.len() / 2];
    assert!(
        median < Duration::from_millis(50),
        "median wait {median:?} behind 1 ms job steps (quota 200 ms): {waits:?}"
    );
    drop(h);
    dump_reader.join().unwrap();
}

#[test]
fn a_panic_accepting_a_connection_closes_only_it() {
    let h = Harness::start(config(1));
    h.panic_next_conn.store(true, Ordering::Relaxed);
    let mut refused = h.connect();
    assert_eq!(read_to_eof(&mut refused), b"");
    assert_eq!(h.stats.snapshot().service_panics, 1);
    assert_eq!(h.stats.snapshot().current, 0, "the slot is given back");
    let mut c = h.connect();
    c.write_all(b"still\nquit\n").unwrap();
    assert_eq!(read_to_eof(&mut c), b"still\n");
}

/// Maintenance that always has work, behind a connection that always has
/// requests waiting: it still gets its minimum share of the worker, and only
/// that (`background_deferred` counts the turns it waited).
fn maintenance_runs_during_a_saturating_pipeline(min_share_percent: u8) -> (usize, usize, u64) {
    let h = Harness::start(RuntimeConfig {
        background_min_share_percent: min_share_percent,
        ..config(1)
    });
    let requests = 200_000;
    let mut hog = h.connect();
    let mut reader = hog.try_clone().unwrap();
    let drain = std::thread::spawn(move || {
        let mut sink = [0u8; 64 * 1024];
        let mut total = 0;
        while total < requests * 2 {
            match reader.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    });
    // Held in `wait` while the whole pipeline is queued, so that requests
    // are always waiting once it lets go.
    let mut sent = b"wait\n".to_vec();
    sent.extend_from_slice(&b"x\n".repeat(requests));
    let writer = std::thread::spawn(move || hog.write_all(&sent).unwrap());
    h.gate.wait_entered();
    h.maintenance_busy.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(100));
    h.gate.open();
    writer.join().unwrap();
    drain.join().unwrap();
    let seen_at = h.maintenance_seen_at.load(Ordering::Relaxed);
    let deferred = h.sched.background_deferred();
    let total = h.processed.load(Ordering::Relaxed);
    h.maintenance_busy.store(false, Ordering::Relaxed);
    (seen_at, total, deferred)
}

#[test]
fn background_work_gets_its_minimum_share_while_requests_always_wait() {
    let (seen_at, total, deferred) = maintenance_runs_during_a_saturating_pipeline(10);
    assert!(
        seen_at < total - 1_000,
        "maintenance first ran at request {seen_at} of {total}: only after the pipeline"
    );
    assert!(deferred > 0, "background never waited for requests");
    // Without a minimum share it waits for the pipeline to drain.
    let (seen_at, total, _) = maintenance_runs_during_a_saturating_pipeline(0);
    assert!(
        seen_at >= total - 1_000,
        "maintenance ran at request {seen_at} of {total} without a share"
    );
}
