//! Telling a server which items eviction drops (memcached's `watch evictions`).

use std::sync::Arc;

use crate::cache::{Cache, Found};
use crate::meta::ItemMeta;

/// Told of each live item that eviction (or a merge) drops, while it says it
/// listens; expiry and flush are not evictions and are not reported.
pub trait EvictionListener: Send + Sync {
    /// Whether to report evictions now: asked once per evicted item, so it
    /// must be cheap (an atomic load).
    fn listening(&self) -> bool;

    /// `key` was evicted; `meta` is the item as it was.
    fn evicted(&self, key: &[u8], meta: &ItemMeta);
}

impl Cache {
    /// Sets the listener told of evictions; only the first call takes effect
    /// (returns whether this one did).
    pub fn set_eviction_listener(&self, listener: Arc<dyn EvictionListener>) -> bool {
        self.eviction_listener.set(listener).is_ok()
    }

    /// Reports an evicted live item to the listener, if one listens. Called
    /// with no index lock held: the listener may take its own.
    pub(crate) fn report_eviction(&self, key: &[u8], found: &Found) {
        if let Some(listener) = self.eviction_listener.get() {
            if listener.listening() {
                listener.evicted(key, &found.meta());
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::{Config, StoreMode, StoreOptions};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    struct Counting {
        on: AtomicBool,
        seen: AtomicUsize,
        read_before: AtomicUsize,
    }

    impl EvictionListener for Counting {
        fn listening(&self) -> bool {
            self.on.load(Ordering::Relaxed)
        }
        fn evicted(&self, key: &[u8], meta: &ItemMeta) {
            assert!(key.starts_with(b"key-"), "a whole key is reported");
            assert_eq!(meta.value_len, 100);
            self.seen.fetch_add(1, Ordering::Relaxed);
            if meta.hit_before {
                self.read_before.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn fill(cache: &Cache, from: usize, count: usize) {
        for n in from..from + count {
            let key = format!("key-{n}");
            cache
                .store(
                    StoreMode::Set,
                    key.as_bytes(),
                    &[7u8; 100],
                    StoreOptions::default(),
                )
                .unwrap();
        }
    }

    #[test]
    fn evictions_are_reported_while_listening_and_only_then() {
        let config = Config {
            heap_size_bytes: 4 << 20,
            segment_size_bytes: 64 << 10,
            item_size_limit_bytes: 64 << 10,
            ..Config::default()
        };
        let cache = Cache::new(config).unwrap();
        let listener = Arc::new(Counting {
            on: AtomicBool::new(false),
            seen: AtomicUsize::new(0),
            read_before: AtomicUsize::new(0),
        });
        assert!(cache.set_eviction_listener(listener.clone()));
        assert!(!cache.set_eviction_listener(listener.clone()), "set once");
        fill(&cache, 0, 100_000);
        let evicted_silently = cache.stats().evicted_items;
        assert!(evicted_silently > 0, "the fill evicts");
        assert_eq!(listener.seen.load(Ordering::Relaxed), 0, "not listening");

        listener.on.store(true, Ordering::Relaxed);
        fill(&cache, 100_000, 100_000);
        let evicted = cache.stats().evicted_items - evicted_silently;
        let seen = listener.seen.load(Ordering::Relaxed) as u64;
        assert!(seen > 0);
        assert_eq!(seen, evicted, "every eviction counted is reported, once");
    }
}
