use super::*;

const THRESHOLD: Duration = Duration::from_millis(20);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn busy(beats: u64) -> Sample {
    Sample {
        beats,
        task_slot: 3,
    }
}

#[test]
fn heartbeat_fills_exactly_one_cache_line() {
    assert_eq!(std::mem::align_of::<Heartbeat>(), 64);
    assert_eq!(std::mem::size_of::<Heartbeat>(), 64);
}

#[test]
fn a_long_stall_is_reported_once_and_its_end_with_its_length() {
    let t0 = Instant::now();
    let mut watch = HeartWatch::new(busy(7), t0);
    assert_eq!(
        watch.observe(busy(7), t0 + ms(19), THRESHOLD),
        Verdict::Running
    );
    assert_eq!(
        watch.observe(busy(7), t0 + ms(20), THRESHOLD),
        Verdict::StallBegan {
            task_slot: 3,
            stalled_for: ms(20)
        }
    );
    for later in [25, 100, 1_000] {
        assert_eq!(
            watch.observe(busy(7), t0 + ms(later), THRESHOLD),
            Verdict::Running
        );
    }
    assert_eq!(
        watch.observe(busy(8), t0 + ms(1_005), THRESHOLD),
        Verdict::StallEnded {
            task_slot: 3,
            stalled_for: ms(1_005)
        }
    );
}

#[test]
fn a_moving_counter_is_never_a_stall() {
    let t0 = Instant::now();
    let mut watch = HeartWatch::new(busy(0), t0);
    for step in 1..=100 {
        let now = t0 + ms(step * 15);
        assert_eq!(watch.observe(busy(step), now, THRESHOLD), Verdict::Running);
    }
}

#[test]
fn an_idle_worker_is_never_a_stall_and_its_wait_does_not_count_after() {
    let t0 = Instant::now();
    let idle = Sample {
        beats: 1,
        task_slot: SLOT_IDLE,
    };
    let mut watch = HeartWatch::new(idle, t0);
    assert_eq!(
        watch.observe(idle, t0 + ms(500), THRESHOLD),
        Verdict::Running
    );
    // Leaves poll at 500 ms: the stall clock starts there, not at 0.
    assert_eq!(
        watch.observe(busy(2), t0 + ms(505), THRESHOLD),
        Verdict::Running
    );
    assert_eq!(
        watch.observe(busy(2), t0 + ms(520), THRESHOLD),
        Verdict::Running
    );
    assert!(matches!(
        watch.observe(busy(2), t0 + ms(525), THRESHOLD),
        Verdict::StallBegan { .. }
    ));
}

#[test]
fn two_stalls_with_a_beat_between_are_two_reports() {
    let t0 = Instant::now();
    let mut watch = HeartWatch::new(busy(0), t0);
    assert!(matches!(
        watch.observe(busy(0), t0 + ms(30), THRESHOLD),
        Verdict::StallBegan { .. }
    ));
    assert!(matches!(
        watch.observe(busy(1), t0 + ms(35), THRESHOLD),
        Verdict::StallEnded { .. }
    ));
    assert!(matches!(
        watch.observe(busy(1), t0 + ms(60), THRESHOLD),
        Verdict::StallBegan { .. }
    ));
}

#[test]
fn backtraces_are_rate_limited_from_the_last_one_taken() {
    let t0 = Instant::now();
    let mut budget = BacktraceBudget::new(ms(1_000));
    assert!(budget.try_take(t0));
    assert!(!budget.try_take(t0 + ms(999)));
    assert!(budget.try_take(t0 + ms(1_000)));
    assert!(!budget.try_take(t0 + ms(1_500)));
}

#[test]
fn a_zero_threshold_is_refused() {
    let config = WatchdogConfig {
        threshold: Duration::ZERO,
        ..WatchdogConfig::default()
    };
    let error = Watchdog::start(config, Vec::new(), Arc::default()).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}
