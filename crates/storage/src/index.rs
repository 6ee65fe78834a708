//! The hash index: cache-line buckets, two candidate buckets per key, read without
//! locks and written under per-bucket locks that are also the buckets' versions (a
//! seqlock per bucket).
//!
//! ```text
//! bucket, 64 bytes (one cache line):
//! +-------------------+--------+--------+-----+--------+
//! | version (64 bits) | slot 1 | slot 2 | ... | slot 7 |
//! +-------------------+--------+--------+-----+--------+
//! ```
//!
//! A key may live in either of two buckets (two-choice hashing): the first from its
//! hash, the second its *alternate*, computed from the first bucket and the key's tag
//! alone, and symmetric (the alternate of the alternate is the first). A new key goes
//! to the emptier bucket. When both are full, one of their 14 items whose own
//! alternate bucket has room moves there (one step of cuckoo hashing; knowing a
//! slot's alternate from its tag means no key is read or hashed to find it), and only
//! if none can does the caller give up an item (`mutate.rs`). With this, buckets fill
//! evenly enough that 1.2 slots per item hold a full heap with few collisions, where
//! one choice needs overflow chains and about 1.3 slots per item (`Config::layout`).
//! Item slots are laid out in `slot.rs`; 0 is an empty slot.
//!
//! A bucket's version is even while no writer holds the bucket and odd while one does:
//! a writer takes a bucket by moving it from even to odd with a compare-and-swap, and
//! lets go by storing the next even value. A reader notes the even version, reads the
//! bucket and copies what it needs from the items it points to, then checks that the
//! version has not moved; if it has, it starts over. Every change a reader could
//! misread happens while the bucket of each key concerned is held: a slot set or
//! emptied, an item moved to its alternate bucket (both held), an item's header
//! rewritten in place, and (because its items are unlinked first) a segment's bytes
//! reused. So an unchanged version proves that what the reader copied was whole; a
//! reader that finds nothing checks both buckets, since an item may move between them.
//!
//! Orderings (model-checked with loom in `tests/loom_index.rs`): a writer's lock is an
//! Acquire compare-and-swap followed by a Release fence, so a reader that sees any of
//! the writer's stores also sees the odd version; the unlock is a Release store and a
//! reader's first version load is Acquire, so a reader that starts after a writer has
//! finished sees all it wrote; a reader's check is an Acquire fence, then a load.

use crate::lock_hold::{HoldStart, LockHolds};
use crate::slot;
use crate::sync::{backoff, fence, AtomicU64, Ordering};
use crate::words::AtomicWords;

/// Words in one bucket: the version, then the item slots.
const WORDS_PER_BUCKET: usize = 8;
/// Item slots in one bucket.
pub(crate) const ITEM_SLOTS_PER_BUCKET: usize = WORDS_PER_BUCKET - 1;
/// Bytes of one bucket.
pub(crate) const BUCKET_BYTES: usize = WORDS_PER_BUCKET * 8;

/// Position of one item slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotRef {
    bucket: u32,
    /// 1..=7 (word 0 is the version).
    slot: u8,
}

impl SlotRef {
    /// The bucket the slot is in.
    pub(crate) fn bucket(self) -> u32 {
        self.bucket
    }
}

/// The two buckets a key may live in (the same bucket twice for some keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pair {
    /// Looked in first.
    pub first: u32,
    /// Looked in second; equal to `first` when both choices agree.
    pub second: u32,
}

impl Pair {
    /// The pair's buckets, each once, in lock order (lower index first).
    fn buckets(self) -> ([u32; 2], usize) {
        if self.first == self.second {
            ([self.first, self.first], 1)
        } else {
            (
                [self.first.min(self.second), self.first.max(self.second)],
                2,
            )
        }
    }
}

/// The index of the whole engine.
pub(crate) struct Index {
    words: AtomicWords,
    bucket_count: usize,
    holds: LockHolds,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("bucket_count", &self.bucket_count)
            .finish()
    }
}

impl Index {
    /// An empty index of `bucket_count` buckets.
    pub(crate) fn new(bucket_count: usize) -> Index {
        assert!((1..u32::MAX as usize).contains(&bucket_count));
        Index {
            words: AtomicWords::zeroed(bucket_count * WORDS_PER_BUCKET, BUCKET_BYTES),
            bucket_count,
            holds: LockHolds::new(),
        }
    }

    /// An index over `words` (a mapping of the heap file), as it was left there.
    #[cfg(not(loom))]
    pub(crate) fn from_words(words: AtomicWords, bucket_count: usize) -> Index {
        assert!((1..u32::MAX as usize).contains(&bucket_count));
        assert_eq!(words.len(), bucket_count * WORDS_PER_BUCKET);
        Index {
            words,
            bucket_count,
            holds: LockHolds::new(),
        }
    }

    /// Copies the index's words from word `first_word` on into `out` (little-endian,
    /// a whole number of buckets), for the heap file's checksum; false if a writer
    /// holds one of those buckets.
    #[cfg(not(loom))]
    pub(crate) fn copy_words(&self, first_word: usize, out: &mut [u8]) -> bool {
        debug_assert!(first_word.is_multiple_of(WORDS_PER_BUCKET));
        debug_assert!(out.len().is_multiple_of(BUCKET_BYTES));
        let words = &self.words[first_word..first_word + out.len() / 8];
        let mut unheld = true;
        for (bucket, bytes) in words
            .chunks_exact(WORDS_PER_BUCKET)
            .zip(out.chunks_exact_mut(BUCKET_BYTES))
        {
            for (word, to) in bucket.iter().zip(bytes.chunks_exact_mut(8)) {
                to.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
            }
            unheld &= bucket[0].load(Ordering::Relaxed).is_multiple_of(2);
        }
        unheld
    }

    /// How many buckets the index has.
    pub(crate) fn bucket_count(&self) -> usize {
        self.bucket_count
    }

    /// The bucket-lock hold histogram.
    pub(crate) fn holds(&self) -> &LockHolds {
        &self.holds
    }

    /// The buckets of `hash`. The first comes from the hash's low 32 bits by
    /// multiply-shift (so the bucket count need not be a power of two), which reads
    /// mostly their high bits; the tag is the lowest bits, so it barely sways the first
    /// choice and can pick the second.
    pub(crate) fn pair(&self, hash: u64) -> Pair {
        let first = (((hash & 0xffff_ffff) * self.bucket_count as u64) >> 32) as u32;
        Pair {
            first,
            second: self.alternate(first, slot::tag_of(hash)),
        }
    }

    /// The other bucket of a key with `tag` that may live in `bucket`: a reflection
    /// about a point the tag picks, so `alternate(alternate(b, t), t) == b`.
    fn alternate(&self, bucket: u32, tag: u16) -> u32 {
        let buckets = self.bucket_count as u64;
        // Multiply-shift rather than `%`: a division costs tens of cycles per lookup.
        let mixed = u64::from(tag).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        let point = (mixed * buckets) >> 32;
        let reflected = point + buckets - u64::from(bucket);
        (if reflected >= buckets {
            reflected - buckets
        } else {
            reflected
        }) as u32
    }

    /// Takes one bucket if no one holds it; for moving an item into it.
    fn try_lock_bucket(&self, bucket: u32) -> Option<BucketGuard<'_>> {
        let version = self.version(bucket);
        let current = version.load(Ordering::Relaxed);
        if !current.is_multiple_of(2) {
            return None;
        }
        version
            .compare_exchange(current, current + 1, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        fence(Ordering::Release);
        Some(BucketGuard {
            index: self,
            bucket,
        })
    }

    /// A free slot of `bucket`, if any.
    fn free_slot(&self, bucket: u32) -> Option<SlotRef> {
        (1..WORDS_PER_BUCKET)
            .map(|slot| SlotRef {
                bucket,
                slot: slot as u8,
            })
            .find(|&at| self.slot_word(at).load(Ordering::Relaxed) == 0)
    }

    /// The non-zero 12-bit tag of `hash` kept in its slot.
    pub(crate) fn tag(hash: u64) -> u16 {
        slot::tag_of(hash)
    }

    fn word(&self, bucket: u32, index: usize) -> &AtomicU64 {
        &self.words[bucket as usize * WORDS_PER_BUCKET + index]
    }

    fn version(&self, bucket: u32) -> &AtomicU64 {
        self.word(bucket, 0)
    }

    fn slot_word(&self, at: SlotRef) -> &AtomicU64 {
        self.word(at.bucket, at.slot as usize)
    }

    /// Starts a lock-free read of `bucket`: waits out a writer holding it and returns
    /// the (even) version to check against at the end.
    pub(crate) fn read_begin(&self, bucket: u32) -> u64 {
        let mut spins = 0;
        loop {
            let version = self.version(bucket).load(Ordering::Acquire);
            if version.is_multiple_of(2) {
                return version;
            }
            backoff(&mut spins);
        }
    }

    /// Whether no writer has held `bucket` since `read_begin` returned `version`: then
    /// everything read from it, and from the items it points to, in between was whole.
    pub(crate) fn read_valid(&self, bucket: u32, version: u64) -> bool {
        fence(Ordering::Acquire);
        self.version(bucket).load(Ordering::Relaxed) == version
    }

    /// Calls `visit` with each item slot of `bucket` until it returns true; returns
    /// whether it did.
    pub(crate) fn scan(&self, bucket: u32, mut visit: impl FnMut(SlotRef, u64) -> bool) -> bool {
        (1..WORDS_PER_BUCKET).any(|slot| {
            let at = SlotRef {
                bucket,
                slot: slot as u8,
            };
            let value = self.slot_word(at).load(Ordering::Relaxed);
            value != 0 && visit(at, value)
        })
    }

    /// Loads both buckets of `pair` into the cache ahead of use (a job reading ahead).
    pub(crate) fn warm(&self, pair: Pair) {
        std::hint::black_box(self.version(pair.first).load(Ordering::Relaxed));
        std::hint::black_box(self.version(pair.second).load(Ordering::Relaxed));
    }

    /// Adds one to the read counter of the slot at `at` if it still holds `seen`.
    /// Lock-free and best effort: a lost bump only makes the counter approximate.
    pub(crate) fn bump_freq(&self, at: SlotRef, seen: u64) {
        let freq = slot::freq(seen);
        if freq < slot::MAX_FREQ {
            let _ = self.slot_word(at).compare_exchange(
                seen,
                slot::with_freq(seen, freq + 1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Takes both buckets of `pair` (lower index first, so two writers never wait on
    /// each other in a circle), waiting for their holders if any.
    pub(crate) fn lock(&self, pair: Pair) -> PairGuard<'_> {
        let (buckets, count) = pair.buckets();
        for &bucket in &buckets[..count] {
            let version = self.version(bucket);
            let mut spins = 0;
            loop {
                let current = version.load(Ordering::Relaxed);
                if current.is_multiple_of(2)
                    && version
                        .compare_exchange_weak(
                            current,
                            current.wrapping_add(1),
                            Ordering::Acquire,
                            Ordering::Relaxed,
                        )
                        .is_ok()
                {
                    break;
                }
                backoff(&mut spins);
            }
        }
        self.locked(pair)
    }

    /// Takes both buckets of `pair` only if no writer has held either since
    /// `read_begin` returned `versions` (first, second): then what was read under
    /// those versions still holds.
    pub(crate) fn try_lock_at(&self, pair: Pair, versions: (u64, u64)) -> Option<PairGuard<'_>> {
        let (buckets, count) = pair.buckets();
        for (taken, &bucket) in buckets[..count].iter().enumerate() {
            let expected = if bucket == pair.first {
                versions.0
            } else {
                versions.1
            };
            let won = self
                .version(bucket)
                .compare_exchange(
                    expected,
                    expected.wrapping_add(1),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok();
            if !won {
                if taken == 1 {
                    // Let go of the first bucket; its version moves on, which only
                    // makes concurrent readers of it look again.
                    self.version(buckets[0]).fetch_add(1, Ordering::Release);
                }
                return None;
            }
        }
        Some(self.locked(pair))
    }

    fn locked(&self, pair: Pair) -> PairGuard<'_> {
        // Orders the odd versions before every store made under the lock, for readers.
        fence(Ordering::Release);
        PairGuard {
            index: self,
            pair,
            started: self.holds.start(),
        }
    }
}

/// One bucket held for a move into it; dropping it lets go.
struct BucketGuard<'a> {
    index: &'a Index,
    bucket: u32,
}

impl Drop for BucketGuard<'_> {
    fn drop(&mut self) {
        crate::held_abort::abort_if_unwinding("an index bucket");
        self.index
            .version(self.bucket)
            .fetch_add(1, Ordering::Release);
    }
}

/// Both buckets of a key, held: their slots and their items' headers may be changed
/// through it. Dropping it lets go (and counts the hold in the histogram).
pub(crate) struct PairGuard<'a> {
    index: &'a Index,
    pair: Pair,
    started: HoldStart,
}

impl Drop for PairGuard<'_> {
    fn drop(&mut self) {
        crate::held_abort::abort_if_unwinding("an index bucket pair");
        let (buckets, count) = self.pair.buckets();
        for &bucket in &buckets[..count] {
            self.index.version(bucket).fetch_add(1, Ordering::Release);
        }
        self.index.holds.finish(self.started);
    }
}

impl PairGuard<'_> {
    /// The held buckets, each once, in the order a reader looks.
    fn buckets(&self) -> ([u32; 2], usize) {
        let count = if self.pair.first == self.pair.second {
            1
        } else {
            2
        };
        ([self.pair.first, self.pair.second], count)
    }

    /// The first item slot with `tag` for which `matches` holds.
    pub(crate) fn find(
        &self,
        tag: u16,
        mut matches: impl FnMut(u64) -> bool,
    ) -> Option<(SlotRef, u64)> {
        let mut found = None;
        self.for_each(|at, value| {
            if slot::tag(value) == tag && matches(value) {
                found = Some((at, value));
                return true;
            }
            false
        });
        found
    }

    /// Calls `visit` with each item slot of both buckets until it returns true.
    pub(crate) fn for_each(&self, mut visit: impl FnMut(SlotRef, u64) -> bool) {
        let (buckets, count) = self.buckets();
        for &bucket in &buckets[..count] {
            if self.index.scan(bucket, &mut visit) {
                return;
            }
        }
    }

    /// The slot value at `at`.
    pub(crate) fn get(&self, at: SlotRef) -> u64 {
        self.index.slot_word(at).load(Ordering::Relaxed)
    }

    /// Overwrites the item slot at `at` with another item (or the same one moved).
    pub(crate) fn set(&self, at: SlotRef, value: u64) {
        debug_assert_ne!(value, 0, "use remove to empty a slot");
        self.index.slot_word(at).store(value, Ordering::Relaxed);
    }

    /// Puts `value` in a free slot of the emptier bucket, or, when both are full, in
    /// the slot of an item that moved to its alternate bucket; `None` when no item
    /// could move.
    pub(crate) fn insert(&mut self, value: u64) -> Option<SlotRef> {
        if let Some(at) = self.insert_in_place(value) {
            return Some(at);
        }
        let at = self.move_one_out()?;
        self.index.slot_word(at).store(value, Ordering::Relaxed);
        Some(at)
    }

    /// Moves one item of the held buckets to its alternate bucket, if one has room and
    /// is free to take (never waited for: it is not in lock order); returns the slot
    /// it left.
    fn move_one_out(&mut self) -> Option<SlotRef> {
        let index = self.index;
        let (buckets, count) = self.buckets();
        for &bucket in &buckets[..count] {
            for slot in 1..WORDS_PER_BUCKET {
                let at = SlotRef {
                    bucket,
                    slot: slot as u8,
                };
                let value = self.get(at);
                let alternate = index.alternate(bucket, slot::tag(value));
                if buckets[..count].contains(&alternate) || index.free_slot(alternate).is_none() {
                    continue;
                }
                let Some(_held) = index.try_lock_bucket(alternate) else {
                    continue;
                };
                if let Some(free) = index.free_slot(alternate) {
                    index.slot_word(free).store(value, Ordering::Relaxed);
                    index.slot_word(at).store(0, Ordering::Relaxed);
                    return Some(at);
                }
            }
        }
        None
    }

    /// The first free slot, looking in the order a reader does: a key placed in its
    /// first bucket costs a reader one cache line instead of two. The cuckoo move keeps
    /// the buckets even when first choices fill up.
    fn insert_in_place(&mut self, value: u64) -> Option<SlotRef> {
        let (buckets, count) = self.buckets();
        let at = buckets[..count]
            .iter()
            .find_map(|&bucket| self.index.free_slot(bucket))?;
        self.index.slot_word(at).store(value, Ordering::Relaxed);
        Some(at)
    }

    /// Empties the slot at `at`.
    pub(crate) fn remove(&mut self, at: SlotRef) {
        self.index.slot_word(at).store(0, Ordering::Relaxed);
    }
}

#[cfg(not(loom))]
impl Index {
    /// Every item slot with the bucket it is in, for invariant checks on a quiet engine.
    pub(crate) fn for_each_slot(&self, mut visit: impl FnMut(u32, u64)) {
        for bucket in 0..self.bucket_count as u32 {
            self.scan(bucket, |_, value| {
                visit(bucket, value);
                false
            });
        }
    }

    /// Whether `bucket` is one of `hash`'s two.
    pub(crate) fn holds_hash(&self, bucket: u32, hash: u64) -> bool {
        let pair = self.pair(hash);
        bucket == pair.first || bucket == pair.second
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn bucket_is_exactly_one_cache_line() {
        let index = Index::new(3);
        assert_eq!(BUCKET_BYTES, 64);
        assert_eq!(index.words.as_ptr() as usize % 64, 0);
    }

    fn item(n: u32) -> u64 {
        slot::pack(slot::tag_of(0), 0, n, n)
    }

    fn find(index: &Index, pair: Pair, n: u32) -> Option<SlotRef> {
        index
            .lock(pair)
            .find(slot::tag_of(0), |v| slot::offset(v) == n)
            .map(|(at, _)| at)
    }

    const PAIR: Pair = Pair {
        first: 2,
        second: 0,
    };

    #[test]
    fn inserts_fill_the_emptier_bucket_then_refuse() {
        // Two buckets: every alternate is inside the pair, so nothing can move out.
        let index = Index::new(2);
        let pair = Pair {
            first: 1,
            second: 0,
        };
        for n in 0..14 {
            assert!(index.lock(pair).insert(item(n)).is_some(), "insert {n}");
        }
        assert_eq!(index.lock(pair).insert(item(99)), None, "both full");
        let mut per_bucket = [0; 2];
        index.for_each_slot(|bucket, _| per_bucket[bucket as usize] += 1);
        assert_eq!(per_bucket, [7, 7]);
        for n in 0..14 {
            assert!(find(&index, pair, n).is_some(), "find {n}");
        }
        let at = find(&index, pair, 3).unwrap();
        index.lock(pair).remove(at);
        assert!(find(&index, pair, 3).is_none());
        assert!(index.lock(pair).insert(item(100)).is_some());
    }

    /// A tag whose alternate of `from` is `to` in `index`.
    fn tag_between(index: &Index, from: u32, to: u32) -> u16 {
        (1..4096u16)
            .find(|&tag| index.alternate(from, tag) == to)
            .expect("some tag links the two")
    }

    #[test]
    fn alternates_are_symmetric() {
        let index = Index::new(1001);
        for tag in 1..4096u16 {
            for bucket in [0, 1, 500, 1000] {
                let alternate = index.alternate(bucket, tag);
                assert!(alternate < 1001);
                assert_eq!(index.alternate(alternate, tag), bucket);
            }
        }
    }

    #[test]
    fn a_full_pair_moves_an_item_to_its_alternate_bucket() {
        let index = Index::new(3);
        let paired = tag_between(&index, 0, 1);
        let pair = Pair {
            first: 0,
            second: 1,
        };
        let with_tag = |tag: u16, n: u32| slot::pack(tag, 0, n, n);
        // Bucket 0 holds one item that could also live in bucket 2.
        let mover = tag_between(&index, 0, 2);
        let mover_pair = Pair {
            first: 0,
            second: 2,
        };
        index.lock(mover_pair).insert(with_tag(mover, 500)).unwrap();
        for n in 0..13 {
            index.lock(pair).insert(with_tag(paired, n)).expect("room");
        }
        let at = index
            .lock(pair)
            .insert(with_tag(paired, 13))
            .expect("one item moves out");
        assert_eq!(index.lock(pair).get(at), with_tag(paired, 13));
        let mut in_two = Vec::new();
        index.for_each_slot(|bucket, value| {
            if bucket == 2 {
                in_two.push(value);
            }
        });
        assert_eq!(
            in_two,
            vec![with_tag(mover, 500)],
            "the mover went to its alternate"
        );
        assert_eq!(index.lock(pair).insert(with_tag(paired, 14)), None);
    }

    #[test]
    fn a_pair_of_one_bucket_holds_seven() {
        let index = Index::new(1);
        let pair = Pair {
            first: 0,
            second: 0,
        };
        for n in 0..7 {
            index.lock(pair).insert(item(n)).expect("room");
        }
        assert_eq!(index.lock(pair).insert(item(7)), None);
        assert_eq!(index.holds().snapshot().count(), 8);
    }

    #[test]
    fn pairs_spread_over_all_buckets() {
        let index = Index::new(1000);
        let mut seen = vec![0u32; 1000];
        for n in 0..100_000u64 {
            let pair = index.pair(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            seen[pair.first as usize] += 1;
            seen[pair.second as usize] += 1;
        }
        assert!(seen.iter().all(|&count| (100..=300).contains(&count)));
    }

    #[test]
    fn versions_move_by_two_per_hold_and_gate_try_lock() {
        let index = Index::new(3);
        let versions = (index.read_begin(2), index.read_begin(0));
        assert!(index.read_valid(2, versions.0));
        drop(index.lock(PAIR));
        assert!(!index.read_valid(2, versions.0), "a hold moves the version");
        assert!(!index.read_valid(0, versions.1));
        assert!(
            index.try_lock_at(PAIR, versions).is_none(),
            "stale versions"
        );
        let fresh = (index.read_begin(2), index.read_begin(0));
        assert_eq!(fresh, (versions.0 + 2, versions.1 + 2));
        let guard = index.try_lock_at(PAIR, fresh).expect("nothing changed");
        assert!(index.try_lock_at(PAIR, fresh).is_none(), "held");
        drop(guard);
        assert_eq!(index.read_begin(1), 0, "other buckets unaffected");
        // A failed try on the second bucket lets go of the first.
        let stale_second = (index.read_begin(2), 0);
        assert!(index.try_lock_at(PAIR, stale_second).is_none());
        assert_eq!(index.read_begin(0) % 2, 0);
        assert_eq!(index.read_begin(2) % 2, 0);
    }

    #[test]
    fn bumps_count_up_to_the_maximum_and_lose_to_a_changed_slot() {
        let index = Index::new(3);
        let at = index.lock(PAIR).insert(item(5)).unwrap();
        for _ in 0..20 {
            let seen = index.lock(PAIR).get(at);
            index.bump_freq(at, seen);
        }
        assert_eq!(slot::freq(index.lock(PAIR).get(at)), slot::MAX_FREQ);
        index.bump_freq(at, item(7)); // not what the slot holds: no change
        assert_eq!(slot::location(index.lock(PAIR).get(at)), item(5));
    }

    /// A reader racing writers that fill and empty the pair's other slots never
    /// accepts a read that missed a present item or saw a half-written one.
    #[test]
    fn validated_reads_never_miss_a_present_item() {
        use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
        let index = Index::new(3);
        let stable = item(1_000_000);
        index.lock(PAIR).insert(stable).unwrap();
        let done = AtomicBool::new(false);
        let rounds = if cfg!(miri) { 20 } else { 20_000 };
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for round in 0..rounds {
                    for n in 0..13 {
                        index.lock(PAIR).insert(item(round * 100 + n)).unwrap();
                    }
                    for n in 0..13 {
                        let at = find(&index, PAIR, round * 100 + n).unwrap();
                        index.lock(PAIR).remove(at);
                    }
                }
                done.store(true, Relaxed);
            });
            scope.spawn(|| {
                // One more read once the writer is done, which always validates.
                let mut last = false;
                while !last {
                    last = done.load(Relaxed);
                    let versions = (index.read_begin(2), index.read_begin(0));
                    let found =
                        index.scan(2, |_, v| v == stable) || index.scan(0, |_, v| v == stable);
                    let valid = index.read_valid(2, versions.0) && index.read_valid(0, versions.1);
                    assert!(!valid || found, "validated read missed the item");
                    assert!(!last || valid, "a read with no writer left validates");
                }
            });
        });
    }
}

/// Model checks of the publish/validate protocol: run with
/// `RUSTFLAGS="--cfg loom" cargo test -p tailcache-storage --lib --release loom`
/// (scripts/check-concurrency.sh). A writer publishes an item, unlinks it and reuses
/// its bytes for another; a reader racing it must either see a whole item or find out
/// from the version that it may not have.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::heap::Heap;

    /// Two words of one repeated byte: a whole item of version `byte`.
    fn item_bytes(byte: u8) -> [u8; 16] {
        [byte; 16]
    }

    const PAIR: Pair = Pair {
        first: 0,
        second: 0,
    };

    fn slot_at(offset: u32) -> u64 {
        slot::pack(slot::tag_of(0), 0, 0, offset)
    }

    /// What a lock-free reader saw: `None` if its version check failed.
    fn read(index: &Index, heap: &Heap) -> Option<Option<[u8; 16]>> {
        let version = index.read_begin(0);
        let mut found = None;
        index.scan(0, |_, value| {
            let mut bytes = [0u8; 16];
            heap.read(slot::offset(value) as usize, &mut bytes);
            found = Some(bytes);
            true
        });
        index.read_valid(0, version).then_some(found)
    }

    #[test]
    fn loom_a_validated_read_never_sees_a_torn_or_reused_item() {
        loom::model(|| {
            let index = loom::sync::Arc::new(Index::new(1));
            let heap = loom::sync::Arc::new(Heap::new(16));
            heap.write(0, &item_bytes(1));
            index.lock(PAIR).insert(slot_at(0)).expect("room");
            let writer = {
                let (index, heap) = (index.clone(), heap.clone());
                loom::thread::spawn(move || {
                    // Unlink, then reuse the bytes for another item, then link it.
                    let mut guard = index.lock(PAIR);
                    let (at, _) = guard.find(slot::tag_of(0), |_| true).expect("linked");
                    guard.remove(at);
                    drop(guard);
                    heap.write(0, &item_bytes(2));
                    index.lock(PAIR).insert(slot_at(0)).expect("room");
                })
            };
            if let Some(found) = read(&index, &heap) {
                match found {
                    None => {}
                    Some(bytes) => assert!(
                        bytes == item_bytes(1) || bytes == item_bytes(2),
                        "a validated read saw {bytes:?}"
                    ),
                }
            }
            writer.join().unwrap();
            assert_eq!(read(&index, &heap), Some(Some(item_bytes(2))));
        });
    }

    #[test]
    fn loom_a_reader_after_a_writer_sees_all_it_wrote() {
        loom::model(|| {
            let index = loom::sync::Arc::new(Index::new(1));
            let heap = loom::sync::Arc::new(Heap::new(16));
            let writer = {
                let (index, heap) = (index.clone(), heap.clone());
                loom::thread::spawn(move || {
                    heap.write(0, &item_bytes(7));
                    index.lock(PAIR).insert(slot_at(0)).expect("room");
                })
            };
            // Before or after the insert, never half of it.
            if let Some(Some(bytes)) = read(&index, &heap) {
                assert_eq!(bytes, item_bytes(7));
            }
            writer.join().unwrap();
        });
    }
}
