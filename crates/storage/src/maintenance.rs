//! Background work: reclaiming flushed and expired segments, and evicting ahead of
//! need so that a write normally finds a free segment waiting.
//!
//! Work is a sequence of jobs, each freeing one segment (or merging a few into one),
//! run in steps with a budget counted in items; each item is unlinked or moved under
//! its own short hold of its two index buckets, so no step holds any bucket for more
//! than one item's work and a job can stop between any two items and resume later.
//! One thread runs maintenance at a time (the `maintenance` lock); a server calls
//! [`Cache::maintenance_step`] from its workers between polls.
//!
//! The reserve of free segments follows the write rate: segments taken from the pool
//! per second, times `RESERVE_HORIZON_MS`. A write that still finds the pool empty
//! frees a segment itself, in the same bounded steps ([`Cache::free_inline`]), and is
//! counted (`inline_evictions`): under a steady load that count should stay near zero.

use crate::cache::Cache;
use crate::config::EvictionPolicy;
use crate::error::CacheError;
use crate::evict::{Job, JobState, Reason};
use crate::meta::{Progress, StepBudget};
use crate::segment::{State, NO_SEGMENT};
use crate::stats::Counter;
use crate::sync::Ordering;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// How far ahead the reserve covers writes, in milliseconds of the recent rate.
const RESERVE_HORIZON_MS: u64 = 250;
/// Shortest window the write rate is measured over.
const RATE_WINDOW_MS: u64 = 100;
/// The reserve is never more than this fraction (1/n) of all segments.
const MAX_RESERVE_DIVISOR: usize = 16;
/// Segments looked at for flushed data per unit of step budget.
const FLUSH_SCAN_SEGMENTS_PER_ITEM: usize = 64;
/// Items one round of inline eviction visits before letting go of the maintenance lock.
const INLINE_STEP_ITEMS: usize = 512;
/// Rounds a write spends freeing memory before it gives up with out-of-memory.
const MAX_INLINE_ROUNDS: usize = 100_000;
/// Random picks the random policy tries before falling back to the oldest segment.
const RANDOM_PICKS: usize = 16;
/// Segments of one TTL bucket a merge compacts into one.
pub(crate) const MERGE_SEGMENTS: usize = 4;

/// The state of background work between steps.
pub(crate) struct Maintenance {
    pub(crate) job: Option<Job>,
    /// Next TTL bucket to look at for an expired head (bucket 0 never expires).
    expiry_cursor: usize,
    /// Next segment to look at for flushed data, while a flush's reclaim is under way.
    flush_cursor: usize,
    flush_scan: bool,
    rate: WriteRate,
    /// Inline evictions counted when the last step ended.
    inline_seen: u64,
    rng: SmallRng,
}

/// Segments taken from the pool per second, smoothed.
struct WriteRate {
    last_taken: u64,
    last_ms: u64,
    per_sec: f64,
}

impl Maintenance {
    pub(crate) fn new() -> Maintenance {
        Maintenance {
            job: None,
            expiry_cursor: 1,
            flush_cursor: 0,
            flush_scan: false,
            inline_seen: 0,
            rate: WriteRate {
                last_taken: 0,
                last_ms: 0,
                per_sec: 0.0,
            },
            rng: SmallRng::from_entropy(),
        }
    }

    /// The segments the job in progress owns (for invariant checks).
    #[cfg(not(loom))]
    pub(crate) fn job_segments(&self) -> Vec<u32> {
        self.job.as_ref().map_or_else(Vec::new, Job::segments)
    }
}

impl Cache {
    /// One bounded slice of background work (see the module docs). Another thread
    /// running maintenance makes this return at once.
    pub fn maintenance_step(&self, budget: StepBudget) -> Progress {
        let Some(mut maintenance) = self.maintenance.try_lock() else {
            return Progress::default();
        };
        self.update_reserve_target(&mut maintenance);
        self.step(&mut maintenance, budget.max_items.max(1), false)
    }

    /// A write found no free segment: free one, in bounded rounds, letting go of the
    /// maintenance lock between rounds. Fails when nothing can be freed (policy `none`
    /// with nothing expired, or every segment busy for too long).
    pub(crate) fn free_inline(&self) -> Result<(), CacheError> {
        self.counters.incr(Counter::InlineEvictions);
        for _ in 0..MAX_INLINE_ROUNDS {
            if self.pool.free_count() > 0 {
                return Ok(());
            }
            let progress = {
                let mut maintenance = self.maintenance.lock();
                if self.pool.free_count() > 0 {
                    return Ok(());
                }
                self.step(&mut maintenance, INLINE_STEP_ITEMS, true)
            };
            if progress.items_visited == 0 && !progress.more_work {
                return Err(CacheError::OutOfMemory);
            }
            if progress.items_visited == 0 {
                // A writer is still copying into the segment being freed.
                std::thread::yield_now();
            }
        }
        Err(CacheError::OutOfMemory)
    }

    /// Runs jobs for up to `max_items`; `inline` when a write waits on a free segment.
    fn step(&self, maintenance: &mut Maintenance, max_items: usize, inline: bool) -> Progress {
        self.apply_due_flush();
        let mut progress = Progress::default();
        let mut left = max_items;
        while left > 0 {
            if maintenance.job.is_none() {
                maintenance.job = self.next_job(maintenance, &mut left, inline);
                if maintenance.job.is_none() {
                    break;
                }
            }
            let job = maintenance.job.as_mut().expect("a job was just found");
            match self.run_job(job, &mut left, &mut progress) {
                JobState::Done => {
                    maintenance.job = None;
                    if inline && self.pool.free_count() > 0 {
                        break;
                    }
                }
                JobState::Running => {}
                JobState::Waiting => {
                    progress.more_work = true;
                    break;
                }
            }
        }
        progress.items_visited = max_items - left;
        // Urgent only when writes have been freeing memory themselves since the last
        // step: an empty pool alone (a merge just took the last segment as its target)
        // is no reason to hold up requests for longer steps.
        let inline = self.counters.get(Counter::InlineEvictions);
        progress.urgent = inline != maintenance.inline_seen && self.pool.free_count() == 0;
        maintenance.inline_seen = inline;
        // Work found this step may have more behind it; an idle step rests.
        let found_work = progress.segments_expired + progress.segments_evicted > 0;
        progress.more_work |= maintenance.job.is_some()
            || found_work
            || (progress.items_visited > 0 && self.below_reserve());
        progress
    }

    fn below_reserve(&self) -> bool {
        self.config.eviction != EvictionPolicy::None
            && self.pool.free_count() < self.reserve_target.load(Ordering::Relaxed)
    }

    /// The next job, most urgent first: flushed segments, expired ones (in the
    /// background only with eviction ahead), then eviction when the pool is below its
    /// reserve (or, inline, empty).
    fn next_job(
        &self,
        maintenance: &mut Maintenance,
        left: &mut usize,
        inline: bool,
    ) -> Option<Job> {
        if let Some(job) = self.find_flushed(maintenance, left) {
            return Some(job);
        }
        // Without eviction ahead (memcached without its LRU maintainer) expired items
        // wait for a write that needs their room, a read or a crawl, as in memcached.
        if inline || self.config.evict_ahead {
            if let Some(job) = self.find_expired(maintenance, left) {
                return Some(job);
            }
        }
        let needed = if inline {
            self.pool.free_count() == 0
        } else {
            self.below_reserve()
        };
        if !needed || self.config.eviction == EvictionPolicy::None {
            return None;
        }
        *left = left.saturating_sub(1);
        self.find_victim(maintenance, inline)
    }

    /// A segment holding only flushed data, while a flush's reclaim is under way.
    fn find_flushed(&self, maintenance: &mut Maintenance, left: &mut usize) -> Option<Job> {
        if self.flush.take_reclaim_due(self.now_unix_secs()) {
            maintenance.flush_scan = true;
            maintenance.flush_cursor = 0;
        }
        if !maintenance.flush_scan {
            return None;
        }
        let count = self.segments.len();
        while maintenance.flush_cursor < count && *left > 0 {
            let id = crate::slot::segment_id_of(maintenance.flush_cursor);
            maintenance.flush_cursor += 1;
            if maintenance
                .flush_cursor
                .is_multiple_of(FLUSH_SCAN_SEGMENTS_PER_ITEM)
            {
                *left -= 1;
            }
            let meta = self.segment(id);
            if meta.state() == State::InChain
                && self.flush.kills(meta.epoch.load(Ordering::Relaxed))
                && self.detach(id)
            {
                return Some(Job::empty(id, Reason::Flushed));
            }
        }
        if maintenance.flush_cursor >= count {
            maintenance.flush_scan = false;
        }
        None
    }

    /// The head segment of a TTL bucket whose items have all expired. Looks at every
    /// bucket (4 KiB of heads), starting where the last search stopped so that no
    /// bucket waits behind another.
    fn find_expired(&self, maintenance: &mut Maintenance, left: &mut usize) -> Option<Job> {
        let now = self.now_unix_secs();
        let buckets = crate::expiry::TTL_BUCKET_COUNT;
        for _ in 1..buckets {
            let bucket = u32::try_from(maintenance.expiry_cursor).expect("a TTL bucket index");
            let head = self.ttl.head(bucket);
            if head == NO_SEGMENT {
                maintenance.expiry_cursor = if maintenance.expiry_cursor + 1 >= buckets {
                    1
                } else {
                    maintenance.expiry_cursor + 1
                };
                continue;
            }
            if head == NO_SEGMENT {
                continue;
            }
            let meta = self.segment(head);
            let latest = meta.max_expiry_unix_secs.load(Ordering::Relaxed);
            if latest != 0 && latest <= now && meta.state() == State::InChain && self.detach(head) {
                *left = left.saturating_sub(1);
                // The cursor stays: this bucket's next segment may have expired too.
                return Some(Job::empty(head, Reason::Expired));
            }
            maintenance.expiry_cursor = if maintenance.expiry_cursor + 1 >= buckets {
                1
            } else {
                maintenance.expiry_cursor + 1
            };
        }
        None
    }

    /// The segment (or merge group) the eviction policy gives up next.
    fn find_victim(&self, maintenance: &mut Maintenance, inline: bool) -> Option<Job> {
        if self.config.eviction == EvictionPolicy::Random {
            for _ in 0..RANDOM_PICKS {
                let id =
                    crate::slot::segment_id_of(maintenance.rng.gen_range(0..self.segments.len()));
                let meta = self.segment(id);
                let bucket = meta.ttl_bucket.load(Ordering::Relaxed);
                if meta.state() == State::InChain
                    && self.ttl.active(bucket) != id
                    && self.detach(id)
                {
                    return Some(Job::empty(id, Reason::Evicted));
                }
            }
        }
        let (bucket, head) = self.oldest_head()?;
        if self.config.eviction == EvictionPolicy::Merge && !inline {
            if let Some(job) = self.start_merge(bucket) {
                return Some(job);
            }
        }
        self.detach(head).then(|| Job::empty(head, Reason::Evicted))
    }

    /// The TTL bucket whose first segment is oldest, preferring segments no longer
    /// written to: a bucket's active segment is evicted only when nothing else is left,
    /// so items written a moment ago are not the first to go.
    fn oldest_head(&self) -> Option<(u32, u32)> {
        let mut oldest_retired: Option<(u64, u32, u32)> = None;
        let mut oldest_active: Option<(u64, u32, u32)> = None;
        for bucket in 0..crate::expiry::TTL_BUCKET_COUNT as u32 {
            let head = self.ttl.head(bucket);
            if head == NO_SEGMENT {
                continue;
            }
            let order = self.segment(head).order.load(Ordering::Relaxed);
            let slot = if self.ttl.active(bucket) == head {
                &mut oldest_active
            } else {
                &mut oldest_retired
            };
            if slot.is_none_or(|(best, _, _)| order < best) {
                *slot = Some((order, bucket, head));
            }
        }
        oldest_retired
            .or(oldest_active)
            .map(|(_, bucket, head)| (bucket, head))
    }

    /// Takes `id` out of its TTL bucket's chain for a job; false if it left the chain
    /// meanwhile.
    pub(crate) fn detach(&self, id: u32) -> bool {
        let meta = self.segment(id);
        let bucket = meta.ttl_bucket.load(Ordering::Relaxed);
        let mut chain = self.ttl.lock(bucket);
        if meta.state() != State::InChain || meta.ttl_bucket.load(Ordering::Relaxed) != bucket {
            return false;
        }
        self.unlink_from_chain(bucket, &mut chain, id);
        meta.set_state(State::Emptying);
        true
    }

    /// Re-sizes the reserve from the write rate since the last window.
    fn update_reserve_target(&self, maintenance: &mut Maintenance) {
        let now_ms = self.clock.now_unix_ms();
        let rate = &mut maintenance.rate;
        let elapsed_ms = now_ms.saturating_sub(rate.last_ms);
        if elapsed_ms < RATE_WINDOW_MS {
            return;
        }
        let taken = self.pool.taken_total();
        let window_per_sec = (taken - rate.last_taken) as f64 * 1000.0 / elapsed_ms as f64;
        // Rise at once with a burst, fall slowly after it.
        rate.per_sec = window_per_sec.max(rate.per_sec * 0.8 + window_per_sec * 0.2);
        rate.last_taken = taken;
        rate.last_ms = now_ms;
        let wanted = (rate.per_sec * RESERVE_HORIZON_MS as f64 / 1000.0).ceil() as usize;
        self.reserve_target
            .store(self.clamp_reserve(wanted), Ordering::Relaxed);
    }

    /// The reserve bounds: a merge needs a free target besides the writes' segment,
    /// and no reserve takes more than a sixteenth of memory. Without eviction ahead
    /// there is no reserve: background steps never evict, writes do it inline.
    pub(crate) fn clamp_reserve(&self, wanted: usize) -> usize {
        if !self.config.evict_ahead {
            return 0;
        }
        let least = match self.config.eviction {
            EvictionPolicy::None => 0,
            EvictionPolicy::Merge => 2,
            EvictionPolicy::Fifo | EvictionPolicy::Random => 1,
        };
        let most = (self.segments.len() / MAX_RESERVE_DIVISOR).max(least);
        wanted.clamp(least, most)
    }
}
