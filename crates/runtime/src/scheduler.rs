//! Choosing which background group runs next, and accounting for it.
//!
//! Background work is split into groups, each with shares. Like Seastar's
//! scheduler, a group's virtual runtime is the time it ran divided by its
//! shares, and the runnable group with the lowest one goes next: over time each
//! busy group gets CPU in proportion to its shares, and an idle group that
//! wakes up is brought forward to the others' virtual time, so it cannot
//! claim the time it did not use. The worker decides *when* background work
//! may run (never while connections wait, except for a minimum share); this
//! module decides *which*.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::histogram::{HistogramSnapshot, LatencyHistogram};

/// A kind of background work, scheduled with its own shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskGroup {
    /// Eviction ahead of need and expiry: keeps writes from evicting inline.
    Maintenance,
    /// Compacting partly empty storage.
    Compaction,
    /// Writing a snapshot for a warm restart.
    Snapshot,
    /// Key dumps, delayed flushes, large scans: run for a client, never urgent.
    Bulk,
}

impl TaskGroup {
    /// Every group, in index order.
    pub const ALL: [TaskGroup; 4] = [
        TaskGroup::Maintenance,
        TaskGroup::Compaction,
        TaskGroup::Snapshot,
        TaskGroup::Bulk,
    ];

    /// Its name in metrics and stall reports.
    pub const fn name(self) -> &'static str {
        match self {
            TaskGroup::Maintenance => "maintenance",
            TaskGroup::Compaction => "compaction",
            TaskGroup::Snapshot => "snapshot",
            TaskGroup::Bulk => "bulk",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

/// Shares of each group: CPU is divided in proportion among the busy ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupShares {
    /// Shares of [`TaskGroup::Maintenance`].
    pub maintenance: u32,
    /// Shares of [`TaskGroup::Compaction`].
    pub compaction: u32,
    /// Shares of [`TaskGroup::Snapshot`].
    pub snapshot: u32,
    /// Shares of [`TaskGroup::Bulk`].
    pub bulk: u32,
}

impl Default for GroupShares {
    /// Maintenance first: a write that finds no free segment evicts for itself,
    /// which costs a client far more than a dump waiting a little longer.
    fn default() -> Self {
        Self {
            maintenance: 400,
            compaction: 200,
            snapshot: 200,
            bulk: 100,
        }
    }
}

impl GroupShares {
    /// The shares of `group`.
    pub fn of(&self, group: TaskGroup) -> u32 {
        match group {
            TaskGroup::Maintenance => self.maintenance,
            TaskGroup::Compaction => self.compaction,
            TaskGroup::Snapshot => self.snapshot,
            TaskGroup::Bulk => self.bulk,
        }
    }
}

/// Counters of one group, summed over the runtime's workers.
#[derive(Debug, Default)]
pub struct GroupStats {
    runtime_ns: AtomicU64,
    wait_ns: AtomicU64,
    tasks_run: AtomicU64,
    queue_length: AtomicI64,
    quota_violations: AtomicU64,
}

/// A point-in-time copy of a group's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupStatsSnapshot {
    /// Time its steps ran, in nanoseconds.
    pub runtime_ns: u64,
    /// Time it had work waiting while something else ran, in nanoseconds.
    pub wait_ns: u64,
    /// Steps run.
    pub tasks_run: u64,
    /// Jobs waiting now (connections with a job, plus one per worker whose
    /// own work in this group is pending).
    pub queue_length: u64,
    /// Steps that ran past the task quota.
    pub quota_violations: u64,
}

/// One worker's scheduler figures: written by that worker only, so the
/// request path never writes a cache line another core writes (the aligned
/// type keeps neighbours apart); [`SchedulerStats`] sums them on read.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct WorkerStats {
    groups: [GroupStats; 4],
    /// From a connection's readiness (or requeue) to its turn.
    pub(crate) scheduling_delay: LatencyHistogram,
    /// One worker turn: everything between two polls.
    pub(crate) turn_duration: LatencyHistogram,
    /// Turns in which background work was skipped because connections waited.
    background_deferred: AtomicU64,
    /// Turns a connection ended on its budget with requests waiting.
    yields: AtomicU64,
}

impl WorkerStats {
    /// The figures of `group` on this worker.
    pub(crate) fn group(&self, group: TaskGroup) -> GroupStatsSnapshot {
        let g = &self.groups[group.index()];
        GroupStatsSnapshot {
            runtime_ns: g.runtime_ns.load(Ordering::Relaxed),
            wait_ns: g.wait_ns.load(Ordering::Relaxed),
            tasks_run: g.tasks_run.load(Ordering::Relaxed),
            queue_length: g.queue_length.load(Ordering::Relaxed).max(0) as u64,
            quota_violations: g.quota_violations.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn count_deferred(&self) {
        self.background_deferred.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_yield(&self) {
        self.yields.fetch_add(1, Ordering::Relaxed);
    }
}

/// The scheduler's figures for one runtime: per group, the histograms of
/// scheduling delay and turn duration, and counts, summed over its workers.
#[derive(Debug)]
pub struct SchedulerStats {
    workers: Box<[WorkerStats]>,
}

impl SchedulerStats {
    /// Figures for `workers` workers, all zero.
    pub(crate) fn new(workers: usize) -> SchedulerStats {
        SchedulerStats {
            workers: (0..workers).map(|_| WorkerStats::default()).collect(),
        }
    }

    /// Worker `index`'s own figures.
    pub(crate) fn worker(&self, index: usize) -> &WorkerStats {
        &self.workers[index]
    }

    /// The figures of `group`, over all workers.
    pub fn group(&self, group: TaskGroup) -> GroupStatsSnapshot {
        self.workers
            .iter()
            .map(|w| w.group(group))
            .fold(GroupStatsSnapshot::default(), |sum, g| GroupStatsSnapshot {
                runtime_ns: sum.runtime_ns + g.runtime_ns,
                wait_ns: sum.wait_ns + g.wait_ns,
                tasks_run: sum.tasks_run + g.tasks_run,
                queue_length: sum.queue_length + g.queue_length,
                quota_violations: sum.quota_violations + g.quota_violations,
            })
    }

    /// From a connection's readiness (or requeue) to its turn, over all workers.
    pub fn scheduling_delay(&self) -> HistogramSnapshot {
        HistogramSnapshot::sum(self.workers.iter().map(|w| w.scheduling_delay.snapshot()))
    }

    /// Worker turns (everything between two polls), over all workers.
    pub fn turn_duration(&self) -> HistogramSnapshot {
        HistogramSnapshot::sum(self.workers.iter().map(|w| w.turn_duration.snapshot()))
    }

    /// Turns that skipped background work because connections had requests waiting.
    pub fn background_deferred(&self) -> u64 {
        let counts = self.workers.iter().map(|w| &w.background_deferred);
        counts.map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Turns a connection ended on its request or reply budget with requests
    /// still waiting (memcached's `conn_yields`).
    pub fn conn_yields(&self) -> u64 {
        let counts = self.workers.iter().map(|w| &w.yields);
        counts.map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// One group's state on one worker.
#[derive(Debug)]
struct GroupState {
    shares: u64,
    /// Nanoseconds run, times `SHARE_SCALE`, divided by shares.
    vruntime: u64,
    /// The service said it has more of this group's work.
    service_pending: bool,
    /// Connections whose job runs in this group, in turn order.
    jobs: std::collections::VecDeque<usize>,
    /// When it became runnable without running since; for wait time.
    waiting_since: Option<Instant>,
    /// This worker's contribution to the shared queue length gauge.
    queue_reported: i64,
}

/// Keeps virtual runtimes integral without losing small steps to rounding.
const SHARE_SCALE: u64 = 1024;

/// What the worker should run next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick {
    /// The service's own work of this group.
    Service(TaskGroup),
    /// The job of this connection, in this group.
    Job(TaskGroup, usize),
}

/// One worker's scheduler.
#[derive(Debug)]
pub(crate) struct Scheduler {
    groups: [GroupState; 4],
    /// The virtual time of the group that ran last: where a waking group starts.
    virtual_now: u64,
    /// The group picked and not yet charged: work it queues again during its
    /// own step is not a wake-up.
    running: Option<TaskGroup>,
}

impl Scheduler {
    pub(crate) fn new(shares: GroupShares) -> Scheduler {
        Scheduler {
            groups: TaskGroup::ALL.map(|group| GroupState {
                shares: u64::from(shares.of(group).max(1)),
                vruntime: 0,
                service_pending: false,
                jobs: std::collections::VecDeque::new(),
                waiting_since: None,
                queue_reported: 0,
            }),
            virtual_now: 0,
            running: None,
        }
    }

    fn runnable(state: &GroupState) -> bool {
        state.service_pending || !state.jobs.is_empty()
    }

    /// Whether any group has work.
    pub(crate) fn has_work(&self) -> bool {
        self.groups.iter().any(Self::runnable)
    }

    /// Marks the service's own work of `group` as pending (or not).
    pub(crate) fn set_service_pending(&mut self, group: TaskGroup, pending: bool, now: Instant) {
        if pending {
            self.wake(group, now);
        }
        self.groups[group.index()].service_pending = pending;
    }

    /// Marks every group's service work pending: the periodic look for work.
    pub(crate) fn poll_service_groups(&mut self, now: Instant) {
        for group in TaskGroup::ALL {
            self.set_service_pending(group, true, now);
        }
    }

    /// Queues connection `session`'s job in `group` (at the back).
    pub(crate) fn push_job(&mut self, group: TaskGroup, session: usize, now: Instant) {
        self.wake(group, now);
        self.groups[group.index()].jobs.push_back(session);
    }

    /// Drops connection `session` from every job queue (it closed).
    pub(crate) fn forget_session(&mut self, session: usize) {
        for state in &mut self.groups {
            state.jobs.retain(|&s| s != session);
        }
    }

    /// A group that becomes runnable starts at the others' virtual time, not
    /// at the time it had when it went idle.
    fn wake(&mut self, group: TaskGroup, now: Instant) {
        if self.running == Some(group) {
            return;
        }
        let state = &mut self.groups[group.index()];
        if !Self::runnable(state) {
            state.vruntime = state.vruntime.max(self.virtual_now);
            state.waiting_since = Some(now);
        }
    }

    /// The runnable group with the lowest virtual runtime, and what in it runs.
    pub(crate) fn pick(&mut self) -> Option<Pick> {
        let (index, state) = self
            .groups
            .iter_mut()
            .enumerate()
            .filter(|(_, state)| Self::runnable(state))
            .min_by_key(|(_, state)| state.vruntime)?;
        let group = TaskGroup::ALL[index];
        self.running = Some(group);
        // Connections' jobs first within a group: a client is waiting on them.
        Some(match state.jobs.pop_front() {
            Some(session) => Pick::Job(group, session),
            None => Pick::Service(group),
        })
    }

    /// Accounts a step of `group` that ran from `started` for `ran`.
    pub(crate) fn charge(
        &mut self,
        group: TaskGroup,
        started: Instant,
        ran: Duration,
        quota: Duration,
        stats: &WorkerStats,
    ) {
        let ran_ns = u64::try_from(ran.as_nanos()).unwrap_or(u64::MAX);
        self.running = None;
        let state = &mut self.groups[group.index()];
        state.vruntime = state
            .vruntime
            .saturating_add(ran_ns.saturating_mul(SHARE_SCALE) / state.shares);
        self.virtual_now = state.vruntime;
        let shared = &stats.groups[group.index()];
        if let Some(since) = state.waiting_since.take() {
            let waited = started.saturating_duration_since(since);
            let waited_ns = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
            shared.wait_ns.fetch_add(waited_ns, Ordering::Relaxed);
        }
        shared.runtime_ns.fetch_add(ran_ns, Ordering::Relaxed);
        shared.tasks_run.fetch_add(1, Ordering::Relaxed);
        if ran > quota {
            shared.quota_violations.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// After a step: a group still runnable waits again from `now`.
    pub(crate) fn after_step(&mut self, group: TaskGroup, now: Instant) {
        let state = &mut self.groups[group.index()];
        if Self::runnable(state) && state.waiting_since.is_none() {
            state.waiting_since = Some(now);
        }
    }

    /// Publishes this worker's queue lengths into the shared gauges.
    pub(crate) fn report_queues(&mut self, stats: &WorkerStats) {
        for (index, state) in self.groups.iter_mut().enumerate() {
            let length = state.jobs.len() as i64 + i64::from(state.service_pending);
            let delta = length - state.queue_reported;
            if delta != 0 {
                stats.groups[index]
                    .queue_length
                    .fetch_add(delta, Ordering::Relaxed);
                state.queue_reported = length;
            }
        }
    }

    /// Takes this worker's queue lengths back out of the shared gauges (it stops).
    pub(crate) fn retract_queues(&mut self, stats: &WorkerStats) {
        for (index, state) in self.groups.iter_mut().enumerate() {
            stats.groups[index]
                .queue_length
                .fetch_sub(state.queue_reported, Ordering::Relaxed);
            state.queue_reported = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &mut Scheduler, stats: &WorkerStats, now: Instant, step: Duration) -> TaskGroup {
        let group = match s.pick().expect("work") {
            Pick::Service(group) => group,
            Pick::Job(group, session) => {
                s.push_job(group, session, now);
                group
            }
        };
        s.charge(group, now, step, Duration::from_millis(1), stats);
        s.after_step(group, now);
        group
    }

    #[test]
    fn busy_groups_share_time_by_their_shares() {
        let stats = WorkerStats::default();
        let mut s = Scheduler::new(GroupShares {
            maintenance: 300,
            compaction: 100,
            snapshot: 100,
            bulk: 100,
        });
        let now = Instant::now();
        s.set_service_pending(TaskGroup::Maintenance, true, now);
        s.push_job(TaskGroup::Bulk, 7, now);
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            counts[run(&mut s, &stats, now, Duration::from_micros(100)).index()] += 1;
        }
        assert_eq!(counts[TaskGroup::Maintenance.index()], 3000);
        assert_eq!(counts[TaskGroup::Bulk.index()], 1000);
        assert_eq!(stats.group(TaskGroup::Bulk).tasks_run, 1000);
        assert_eq!(stats.group(TaskGroup::Bulk).runtime_ns, 100_000_000);
    }

    #[test]
    fn a_waking_group_cannot_claim_time_it_did_not_use() {
        let stats = WorkerStats::default();
        let mut s = Scheduler::new(GroupShares::default());
        let now = Instant::now();
        s.set_service_pending(TaskGroup::Bulk, true, now);
        for _ in 0..1000 {
            run(&mut s, &stats, now, Duration::from_micros(100));
        }
        // Maintenance was idle all along; it joins at bulk's virtual time and
        // then gets its 4:1 share, not a burst of 1000 steps.
        s.set_service_pending(TaskGroup::Maintenance, true, now);
        let mut maintenance_first = 0;
        for _ in 0..50 {
            if run(&mut s, &stats, now, Duration::from_micros(100)) == TaskGroup::Maintenance {
                maintenance_first += 1;
            }
        }
        assert_eq!(maintenance_first, 40);
    }

    #[test]
    fn wait_time_and_quota_violations_are_counted() {
        let stats = WorkerStats::default();
        let mut s = Scheduler::new(GroupShares::default());
        let t0 = Instant::now();
        s.push_job(TaskGroup::Bulk, 1, t0);
        let Some(Pick::Job(TaskGroup::Bulk, 1)) = s.pick() else {
            panic!("the job runs")
        };
        let started = t0 + Duration::from_millis(3);
        s.charge(
            TaskGroup::Bulk,
            started,
            Duration::from_millis(2),
            Duration::from_micros(500),
            &stats,
        );
        let g = stats.group(TaskGroup::Bulk);
        assert_eq!(g.wait_ns, 3_000_000);
        assert_eq!(g.quota_violations, 1);
        assert!(!s.has_work());
    }

    #[test]
    fn queue_lengths_are_published_and_retracted() {
        let stats = WorkerStats::default();
        let mut s = Scheduler::new(GroupShares::default());
        let now = Instant::now();
        s.push_job(TaskGroup::Bulk, 1, now);
        s.push_job(TaskGroup::Bulk, 2, now);
        s.report_queues(&stats);
        assert_eq!(stats.group(TaskGroup::Bulk).queue_length, 2);
        s.forget_session(1);
        s.report_queues(&stats);
        assert_eq!(stats.group(TaskGroup::Bulk).queue_length, 1);
        s.retract_queues(&stats);
        assert_eq!(stats.group(TaskGroup::Bulk).queue_length, 0);
    }
}
