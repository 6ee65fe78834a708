//! memcached's `lru_crawler crawl`: one server-wide walk of the index that
//! unlinks expired and flushed items now, run in bulk background steps, with
//! memcached's figures (`lru_crawler_running`, `lru_crawler_starts`,
//! `crawler_reclaimed`, `crawler_items_checked`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tailcache_runtime::BackgroundProgress;
use tailcache_storage::DumpCursor;

use crate::startup::engine::Engine;

/// Index buckets one call of the engine's crawl walks (a few µs of work).
const BUCKETS_PER_CALL: usize = 64;

/// The crawl in progress, if any, and its counts since start.
#[derive(Default)]
pub struct LruCrawl {
    /// Where the running crawl stands; `None` when none runs.
    cursor: Mutex<Option<DumpCursor>>,
    running: AtomicBool,
    starts: AtomicU64,
    reclaimed: AtomicU64,
    checked: AtomicU64,
}

/// Counts since start, for `stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrawlCounts {
    /// Whether a crawl runs now.
    pub running: bool,
    /// Crawls started.
    pub starts: u64,
    /// Dead items the crawls unlinked.
    pub reclaimed: u64,
    /// Items the crawls looked at.
    pub checked: u64,
}

impl LruCrawl {
    /// Starts a crawl; false when one is already running (memcached: `BUSY`).
    pub fn start(&self) -> bool {
        let mut cursor = self.lock();
        if cursor.is_some() {
            return false;
        }
        *cursor = Some(DumpCursor::default());
        self.running.store(true, Ordering::Relaxed);
        self.starts.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// The counts now.
    pub fn counts(&self) -> CrawlCounts {
        CrawlCounts {
            running: self.running.load(Ordering::Relaxed),
            starts: self.starts.load(Ordering::Relaxed),
            reclaimed: self.reclaimed.load(Ordering::Relaxed),
            checked: self.checked.load(Ordering::Relaxed),
        }
    }

    /// Crawls for about `budget`. One crawl runs on one worker at a time: another
    /// worker that finds it taken has nothing to do (it would only spin on the lock).
    pub fn step(&self, engine: &Engine, budget: Duration) -> BackgroundProgress {
        if !self.running.load(Ordering::Relaxed) {
            return BackgroundProgress::Idle;
        }
        let Ok(mut slot) = self.cursor.try_lock() else {
            return BackgroundProgress::Idle;
        };
        let Some(cursor) = slot.as_mut() else {
            return BackgroundProgress::Idle;
        };
        let started = Instant::now();
        loop {
            let progress = engine.reclaim_step(cursor, BUCKETS_PER_CALL);
            self.checked
                .fetch_add(progress.items_checked, Ordering::Relaxed);
            self.reclaimed
                .fetch_add(progress.items_reclaimed, Ordering::Relaxed);
            if progress.finished {
                *slot = None;
                self.running.store(false, Ordering::Relaxed);
                return BackgroundProgress::Idle;
            }
            if started.elapsed() >= budget {
                return BackgroundProgress::MoreWork;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<DumpCursor>> {
        // A cursor is a bucket number: a panic cannot leave it half written.
        self.cursor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_crawl_at_a_time_counted_until_it_ends() {
        let engine = Engine::new(tailcache_storage::Config::default()).unwrap();
        let crawl = LruCrawl::default();
        assert_eq!(
            crawl.step(&engine, Duration::from_millis(1)),
            BackgroundProgress::Idle
        );
        assert!(crawl.start());
        assert!(!crawl.start(), "busy while one runs");
        assert!(crawl.counts().running);
        while crawl.step(&engine, Duration::from_micros(50)) == BackgroundProgress::MoreWork {}
        let counts = crawl.counts();
        assert_eq!(
            (counts.running, counts.starts, counts.reclaimed),
            (false, 1, 0)
        );
        assert!(crawl.start(), "a finished crawl can be started again");
    }
}
