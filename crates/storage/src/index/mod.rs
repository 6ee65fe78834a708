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
//! if none can does the caller give up an item (`mutate`). With this, buckets fill
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
//! Orderings (model-checked with loom in `index/loom_tests.rs`): a writer's lock is an
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
    pub(crate) fn bucket_count(&self) -> u32 {
        // `new` and `from_words` keep it under u32::MAX.
        self.bucket_count as u32
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
mod tests;

#[cfg(all(test, loom))]
mod loom_tests;
