//! The TLS session store behind `-o ssl_session_cache`: rustls's bounded
//! in-memory cache, counting the sessions it stores (memcached's
//! `ssl_new_sessions`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rustls::server::{ServerSessionMemoryCache, StoresServerSessions};

/// Sessions kept at most: OpenSSL's default server cache size, which
/// memcached's `ssl_session_cache` uses (a few hundred bytes each).
const MAX_SESSIONS: usize = 20 * 1024;

/// A bounded session cache that counts what it stores.
#[derive(Debug)]
pub struct SessionCache {
    inner: Arc<ServerSessionMemoryCache>,
    stored: AtomicU64,
}

impl SessionCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self {
            inner: ServerSessionMemoryCache::new(MAX_SESSIONS),
            stored: AtomicU64::new(0),
        }
    }

    /// Sessions stored since start.
    pub fn stored(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }
}

impl StoresServerSessions for SessionCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let stored = self.inner.put(key, value);
        if stored {
            self.stored.fetch_add(1, Ordering::Relaxed);
        }
        stored
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.get(key)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.take(key)
    }

    fn can_cache(&self) -> bool {
        self.inner.can_cache()
    }
}
