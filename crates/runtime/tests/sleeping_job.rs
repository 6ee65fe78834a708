//! A job that sleeps until something happens (a log watcher): it wakes on its
//! own, costs nothing while it sleeps, is never closed as idle, and ends with its
//! client or the server; and every close is reported with its cause.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod support;

use support::{bind_loopback, Replies};
use tailcache_runtime::{
    CloseCause, ConnStats, JobProgress, Processed, Runtime, RuntimeConfig, Service, ServiceFactory,
    TaskGroup,
};

/// How long a watcher's job sleeps when the feed is empty.
const SLEEP: Duration = Duration::from_millis(20);
/// How long a step that takes a `slow\n` feed line works, writing nothing.
const SLOW_STEP: Duration = Duration::from_millis(300);

/// What the test and the workers share.
#[derive(Default)]
struct Shared {
    /// Lines waiting for the watchers (each watcher takes what is there).
    feed: Mutex<Vec<u8>>,
    job_steps: AtomicUsize,
    /// Steps that took a `slow` line from the feed (each takes `SLOW_STEP`).
    slow_steps: AtomicUsize,
    closes: Mutex<Vec<CloseCause>>,
}

/// `watch\n` turns the connection into a watcher of the feed; `quit\n` closes;
/// any other line is echoed.
struct Watchers {
    shared: Arc<Shared>,
}

impl Service for Watchers {
    type Conn = bool;

    fn new_conn(&mut self, _tag: usize) -> bool {
        false
    }

    fn process(&mut self, watching: &mut bool, input: &[u8], output: &mut Vec<u8>) -> Processed {
        let Some(end) = input.iter().position(|&b| b == b'\n') else {
            return Processed::default();
        };
        match &input[..end] {
            b"watch" => {
                *watching = true;
                output.extend_from_slice(b"OK\n");
            }
            b"quit" => {
                return Processed {
                    consumed: end + 1,
                    close_after_flush: true,
                }
            }
            line => {
                output.extend_from_slice(line);
                output.push(b'\n');
            }
        }
        Processed {
            consumed: end + 1,
            close_after_flush: false,
        }
    }

    fn job_group(&self, watching: &bool) -> Option<TaskGroup> {
        watching.then_some(TaskGroup::Bulk)
    }

    fn job_step(&mut self, _: &mut bool, output: &mut Vec<u8>, _: Duration) -> JobProgress {
        self.shared.job_steps.fetch_add(1, Ordering::Relaxed);
        let mut feed = self.shared.feed.lock().unwrap();
        if feed.is_empty() {
            return JobProgress::Sleep(SLEEP);
        }
        if feed.as_slice() == b"slow\n" {
            feed.clear();
            drop(feed);
            self.shared.slow_steps.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(SLOW_STEP);
            return JobProgress::More;
        }
        output.append(&mut feed);
        JobProgress::More
    }

    fn on_close(&mut self, _: bool, cause: CloseCause) {
        self.shared.closes.lock().unwrap().push(cause);
    }
}

struct Factory(Arc<Shared>);

impl ServiceFactory for Factory {
    type Service = Watchers;

    fn new_worker(&self, _index: usize) -> Watchers {
        Watchers {
            shared: self.0.clone(),
        }
    }
}

fn start(shared: &Arc<Shared>) -> (Runtime, SocketAddr) {
    let config = RuntimeConfig {
        workers: 1,
        // Shorter than the watcher's silence below: a waiting job is not idle.
        idle_timeout: Some(Duration::from_millis(150)),
        ..RuntimeConfig::default()
    };
    let replies = Replies {
        reject: b"ERROR\r\n",
        overflow: b"TOO BIG\r\n",
    };
    let (bound, addr) = bind_loopback(config.workers, config.accept_mode, replies, None);
    let factory = Arc::new(Factory(shared.clone()));
    let stats = Arc::new(ConnStats::default());
    (
        Runtime::start(config, vec![bound], factory, stats).unwrap(),
        addr,
    )
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// A connection turned into a watcher (its `OK` checked).
fn open_watcher(addr: SocketAddr) -> TcpStream {
    let mut watcher = connect(addr);
    watcher.write_all(b"watch\n").unwrap();
    assert_eq!(read_exactly(&mut watcher, 3), b"OK\n");
    watcher
}

fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut got = vec![0; len];
    stream.read_exact(&mut got).unwrap();
    got
}

/// Waits up to 5 s for `closes` to hold `count` causes; returns them.
fn wait_for_closes(shared: &Shared, count: usize) -> Vec<CloseCause> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let closes = shared.closes.lock().unwrap().clone();
        if closes.len() >= count || Instant::now() > deadline {
            return closes;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_sleeping_job_wakes_by_itself_and_ends_with_its_client() {
    let shared = Arc::new(Shared::default());
    let (runtime, addr) = start(&shared);
    let mut watcher = open_watcher(addr);

    // Nothing happens: the job sleeps rather than spinning.
    let steps_before = shared.job_steps.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(400));
    let idle_steps = shared.job_steps.load(Ordering::Relaxed) - steps_before;
    assert!(
        (2..=40).contains(&idle_steps),
        "400 ms of sleeping {SLEEP:?} at a time took {idle_steps} steps"
    );

    // A line fed from elsewhere reaches the watcher with no event on its socket.
    shared.feed.lock().unwrap().extend_from_slice(b"line one\n");
    let sent = Instant::now();
    assert_eq!(read_exactly(&mut watcher, 9), b"line one\n");
    assert!(sent.elapsed() < Duration::from_secs(1));

    // Another client is served meanwhile, then quits: a normal close.
    let mut other = connect(addr);
    other.write_all(b"hello\nquit\n").unwrap();
    assert_eq!(read_exactly(&mut other, 6), b"hello\n");
    let mut rest = Vec::new();
    other.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert_eq!(wait_for_closes(&shared, 1), vec![CloseCause::Normal]);

    // The watcher's client hangs up: its job ends and it is closed, normally.
    drop(watcher);
    assert_eq!(
        wait_for_closes(&shared, 2),
        vec![CloseCause::Normal, CloseCause::Normal]
    );

    // A watcher open at shutdown closes for the shutdown.
    let mut last = open_watcher(addr);
    runtime.stopper().stop();
    assert!(runtime.join(), "the runtime stops cleanly");
    let closes = wait_for_closes(&shared, 3);
    assert_eq!(closes.last(), Some(&CloseCause::Shutdown), "{closes:?}");
    let mut rest = Vec::new();
    let _ = last.read_to_end(&mut rest);
    assert!(rest.is_empty());
}

#[test]
fn a_client_that_hangs_up_while_its_job_is_awake_is_closed_when_the_job_sleeps() {
    let shared = Arc::new(Shared::default());
    let (runtime, addr) = start(&shared);
    let watcher = open_watcher(addr);

    // The job is busy (a step that writes nothing) when the client hangs up, so
    // the hang-up is seen while the job is awake; it then sleeps with nothing
    // more to write, and no later event on the socket would say it is gone.
    shared.feed.lock().unwrap().extend_from_slice(b"slow\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    while shared.slow_steps.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the slow step never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(watcher);
    let closed = wait_for_closes(&shared, 1);
    assert_eq!(
        closed,
        vec![CloseCause::Normal],
        "the hang-up was never acted on"
    );
    runtime.stopper().stop();
    assert!(runtime.join(), "the runtime stops cleanly");
}
