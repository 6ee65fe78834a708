//! The jobs background work is made of: emptying a segment (expired, flushed, or
//! evicted by fifo/random) and merging a few segments of a TTL bucket into one
//! (Segcache's merge eviction). Both walk their segments item by item with a cursor,
//! each item unlinked or moved under its own short hold of its index buckets, so a
//! job stops and resumes between any two items.

use crate::cache::{Cache, Found};
use crate::index::Index;
use crate::item::{self, Fields, MAX_HEADER_BYTES};
use crate::maintenance::MERGE_SEGMENTS;
use crate::meta::Progress;
use crate::segment::{State, NO_SEGMENT};
use crate::slot;
use crate::stats::Counter;
use crate::sync::{fence, Ordering};

/// Why a segment is emptied: decides what its live items are counted as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Evicted,
    Expired,
    Flushed,
}

/// A job in progress.
#[derive(Debug)]
pub(crate) enum Job {
    /// Unlink every item of one segment, then free it.
    Empty { walk: Walk, reason: Reason },
    /// Move the read items of `sources` into `target`, drop the rest, free the sources.
    Merge {
        sources: [u32; MERGE_SEGMENTS],
        count: usize,
        /// The source being walked.
        current: usize,
        walk: Walk,
        target: u32,
        bucket: u32,
        /// The target has no room left: the rest of the sources' items are dropped.
        target_full: bool,
    },
}

/// A cursor over one segment's items.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Walk {
    segment: u32,
    cursor: usize,
    /// End of the items, known once no writer is still copying into the segment.
    end: Option<usize>,
}

impl Walk {
    fn new(segment: u32) -> Walk {
        Walk {
            segment,
            cursor: 0,
            end: None,
        }
    }
}

/// Where a job stands after running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobState {
    /// Finished.
    Done,
    /// Stopped for lack of budget.
    Running,
    /// A writer is still copying into its segment; try again later.
    Waiting,
}

impl Job {
    pub(crate) fn empty(segment: u32, reason: Reason) -> Job {
        Job::Empty {
            walk: Walk::new(segment),
            reason,
        }
    }

    /// Segments this job owns.
    #[cfg(not(loom))]
    pub(crate) fn segments(&self) -> Vec<u32> {
        match self {
            Job::Empty { walk, .. } => vec![walk.segment],
            Job::Merge {
                sources,
                count,
                current,
                target,
                ..
            } => sources[*current..*count]
                .iter()
                .copied()
                .chain([*target])
                .collect(),
        }
    }
}

/// Items a job reads ahead (see `walk_items`).
const BATCH_ITEMS: usize = 8;

/// One item a job visits: where it is, its header, key and key hash.
pub(crate) struct Visited<'k> {
    offset: usize,
    key: &'k [u8],
    hash: u64,
}

/// What happened to one item a job visited.
enum Fate {
    /// Not linked any more (overwritten or deleted since): nothing to do.
    Gone,
    Dropped,
    Kept,
    /// It earned its place but the merge target was full: dropped.
    NoRoom,
}

impl Cache {
    /// Runs `job` for up to `left` items.
    pub(crate) fn run_job(
        &self,
        job: &mut Job,
        left: &mut usize,
        progress: &mut Progress,
    ) -> JobState {
        match job {
            Job::Empty { walk, reason } => {
                let (reason, segment) = (*reason, walk.segment);
                let state = self.walk_items(walk, left, |item| {
                    self.drop_item(segment, item, reason);
                });
                if state != JobState::Done {
                    return state;
                }
                self.free_segment(walk.segment);
                match reason {
                    Reason::Evicted => {
                        self.counters.incr(Counter::EvictedSegments);
                        progress.segments_evicted += 1;
                    }
                    Reason::Expired | Reason::Flushed => {
                        self.counters.incr(Counter::ExpiredSegments);
                        progress.segments_expired += 1;
                    }
                }
                JobState::Done
            }
            Job::Merge {
                sources,
                count,
                current,
                walk,
                target,
                bucket,
                target_full,
            } => {
                while *current < *count {
                    let segment = walk.segment;
                    let state = self.walk_items(walk, left, |item| {
                        if *target_full {
                            self.drop_item(segment, item, Reason::Evicted);
                        } else if let Fate::NoRoom = self.merge_item(segment, item, *target) {
                            *target_full = true;
                        }
                    });
                    if state != JobState::Done {
                        return state;
                    }
                    self.free_segment(sources[*current]);
                    self.counters.incr(Counter::MergedSegments);
                    self.counters.incr(Counter::EvictedSegments);
                    *current += 1;
                    if *current < *count {
                        *walk = Walk::new(sources[*current]);
                    }
                }
                self.finish_merge(*target, *bucket);
                progress.segments_evicted += *count - 1;
                JobState::Done
            }
        }
    }

    /// Calls `visit` with each item of the walk's segment from its cursor on, while
    /// budget is left. Items go in batches of [`BATCH_ITEMS`]: each batch's keys are
    /// read and hashed and their index buckets loaded first, so the cache misses on
    /// random buckets (most of a job's time) overlap instead of queueing.
    fn walk_items(
        &self,
        walk: &mut Walk,
        left: &mut usize,
        mut visit: impl FnMut(&Visited<'_>),
    ) -> JobState {
        let meta = self.segment(walk.segment);
        let end = match walk.end {
            Some(end) => end,
            None => match meta.quiet_end() {
                Some(end) => *walk.end.insert(end),
                None => return JobState::Waiting,
            },
        };
        let mut keys = [[0u8; crate::MAX_KEY_LEN]; BATCH_ITEMS];
        while walk.cursor < end {
            if *left == 0 {
                return JobState::Running;
            }
            // Nothing linked here any more (every item overwritten, deleted or
            // already dropped): the rest of the walk would only find dead items. The
            // count is whole: an item is counted before it is linked and uncounted
            // only after it is unlinked, and nothing links into a quiet segment.
            if meta.live().0 == 0 {
                walk.cursor = end;
                *left -= 1;
                break;
            }
            // Gather up to a batch of linked-looking items; dead ones are passed by.
            let mut batch = [(0usize, 0usize, 0u64); BATCH_ITEMS];
            let mut count = 0;
            let mut taken = 0;
            let mut cursor = walk.cursor;
            while count < BATCH_ITEMS && taken < *left && cursor < end {
                let header = self
                    .read_header(walk.segment, cursor)
                    .expect("a quiet segment holds whole items");
                taken += 1;
                if header.bits & item::BIT_DEAD == 0 {
                    // Not known dead: look it up, its bucket loaded ahead.
                    let key = &mut keys[count][..header.key_len];
                    self.heap
                        .read(self.addr(walk.segment, cursor + header.header_len), key);
                    let hash = self.hash(key);
                    self.index.warm(self.index.pair(hash));
                    batch[count] = (cursor, header.key_len, hash);
                    count += 1;
                }
                cursor += header.total_len();
            }
            for (n, &(offset, key_len, hash)) in batch[..count].iter().enumerate() {
                visit(&Visited {
                    offset,
                    key: &keys[n][..key_len],
                    hash,
                });
            }
            walk.cursor = cursor;
            *left -= taken;
        }
        JobState::Done
    }

    /// Unlinks the item at `offset` of `segment` if the index still points to it.
    fn drop_item(&self, segment: u32, item: &Visited<'_>, reason: Reason) -> Fate {
        let (offset, hash) = (item.offset, item.hash);
        if self.surely_unlinked(hash, segment, offset) {
            return Fate::Gone;
        }
        let now = self.now();
        let mut guard = self.index.lock(self.index.pair(hash));
        let Some(found) = self.linked_item(&guard, hash, segment, offset, &now) else {
            return Fate::Gone;
        };
        guard.remove(found.at);
        drop(guard);
        self.forget(&found);
        if found.is_live() {
            self.counters.incr(match reason {
                Reason::Evicted => Counter::EvictedItems,
                Reason::Expired => Counter::ExpiredItems,
                Reason::Flushed => Counter::FlushedItems,
            });
            if reason == Reason::Evicted {
                self.report_eviction(item.key, &found);
            }
        }
        Fate::Dropped
    }

    /// Whether a lock-free look at `hash`'s buckets proves the item at `offset` of
    /// `segment` unlinked (overwritten or deleted since), so a job can pass it by
    /// without taking any lock: most items of an old segment are. Nothing links an
    /// item of a segment being emptied or merged, so a miss under unchanged versions
    /// stays a miss; a changed version means look again, under the lock.
    fn surely_unlinked(&self, hash: u64, segment: u32, offset: usize) -> bool {
        let pair = self.index.pair(hash);
        let tag = Index::tag(hash);
        let versions = self.begin_pair(pair);
        let here = |_, value: u64| {
            slot::tag(value) == tag
                && slot::segment_id(value) == segment
                && slot::offset(value) as usize == offset
        };
        let linked = self.index.scan(pair.first, here)
            || (pair.second != pair.first && self.index.scan(pair.second, here));
        !linked && self.pair_valid(pair, versions)
    }

    /// The item at `offset` of `segment`, as linked from the held buckets of `hash`,
    /// with its header as it is now (bits and expiry change in place).
    fn linked_item(
        &self,
        guard: &crate::index::PairGuard<'_>,
        hash: u64,
        segment: u32,
        offset: usize,
        now: &crate::cache::Now<'_>,
    ) -> Option<Found> {
        let here = |value: u64| {
            slot::segment_id(value) == segment && slot::offset(value) as usize == offset
        };
        let (at, value) = guard.find(Index::tag(hash), here)?;
        let header = self
            .read_header(segment, offset)
            .expect("a linked item is well formed");
        Some(self.found(at, value, header, now))
    }

    /// Merge's rule for one item: one read since it was written or last moved is kept
    /// (its read counter halved), anything else is dropped, and expired or flushed
    /// items always go.
    fn merge_item(&self, segment: u32, item: &Visited<'_>, target: u32) -> Fate {
        let (offset, hash, key) = (item.offset, item.hash, item.key);
        if self.surely_unlinked(hash, segment, offset) {
            return Fate::Gone;
        }
        let now = self.now();
        let mut guard = self.index.lock(self.index.pair(hash));
        let Some(found) = self.linked_item(&guard, hash, segment, offset, &now) else {
            return Fate::Gone;
        };
        let freq = slot::freq(found.slot);
        let mut fate = Fate::Dropped;
        if found.is_live() && freq > 0 {
            match self.copy_into(&found, key, target) {
                Some(moved) => {
                    let value = slot::pack(slot::tag(found.slot), freq / 2, target, moved);
                    guard.set(found.at, value);
                    drop(guard);
                    self.segment(segment).remove_live(found.header.total_len());
                    self.counters.incr(Counter::MergeKeptItems);
                    return Fate::Kept;
                }
                None => fate = Fate::NoRoom,
            }
        }
        guard.remove(found.at);
        drop(guard);
        self.forget(&found);
        if found.is_live() {
            self.counters.incr(Counter::EvictedItems);
            self.report_eviction(key, &found);
        }
        fate
    }

    /// Writes a copy of `found` at the end of `target`, keeping its CAS; its offset
    /// there, or `None` when the target is full. The caller holds the item's buckets.
    fn copy_into(&self, found: &Found, key: &[u8], target: u32) -> Option<usize> {
        let fields = Fields {
            explicit_cas: self.config.cas_enabled.then_some(found.cas),
            access_secs: self.access_secs(target, found.last_access_unix_secs),
            ..found.header.fields()
        };
        let value_len = found.header.value_len;
        let len = fields.item_len(key.len(), value_len);
        let meta = self.segment(target);
        let offset = meta.try_reserve(len, self.config.segment_size_bytes)?;
        let mut header = [0u8; MAX_HEADER_BYTES];
        let header_len = item::encode(&fields, key.len(), value_len, &mut header);
        let to = self.addr(target, offset);
        self.heap.write(to, &header[..header_len]);
        self.heap.write(to + header_len, key);
        let from = self.addr(found.segment, found.offset + found.header.value_start());
        self.heap.copy(from, to + header_len + key.len(), value_len);
        meta.add_live(len);
        meta.note_expiry(fields.expiry_unix_secs);
        meta.finish_write();
        Some(offset)
    }

    /// Returns an emptied segment to the pool.
    fn free_segment(&self, id: u32) {
        let meta = self.segment(id);
        // Sees every count an item's burial took before the mark the walk skipped on.
        fence(Ordering::Acquire);
        debug_assert_eq!(meta.live(), (0, 0), "segment {id} freed with live items");
        meta.set_state(State::Free);
        self.pool.give_back(id);
    }

    /// Starts a merge of the first segments of `bucket`'s chain, if it has at least two
    /// retired ones and a free segment can be its target. Eviction starts below the
    /// reserve, which is at least two for merge, so the target is the spare one.
    pub(crate) fn start_merge(&self, bucket: u32) -> Option<crate::evict::Job> {
        if self.pool.free_count() == 0 {
            return None;
        }
        let mut chain = self.ttl.lock(bucket);
        let active = self.ttl.active(bucket);
        let mut sources = [NO_SEGMENT; MERGE_SEGMENTS];
        let mut count = 0;
        let mut id = chain.head;
        while id != NO_SEGMENT && id != active && count < MERGE_SEGMENTS {
            sources[count] = id;
            count += 1;
            id = self.segment(id).next.load(Ordering::Relaxed);
        }
        if count < 2 {
            return None;
        }
        let target = self.pool.take()?;
        self.take_segment(target, State::MergeTarget, bucket);
        let mut epoch = u64::MAX;
        let target_meta = self.segment(target);
        let mut time_base = target_meta.time_base_unix_secs.load(Ordering::Relaxed);
        for &source in &sources[..count] {
            let meta = self.segment(source);
            epoch = epoch.min(meta.epoch.load(Ordering::Relaxed));
            time_base = time_base.min(meta.time_base_unix_secs.load(Ordering::Relaxed));
            self.unlink_from_chain(bucket, &mut chain, source);
            meta.set_state(State::Emptying);
        }
        // The target holds the sources' data: a flush that killed them kills it, and
        // their access times must fit its time base.
        target_meta.epoch.store(epoch, Ordering::Relaxed);
        target_meta
            .time_base_unix_secs
            .store(time_base, Ordering::Relaxed);
        Some(Job::Merge {
            sources,
            count,
            current: 0,
            walk: Walk::new(sources[0]),
            target,
            bucket,
            target_full: false,
        })
    }

    /// Puts a merge's target in its chain, at the back of the eviction line, so its
    /// survivors get a full round to be read again before the next merge sees them.
    fn finish_merge(&self, target: u32, bucket: u32) {
        let meta = self.segment(target);
        meta.seal();
        // Nothing survived (no source item had been read since it was written): an
        // empty target in the chain would hold a whole segment until the next round
        // reached it, a quarter of the memory under write-once data.
        if meta.live().0 == 0 {
            self.free_segment(target);
            return;
        }
        meta.order.store(
            self.next_sequence.fetch_add(1, Ordering::SeqCst),
            Ordering::Relaxed,
        );
        let mut chain = self.ttl.lock(bucket);
        meta.set_state(State::InChain);
        self.insert_before_active(bucket, &mut chain, target);
        drop(chain);
        if self.flush.kills(meta.epoch.load(Ordering::Relaxed)) {
            self.flush.mark_reclaim_due(crate::flush::RECLAIM_AT_ONCE);
        }
    }
}
