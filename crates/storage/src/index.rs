//! A shard's hash index: cache-line buckets of 8 slots, chained into overflow buckets.
//!
//! The home bucket comes from the low 32 bits of the keyed hash (multiply-shift, so the
//! bucket count need not be a power of two and no budget is lost rounding). The last
//! slot of a full bucket may instead link to an overflow bucket. When the chain is full
//! and no overflow bucket is left the caller evicts a slot: the index never refuses.
//! Removal keeps a chain's holes in its last bucket only, so overflow buckets go back
//! to the spares as soon as the chain's items fit without them.

use crate::slot;

/// Slots in one bucket.
pub const SLOTS_PER_BUCKET: usize = 8;

/// One cache line of slots.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, Default)]
pub struct Bucket {
    slots: [u64; SLOTS_PER_BUCKET],
}

/// Position of one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRef {
    bucket: u32,
    slot: u8,
}

/// The index of one shard.
#[derive(Debug)]
pub struct Index {
    buckets: Vec<Bucket>,
    primary_count: usize,
    overflow_used: usize,
    /// Overflow buckets emptied and unlinked, ready for reuse.
    overflow_free: Vec<u32>,
}

impl Index {
    /// An empty index with `primary_count` home buckets and `overflow_count` spares.
    pub fn new(primary_count: usize, overflow_count: usize) -> Self {
        assert!(primary_count >= 1 && primary_count + overflow_count < u32::MAX as usize);
        Index {
            buckets: vec![Bucket::default(); primary_count + overflow_count],
            primary_count,
            overflow_used: 0,
            overflow_free: Vec::with_capacity(overflow_count),
        }
    }

    /// Whether the overflow buckets are nearly used up (under an eighth left): inserts
    /// into this index will soon have to drop items from full chains.
    pub fn overflow_nearly_full(&self) -> bool {
        let total = self.buckets.len() - self.primary_count;
        let left = total - self.overflow_used + self.overflow_free.len();
        left * 8 < total.max(1)
    }

    fn home(&self, hash: u64) -> usize {
        (((hash & 0xffff_ffff) * self.primary_count as u64) >> 32) as usize
    }

    /// The slot value at `at`.
    pub fn get(&self, at: SlotRef) -> u64 {
        self.buckets[at.bucket as usize].slots[at.slot as usize]
    }

    /// Overwrites the slot at `at` (0 empties it).
    pub fn set(&mut self, at: SlotRef, value: u64) {
        self.buckets[at.bucket as usize].slots[at.slot as usize] = value;
    }

    /// The first item slot in `hash`'s chain with `hash`'s tag for which `matches` holds.
    pub fn find(&self, hash: u64, mut matches: impl FnMut(u64) -> bool) -> Option<SlotRef> {
        let tag = slot::tag_of(hash);
        let mut found = None;
        self.walk(hash, |at, value| {
            if slot::tag(value) == tag && matches(value) {
                found = Some(at);
                return true;
            }
            false
        });
        found
    }

    /// Visits each slot of `hash`'s chain (links excluded) until `visit` returns true.
    fn walk(&self, hash: u64, mut visit: impl FnMut(SlotRef, u64) -> bool) {
        let mut bucket = self.home(hash);
        // A chain never revisits a bucket, so it is at most all buckets long.
        for _ in 0..self.buckets.len() {
            let slots = &self.buckets[bucket].slots;
            let mut next = None;
            for (i, &value) in slots.iter().enumerate() {
                if let Some(target) = slot::link_target(value) {
                    next = Some(self.primary_count + target as usize);
                    continue;
                }
                if visit(
                    SlotRef {
                        bucket: bucket as u32,
                        slot: i as u8,
                    },
                    value,
                ) {
                    return;
                }
            }
            match next {
                Some(b) => bucket = b,
                None => return,
            }
        }
    }

    /// Puts `value` in a free slot of `hash`'s chain, growing the chain if it can;
    /// `None` when the chain is full and no overflow bucket is left.
    pub fn insert(&mut self, hash: u64, value: u64) -> Option<SlotRef> {
        let mut empty = None;
        let mut last = SlotRef { bucket: 0, slot: 0 };
        self.walk(hash, |at, v| {
            last = at;
            if v == 0 {
                empty = Some(at);
                return true;
            }
            false
        });
        if let Some(at) = empty {
            self.set(at, value);
            return Some(at);
        }
        let number = match self.overflow_free.pop() {
            Some(number) => number,
            None if self.primary_count + self.overflow_used < self.buckets.len() => {
                self.overflow_used += 1;
                (self.overflow_used - 1) as u32
            }
            None => return None,
        };
        let new_bucket = self.primary_count as u32 + number;
        let tail = SlotRef {
            bucket: last.bucket,
            slot: (SLOTS_PER_BUCKET - 1) as u8,
        };
        let displaced = self.get(tail);
        self.set(tail, slot::pack_link(number));
        self.set(
            SlotRef {
                bucket: new_bucket,
                slot: 0,
            },
            displaced,
        );
        let at = SlotRef {
            bucket: new_bucket,
            slot: 1,
        };
        self.set(at, value);
        Some(at)
    }

    /// Empties the slot at `at` in `hash`'s chain. The hole is filled with an item
    /// from the chain's last overflow bucket, and a last bucket left with at most one
    /// item gives it to the link slot and is kept for reuse: only the last bucket ever
    /// has holes, so a chain holds no more overflow buckets than its items need and a
    /// few long-lived items cannot pin the spares (which would make inserts evict).
    /// Moves only slots of this chain: other `SlotRef`s into it are stale after this.
    pub fn remove(&mut self, hash: u64, at: SlotRef) {
        self.set(at, 0);
        let Some((last, link_at)) = self.last_overflow(hash) else {
            return;
        };
        if last != at.bucket as usize {
            let slots = &mut self.buckets[last].slots;
            if let Some(i) = slots.iter().position(|&v| v != 0) {
                let moved = std::mem::take(&mut slots[i]);
                self.set(at, moved);
            }
        }
        let mut items = self.buckets[last].slots.iter().filter(|&&v| v != 0);
        let first = items.next().copied();
        if items.next().is_none() {
            self.set(link_at, first.unwrap_or(0));
            self.buckets[last] = Bucket::default();
            self.overflow_free.push((last - self.primary_count) as u32);
        }
    }

    /// The last bucket of `hash`'s chain, if it is an overflow bucket, and the link
    /// slot that points to it. The last bucket holds no link.
    fn last_overflow(&self, hash: u64) -> Option<(usize, SlotRef)> {
        let mut bucket = self.home(hash);
        let mut link_at = None;
        // A chain never revisits a bucket, so it is at most all buckets long.
        for _ in 0..self.buckets.len() {
            let tail = self.buckets[bucket].slots[SLOTS_PER_BUCKET - 1];
            let Some(next) = slot::link_target(tail) else {
                break;
            };
            link_at = Some(SlotRef {
                bucket: bucket as u32,
                slot: (SLOTS_PER_BUCKET - 1) as u8,
            });
            bucket = self.primary_count + next as usize;
        }
        link_at.map(|link| (bucket, link))
    }

    /// The slot in `hash`'s chain read least often: the one to give up when the chain is full.
    pub fn least_used(&self, hash: u64) -> SlotRef {
        let mut best: Option<(u8, SlotRef)> = None;
        self.walk(hash, |at, value| {
            let freq = slot::freq(value);
            let better = match best {
                Some((lowest, _)) => freq < lowest,
                None => true,
            };
            if better {
                best = Some((freq, at));
            }
            false
        });
        best.expect("a full chain has item slots").1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Overflow buckets handed out, on the free list, and reachable from a chain.
    fn overflow_accounting(index: &Index) -> (usize, usize, usize) {
        let mut reachable = 0;
        for home in 0..index.primary_count {
            let mut at = home;
            while let Some(next) = slot::link_target(index.buckets[at].slots[SLOTS_PER_BUCKET - 1])
            {
                at = index.primary_count + next as usize;
                reachable += 1;
            }
        }
        (index.overflow_used, index.overflow_free.len(), reachable)
    }

    #[test]
    fn bucket_is_exactly_one_cache_line() {
        assert_eq!(std::mem::size_of::<Bucket>(), 64);
        assert_eq!(std::mem::align_of::<Bucket>(), 64);
    }

    fn item(n: u32) -> u64 {
        slot::pack(slot::tag_of(0), 0, n, n)
    }

    #[test]
    fn chain_grows_into_overflow_then_refuses() {
        let mut index = Index::new(1, 1);
        let hash = 0; // every insert lands in the one home bucket
        for n in 0..15 {
            assert!(index.insert(hash, item(n)).is_some(), "insert {n}");
        }
        assert_eq!(index.insert(hash, item(99)), None);
        for n in 0..15 {
            assert!(
                index.find(hash, |v| slot::offset(v) == n).is_some(),
                "find {n}"
            );
        }
        let at = index.find(hash, |v| slot::offset(v) == 3).unwrap();
        index.remove(hash, at);
        assert!(index.find(hash, |v| slot::offset(v) == 3).is_none());
        assert!(index.insert(hash, item(100)).is_some());
    }

    #[test]
    fn emptied_overflow_buckets_are_reused() {
        let mut index = Index::new(1, 1);
        for round in 0..100 {
            for n in 0..15 {
                assert!(
                    index.insert(0, item(n)).is_some(),
                    "round {round} insert {n}"
                );
            }
            for n in 0..15 {
                let at = index.find(0, |v| slot::offset(v) == n).unwrap();
                index.remove(0, at);
            }
        }
        assert_eq!(index.overflow_free.len(), 1);
    }

    #[test]
    fn random_churn_never_leaks_overflow_buckets() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let mut index = Index::new(4, 8);
        let mut live: Vec<(u64, u32)> = Vec::new();
        for step in 0..20_000u32 {
            if live.len() < 40 && rng.gen_bool(0.55) {
                let hash = (rng.gen_range(0..4u64) << 30) | ((step as u64 & 0xfff) << 32);
                if index
                    .insert(hash, slot::pack(slot::tag_of(hash), 0, 0, step))
                    .is_some()
                {
                    live.push((hash, step));
                }
            } else if !live.is_empty() {
                let (hash, id) = live.swap_remove(rng.gen_range(0..live.len()));
                let at = index
                    .find(hash, |v| slot::offset(v) == id)
                    .expect("present");
                index.remove(hash, at);
            }
            let (used, free, reachable) = overflow_accounting(&index);
            assert_eq!(used, free + reachable, "step {step}");
        }
    }

    /// Overflow buckets a chain of `items` needs when only its last bucket has holes.
    fn needed_overflow(items: usize) -> usize {
        match items {
            0..=SLOTS_PER_BUCKET => 0,
            n => (n - SLOTS_PER_BUCKET).div_ceil(SLOTS_PER_BUCKET - 1),
        }
    }

    #[test]
    fn removing_from_the_home_bucket_drains_the_overflow() {
        let mut index = Index::new(1, 2);
        for n in 0..15 {
            index.insert(0, item(n)).expect("room");
        }
        assert_eq!(overflow_accounting(&index), (1, 0, 1));
        // The first 7 inserts sit in the home bucket; removing them pulls the
        // overflow items home, so the long-lived ones no longer pin a spare bucket.
        for n in 0..7 {
            let at = index.find(0, |v| slot::offset(v) == n).unwrap();
            index.remove(0, at);
        }
        assert_eq!(overflow_accounting(&index), (1, 1, 0));
        for n in 7..15 {
            assert!(
                index.find(0, |v| slot::offset(v) == n).is_some(),
                "find {n}"
            );
        }
    }

    #[test]
    fn a_chain_never_holds_more_overflow_buckets_than_its_items_need() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(11);
        let mut index = Index::new(1, 6);
        let mut live: Vec<u32> = Vec::new();
        for step in 0..20_000u32 {
            if live.len() < 40 && rng.gen_bool(0.5) {
                index.insert(0, item(step)).expect("room");
                live.push(step);
            } else if !live.is_empty() {
                let id = live.swap_remove(rng.gen_range(0..live.len()));
                let at = index.find(0, |v| slot::offset(v) == id).expect("present");
                index.remove(0, at);
            }
            let (used, free, reachable) = overflow_accounting(&index);
            assert_eq!(used, free + reachable, "step {step}");
            assert_eq!(reachable, needed_overflow(live.len()), "step {step}");
        }
        for id in live {
            assert!(index.find(0, |v| slot::offset(v) == id).is_some());
        }
    }

    #[test]
    fn least_used_picks_lowest_freq() {
        let mut index = Index::new(1, 0);
        for n in 0..8 {
            index.insert(0, slot::with_freq(item(n), if n == 5 { 0 } else { 3 }));
        }
        assert_eq!(slot::offset(index.get(index.least_used(0))), 5);
    }
}
