//! Reclaiming expired and flushed items ahead of their segment (memcached's
//! `lru_crawler crawl`): a walk of the index in bounded steps, unlinking each
//! dead item it meets so its memory and its count are taken back now rather
//! than when its whole segment is reclaimed.

use crate::cache::{Cache, Found};
use crate::dump::DumpCursor;
use crate::index::{Pair, ITEM_SLOTS_PER_BUCKET};
use crate::slot;

/// What one [`Cache::reclaim_step`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrawlProgress {
    /// Items looked at (memcached's `crawler_items_checked`).
    pub items_checked: u64,
    /// Dead items unlinked (memcached's `crawler_reclaimed`).
    pub items_reclaimed: u64,
    /// The whole index has been walked.
    pub finished: bool,
}

impl Cache {
    /// Unlinks the expired and flushed items of up to `max_buckets` index buckets
    /// from `cursor` on, and moves the cursor past them. A bucket is locked only
    /// when a lock-free look finds a dead item in it, and then for one bucket's scan.
    pub fn reclaim_step(&self, cursor: &mut DumpCursor, max_buckets: usize) -> CrawlProgress {
        self.apply_due_flush();
        let bucket_count = self.index.bucket_count();
        let mut progress = CrawlProgress::default();
        for _ in 0..max_buckets.max(1) {
            let Some(bucket) = cursor.take_bucket(bucket_count) else {
                progress.finished = true;
                return progress;
            };
            let (checked, any_dead) = self.look_for_dead(bucket);
            progress.items_checked += checked;
            if any_dead {
                progress.items_reclaimed += self.unlink_dead(bucket);
            }
        }
        progress.finished = cursor.is_past(bucket_count);
        progress
    }

    /// Without a lock: the items linked from `bucket`, and whether any may be dead
    /// (bytes that do not read as an item, only met while racing a writer, count
    /// as maybe dead: the locked pass decides).
    fn look_for_dead(&self, bucket: u32) -> (u64, bool) {
        let now = self.now();
        let (mut checked, mut any_dead) = (0, false);
        // Every slot is looked at (the scan never stops early), so each is counted.
        self.index.scan(bucket, |at, value| {
            checked += 1;
            let (segment, offset) = (slot::segment_id(value), slot::offset(value) as usize);
            any_dead |= match self.read_header(segment, offset) {
                Some(header) => !self.found(at, value, header, &now).is_live(),
                None => true,
            };
            false
        });
        (checked, any_dead)
    }

    /// Under `bucket`'s lock, unlinks its dead items; how many.
    fn unlink_dead(&self, bucket: u32) -> u64 {
        let mut guard = self.index.lock(Pair {
            first: bucket,
            second: bucket,
        });
        let now = self.now();
        let mut dead: [Option<Found>; ITEM_SLOTS_PER_BUCKET] = std::array::from_fn(|_| None);
        let mut count = 0;
        guard.for_each(|at, value| {
            let (segment, offset) = (slot::segment_id(value), slot::offset(value) as usize);
            let header = self
                .read_header(segment, offset)
                .expect("an item under a held bucket is well formed");
            let found = self.found(at, value, header, &now);
            if !found.is_live() && count < dead.len() {
                dead[count] = Some(found);
                count += 1;
            }
            false
        });
        for found in dead.iter().flatten() {
            self.unlink(&mut guard, found);
        }
        count as u64
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::{Cache, Config, DumpCursor, Expiry, StoreMode, StoreOptions};

    #[test]
    fn a_crawl_unlinks_expired_items_only() {
        let clock = std::sync::Arc::new(crate::ManualClock::new(1_000_000));
        let cache = Cache::with_clock(Config::default(), clock.clone()).unwrap();
        for n in 0..300 {
            let expiry = match n % 3 {
                0 => Expiry::Never,
                1 => Expiry::At(1_000_000 + 3600),
                _ => Expiry::At(1_000_000 + 1),
            };
            let options = StoreOptions {
                expiry,
                ..StoreOptions::default()
            };
            let key = format!("key-{n}");
            cache
                .store(StoreMode::Set, key.as_bytes(), b"ok", options)
                .unwrap();
        }
        assert_eq!(cache.stats().items, 300);
        clock.advance(3);
        let mut cursor = DumpCursor::default();
        let (mut checked, mut reclaimed, mut steps) = (0, 0, 0);
        loop {
            let progress = cache.reclaim_step(&mut cursor, 100);
            checked += progress.items_checked;
            reclaimed += progress.items_reclaimed;
            steps += 1;
            if progress.finished {
                break;
            }
        }
        assert!(steps > 1, "the walk is done in steps");
        assert_eq!((checked, reclaimed), (300, 100));
        assert_eq!(cache.stats().items, 200, "the live count drops at once");
        assert_eq!(cache.stats().expired_items, 100);
        assert!(cache.get_meta(b"key-0").unwrap().is_some());
        assert!(cache.get_meta(b"key-1").unwrap().is_some());
        assert!(cache.get_meta(b"key-2").unwrap().is_none());
        cache.check_invariants().unwrap();
        // A second crawl finds nothing more.
        let mut cursor = DumpCursor::default();
        while !cache.reclaim_step(&mut cursor, 1 << 20).finished {}
        assert_eq!(cache.stats().items, 200);
    }
}
