//! The watchdog against real threads: a spinning worker is one stall with its
//! own stack in the report, a beating or idle one is none, and backtraces obey
//! their rate limit.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tailcache_runtime::{Heartbeat, Watchdog, WatchdogConfig, WatchdogStats};

const THRESHOLD: Duration = Duration::from_millis(20);

/// A threshold for the tests that expect no stall: far above a 1 ms beat, so
/// that a loaded test machine descheduling a thread does not fake one, yet
/// well below the 200 ms the tests run.
const QUIET_THRESHOLD: Duration = Duration::from_millis(50);

fn config(threshold: Duration, backtrace_min_interval: Duration) -> WatchdogConfig {
    WatchdogConfig {
        threshold,
        check_interval: Duration::from_millis(2),
        backtrace_min_interval,
        capture_backtraces: true,
    }
}

/// Runs `work` on a thread bound to a fresh heartbeat of worker `worker_index`
/// under a watchdog, and returns the watchdog's stats once both have stopped.
fn watch_worker(
    config: WatchdogConfig,
    worker_index: usize,
    work: impl FnOnce(&Heartbeat) + Send + 'static,
) -> Arc<WatchdogStats> {
    let heart = Arc::new(Heartbeat::new(worker_index));
    let stats = Arc::new(WatchdogStats::new());
    let watchdog = Watchdog::start(config, vec![heart.clone()], stats.clone()).unwrap();
    let worker = thread::spawn(move || {
        heart.bind_current_thread();
        work(&heart);
        // Exits idle, so that its silence afterwards is not a stall.
        heart.idle();
    });
    worker.join().unwrap();
    watchdog.stop();
    stats
}

/// The stalling function whose name the backtrace must show.
#[inline(never)]
fn spin_in_watchdog_test_zq7(duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        std::hint::spin_loop();
    }
}

#[test]
fn a_spinning_worker_is_one_stall_with_its_own_stack() {
    let stats = watch_worker(config(THRESHOLD, Duration::from_secs(60)), 5, |heart| {
        heart.enter("test-spin");
        spin_in_watchdog_test_zq7(Duration::from_millis(100));
    });
    assert_eq!(stats.stalls_total(), 1);
    let report = stats.last_stall().expect("a stall report");
    assert_eq!(report.worker_index, 5);
    assert_eq!(report.task, "test-spin");
    assert!(report.stalled_for >= THRESHOLD, "{:?}", report.stalled_for);
    // The whole 100 ms (less however late the watchdog saw the task start),
    // not just the part before the report.
    assert!(
        stats.longest_stall_ns() >= 50_000_000,
        "{}",
        stats.longest_stall_ns()
    );
    if cfg!(target_os = "linux") {
        let backtrace = report.backtrace.expect("a backtrace on Linux");
        assert!(
            backtrace.contains("spin_in_watchdog_test_zq7"),
            "the stalled thread's stack, not the watchdog's:\n{backtrace}"
        );
        assert!(!backtrace.contains("on_capture_signal"), "{backtrace}");
        assert_eq!(stats.backtraces_total(), 1);
    }
}

#[test]
fn a_worker_beating_every_millisecond_never_stalls() {
    let stats = watch_worker(
        config(QUIET_THRESHOLD, Duration::from_secs(60)),
        0,
        |heart| {
            let end = Instant::now() + Duration::from_millis(200);
            while Instant::now() < end {
                heart.enter("serve");
                thread::sleep(Duration::from_millis(1));
            }
        },
    );
    assert_eq!(stats.stalls_total(), 0);
    assert!(stats.last_stall().is_none());
}

#[test]
fn a_worker_idle_in_poll_never_stalls() {
    let stats = watch_worker(
        config(QUIET_THRESHOLD, Duration::from_secs(60)),
        1,
        |heart| {
            heart.enter("poll");
            heart.idle();
            thread::sleep(Duration::from_millis(200));
            heart.enter("serve");
        },
    );
    assert_eq!(stats.stalls_total(), 0);
}

#[test]
fn a_second_stall_within_the_rate_limit_gets_no_backtrace() {
    let stats = watch_worker(config(THRESHOLD, Duration::from_secs(60)), 2, |heart| {
        heart.enter("first");
        spin_in_watchdog_test_zq7(Duration::from_millis(80));
        heart.idle();
        thread::sleep(Duration::from_millis(10));
        heart.enter("second");
        spin_in_watchdog_test_zq7(Duration::from_millis(80));
    });
    assert_eq!(stats.stalls_total(), 2);
    assert_eq!(stats.last_stall().map(|report| report.task), Some("second"));
    if cfg!(target_os = "linux") {
        assert_eq!(stats.backtraces_total(), 1);
        assert!(stats.last_stall().unwrap().backtrace.is_none());
    }
}

#[test]
fn a_stall_after_the_rate_limit_gets_its_backtrace_again() {
    let stats = watch_worker(config(THRESHOLD, Duration::from_millis(1)), 3, |heart| {
        for task in ["first", "second"] {
            heart.enter(task);
            spin_in_watchdog_test_zq7(Duration::from_millis(60));
        }
    });
    assert_eq!(stats.stalls_total(), 2);
    if cfg!(target_os = "linux") {
        assert_eq!(stats.backtraces_total(), 2);
    }
}

#[test]
fn an_ongoing_stall_is_visible_until_it_ends() {
    let heart = Arc::new(Heartbeat::new(2));
    let stats = Arc::new(WatchdogStats::new());
    let watchdog = Watchdog::start(
        config(THRESHOLD, Duration::from_secs(60)),
        vec![heart.clone()],
        stats.clone(),
    )
    .unwrap();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let worker = {
        let heart = heart.clone();
        thread::spawn(move || {
            heart.enter("test-blocked");
            // Blocked without a scheduling point until the test says so.
            release_rx.recv().unwrap();
            heart.idle();
        })
    };
    // Generous: a loaded machine may run the watchdog late.
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats.longest_ongoing_stall().is_none() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let (worker_index, stalled_for) = stats.longest_ongoing_stall().expect("a stall now");
    assert_eq!(worker_index, 2);
    assert!(stalled_for >= THRESHOLD, "{stalled_for:?}");
    release_tx.send(()).unwrap();
    worker.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats.longest_ongoing_stall().is_some() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(stats.longest_ongoing_stall(), None, "the stall ended");
    watchdog.stop();
}
