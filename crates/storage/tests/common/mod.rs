//! Shared helpers for the storage integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use tailcache_storage::{Cache, Config, EvictionPolicy, ManualClock, StoreMode, StoreOptions};

/// The manual clock's starting time (2027-01-15), far above the 30-day relative limit.
pub const START_UNIX_SECS: u32 = 1_800_000_000;

/// A small engine on a manual clock.
pub fn small_cache(eviction: EvictionPolicy) -> (Cache, Arc<ManualClock>) {
    cache_with(Config {
        heap_size_bytes: 4 << 20,
        segment_size_bytes: 64 << 10,
        item_size_limit_bytes: 64 << 10,
        eviction,
        shard_count: 2,
        ..Config::default()
    })
}

/// An engine with this config on a manual clock.
pub fn cache_with(config: Config) -> (Cache, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(START_UNIX_SECS));
    let cache = Cache::with_clock(config, clock.clone()).expect("valid config");
    (cache, clock)
}

/// Stores with default options.
pub fn set(cache: &Cache, key: &[u8], value: &[u8]) -> u64 {
    cache
        .store(StoreMode::Set, key, value, StoreOptions::default())
        .expect("set")
}

/// Stores with an exptime.
pub fn set_ttl(cache: &Cache, key: &[u8], value: &[u8], exptime: i64) -> u64 {
    let options = StoreOptions {
        exptime,
        ..StoreOptions::default()
    };
    cache
        .store(StoreMode::Set, key, value, options)
        .expect("set")
}

/// The value stored under `key`, if any.
pub fn get(cache: &Cache, key: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    cache
        .get_into(key, &mut out)
        .expect("valid key")
        .map(|_| out)
}

/// The CAS of `key`, if present.
pub fn cas(cache: &Cache, key: &[u8]) -> Option<u64> {
    cache.get_with(key, |_, meta| meta.cas).expect("valid key")
}
