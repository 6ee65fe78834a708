//! Tuning knobs of the event loop, each with its bound and reason.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::scheduler::GroupShares;

/// How a TCP listener's connections reach the workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptMode {
    /// One `SO_REUSEPORT` socket per worker: the kernel spreads connections,
    /// no thread wakes for a connection it will not serve.
    ReusePort,
    /// One socket registered in every worker's poll: every worker wakes on a
    /// new connection and the first `accept` wins (kept to measure against).
    Shared,
}

/// Settings of one [`crate::Runtime`].
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Worker threads, each with its own poll (at least 1).
    pub workers: usize,
    /// Name prefix of the worker threads (`{prefix}-{index}`).
    pub thread_name: String,
    /// Open connections allowed over all workers; beyond it a new connection
    /// gets its listener's reject reply and is closed.
    pub max_connections: usize,
    /// Read buffer a fresh session starts with, and shrinks back to when empty.
    pub read_buffer_initial_bytes: usize,
    /// Largest read buffer; a request that needs more closes the connection
    /// after the listener's overflow reply.
    pub read_buffer_max_bytes: usize,
    /// Pending output above which the session stops reading and processing
    /// (backpressure) until the client has read it.
    pub write_buffer_high_water_bytes: usize,
    /// Unsent output of one connection beyond which it is closed (a client
    /// that asks for replies and does not read them). Backpressure stops
    /// processing at the high-water mark, so a reader, however slow, stays
    /// under a cap of high-water plus the largest single reply.
    pub output_cap_bytes: usize,
    /// Kernel send buffer (`SO_SNDBUF`) asked for each accepted TCP connection;
    /// `None` leaves it to the kernel's autotuning (up to `net.ipv4.tcp_wmem`'s
    /// maximum, 4 MiB by default). A client that asks for large replies and does
    /// not read them fills this much kernel memory per connection before
    /// backpressure stops the worker, and the worker pays to copy it in and, at
    /// close, to free it.
    pub socket_send_buffer_bytes: Option<usize>,
    /// Memory all connections' read and write buffers may hold together;
    /// above it each worker closes its connection holding the most, until
    /// the total is back under. `None`: no budget.
    pub buffer_budget_bytes: Option<usize>,
    /// At the connection limit, a connection without traffic for this long
    /// is closed to admit a new one (silent sockets cannot lock clients
    /// out); `None` refuses the new one instead.
    pub idle_reclaim_after: Option<Duration>,
    /// Whether a worker thread that panics or stops on its own ends the whole
    /// process (exit code 70), so that a supervisor restarts it, instead of
    /// leaving a server that serves some of its connections.
    pub exit_process_on_worker_failure: bool,
    /// Bytes read from one connection in one turn before the others get theirs.
    pub turn_budget_bytes: usize,
    /// Requests (keys, for a multi-key request) served to one connection in
    /// one turn before the others get theirs.
    pub turn_budget_requests: usize,
    /// Reply bytes produced for one connection in one turn before the others
    /// get theirs.
    pub turn_budget_output_bytes: usize,
    /// Connections accepted per listener per turn before serving sessions.
    pub accepts_per_turn: usize,
    /// A connection with no traffic for this long is closed; `None` disables.
    pub idle_timeout: Option<Duration>,
    /// A connection whose buffered input completes no request for this long
    /// (a slow or partial request) is closed; `None` disables.
    pub request_timeout: Option<Duration>,
    /// Time background steps may take in one turn (Seastar's task quota):
    /// a request that arrives meanwhile waits at most about this long.
    pub task_quota: Duration,
    /// Two turns in a row at least this long make a connection *heavy*: the
    /// others are served before it, and the worker polls again after every turn
    /// this long (`worker/ready.rs`). An idle scan that has taken this long stops,
    /// and goes on next turn (`worker/idle.rs`).
    pub heavy_turn: Duration,
    /// How often each background group is asked whether it has work, when
    /// nothing else wakes the worker.
    pub background_interval: Duration,
    /// Shares of the background groups.
    pub group_shares: GroupShares,
    /// Percent of a worker's time background work gets even while
    /// connections always have requests waiting, so that eviction keeps up.
    pub background_min_share_percent: u8,
    /// A worker that does not reach a scheduling point for this long is
    /// reported as stalled by the watchdog; `None` runs no watchdog.
    pub stall_threshold: Option<Duration>,
    /// Whether the watchdog captures the stalled thread's stack (rate-limited).
    pub stall_backtraces: bool,
    /// Where the event loop reads the time.
    pub clock: Arc<dyn Clock>,
    /// How a TCP listener hands connections to workers.
    pub accept_mode: AcceptMode,
    /// After a stop, how long workers may spend flushing before they close.
    pub shutdown_timeout: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            workers: 1,
            thread_name: "worker".to_owned(),
            max_connections: 1024,
            read_buffer_initial_bytes: 16 * 1024,
            read_buffer_max_bytes: 1024 * 1024 + 64 * 1024,
            write_buffer_high_water_bytes: 1024 * 1024,
            turn_budget_bytes: 64 * 1024,
            // A bound, not a policy: the service knows its largest reply and
            // sets the cap from it (the server: high water plus -I).
            output_cap_bytes: 64 * 1024 * 1024,
            buffer_budget_bytes: None,
            socket_send_buffer_bytes: None,
            idle_reclaim_after: None,
            exit_process_on_worker_failure: false,
            // About 10-40 us of small requests, or one slice of a large multiget:
            // measured against a client looping 10 000-key multigets, 128 keys a
            // turn doubled the others' P99.9 where 32 kept it near their baseline.
            // memcached's -R default is 20.
            turn_budget_requests: 32,
            turn_budget_output_bytes: 64 * 1024,
            accepts_per_turn: 64,
            idle_timeout: None,
            request_timeout: Some(Duration::from_secs(60)),
            task_quota: Duration::from_micros(500),
            // Several times a turn of small requests (10-40 us), well under a turn
            // that copies a large value out (a 512 KiB value: about 300 us here).
            heavy_turn: Duration::from_micros(100),
            background_interval: Duration::from_millis(10),
            group_shares: GroupShares::default(),
            background_min_share_percent: 10,
            stall_threshold: Some(Duration::from_millis(25)),
            stall_backtraces: true,
            clock: Arc::new(SystemClock),
            accept_mode: AcceptMode::ReusePort,
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

impl RuntimeConfig {
    /// Checks the relations between the knobs; the error names the knob.
    pub fn validate(&self) -> Result<(), RuntimeConfigError> {
        let at_least_one = [
            ("workers", self.workers),
            ("max_connections", self.max_connections),
            ("turn_budget_bytes", self.turn_budget_bytes),
            ("turn_budget_requests", self.turn_budget_requests),
            ("turn_budget_output_bytes", self.turn_budget_output_bytes),
            ("accepts_per_turn", self.accepts_per_turn),
            ("output_cap_bytes", self.output_cap_bytes),
            (
                "write_buffer_high_water_bytes",
                self.write_buffer_high_water_bytes,
            ),
        ];
        if let Some(&(setting, _)) = at_least_one.iter().find(|(_, value)| *value == 0) {
            return Err(RuntimeConfigError::Zero { setting });
        }
        if self.socket_send_buffer_bytes == Some(0) {
            return Err(RuntimeConfigError::Zero {
                setting: "socket_send_buffer_bytes",
            });
        }
        if self.read_buffer_initial_bytes == 0
            || self.read_buffer_initial_bytes > self.read_buffer_max_bytes
        {
            return Err(RuntimeConfigError::ReadBufferInitial);
        }
        for (setting, time) in [
            ("task_quota", self.task_quota),
            ("heavy_turn", self.heavy_turn),
        ] {
            if time.is_zero() {
                return Err(RuntimeConfigError::Zero { setting });
            }
        }
        if self.background_min_share_percent > MAX_BACKGROUND_MIN_SHARE_PERCENT {
            return Err(RuntimeConfigError::MinShareTooHigh);
        }
        let shares = self.group_shares;
        let groups = [
            ("group_shares.maintenance", shares.maintenance),
            ("group_shares.compaction", shares.compaction),
            ("group_shares.snapshot", shares.snapshot),
            ("group_shares.bulk", shares.bulk),
        ];
        if let Some(&(setting, _)) = groups.iter().find(|(_, share)| *share == 0) {
            return Err(RuntimeConfigError::Zero { setting });
        }
        if self
            .stall_threshold
            .is_some_and(|t| t < Duration::from_millis(1))
        {
            return Err(RuntimeConfigError::StallThresholdTooShort);
        }
        Ok(())
    }
}

/// Most of a worker's time background work may be guaranteed while requests wait.
const MAX_BACKGROUND_MIN_SHARE_PERCENT: u8 = 50;

/// A runtime setting out of its range; its message names the setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeConfigError {
    /// A count, size, share or quota that must be above 0.
    Zero {
        /// The setting's field name.
        setting: &'static str,
    },
    /// `read_buffer_initial_bytes` outside `1..=read_buffer_max_bytes`.
    ReadBufferInitial,
    /// `background_min_share_percent` above 50.
    MinShareTooHigh,
    /// `stall_threshold` under 1 ms.
    StallThresholdTooShort,
}

impl std::fmt::Display for RuntimeConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuntimeConfigError::Zero { setting } => write!(f, "{setting} must be at least 1"),
            RuntimeConfigError::ReadBufferInitial => {
                f.write_str("read_buffer_initial_bytes must be in 1..=read_buffer_max_bytes")
            }
            RuntimeConfigError::MinShareTooHigh => write!(
                f,
                "background_min_share_percent must be at most {MAX_BACKGROUND_MIN_SHARE_PERCENT}"
            ),
            RuntimeConfigError::StallThresholdTooShort => {
                f.write_str("stall_threshold must be at least 1 ms")
            }
        }
    }
}

impl std::error::Error for RuntimeConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_each_bad_knob_is_named() {
        assert_eq!(RuntimeConfig::default().validate(), Ok(()));
        let bad = |change: fn(&mut RuntimeConfig)| {
            let mut config = RuntimeConfig::default();
            change(&mut config);
            config.validate().unwrap_err()
        };
        assert_eq!(
            bad(|c| c.workers = 0),
            RuntimeConfigError::Zero { setting: "workers" }
        );
        assert_eq!(
            bad(|c| c.write_buffer_high_water_bytes = 0).to_string(),
            "write_buffer_high_water_bytes must be at least 1"
        );
        assert_eq!(
            bad(|c| c.group_shares.bulk = 0),
            RuntimeConfigError::Zero {
                setting: "group_shares.bulk"
            }
        );
        assert_eq!(
            bad(|c| c.task_quota = Duration::ZERO),
            RuntimeConfigError::Zero {
                setting: "task_quota"
            }
        );
        assert_eq!(
            bad(|c| c.read_buffer_initial_bytes = c.read_buffer_max_bytes + 1),
            RuntimeConfigError::ReadBufferInitial
        );
        assert_eq!(
            bad(|c| c.background_min_share_percent = 51).to_string(),
            "background_min_share_percent must be at most 50"
        );
        assert_eq!(
            bad(|c| c.stall_threshold = Some(Duration::from_micros(999))),
            RuntimeConfigError::StallThresholdTooShort
        );
    }
}
