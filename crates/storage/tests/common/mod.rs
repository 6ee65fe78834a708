//! Shared helpers for the storage integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use tailcache_storage::{
    Cache, Config, EvictionPolicy, Expiry, ItemMeta, ManualClock, StoreMode, StoreOptions,
};

/// The manual clock's starting time (2027-01-15).
pub const START_UNIX_SECS: u32 = 1_800_000_000;

/// A small engine (4 MiB, 64 KiB segments) on a manual clock.
pub fn small_cache(eviction: EvictionPolicy) -> (Cache, Arc<ManualClock>) {
    cache_with(Config {
        heap_size_bytes: 4 << 20,
        segment_size_bytes: 64 << 10,
        item_size_limit_bytes: 64 << 10,
        eviction,
        ..Config::default()
    })
}

/// An engine with this config on a manual clock.
pub fn cache_with(config: Config) -> (Cache, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(START_UNIX_SECS));
    let cache = Cache::with_clock(config, clock.clone()).expect("valid config");
    (cache, clock)
}

/// Options with flags and an expiry `ttl_secs` from the start time (0 = never).
pub fn opts(client_flags: u32, ttl_secs: u32) -> StoreOptions {
    StoreOptions {
        client_flags,
        expiry: expiry_in(ttl_secs),
        ..StoreOptions::default()
    }
}

/// An expiry `ttl_secs` after the start time (0 = never).
pub fn expiry_in(ttl_secs: u32) -> Expiry {
    match ttl_secs {
        0 => Expiry::Never,
        secs => Expiry::At(START_UNIX_SECS + secs),
    }
}

/// Stores with default options; returns the CAS.
pub fn set(cache: &Cache, key: &[u8], value: &[u8]) -> u64 {
    cache
        .store(StoreMode::Set, key, value, StoreOptions::default())
        .expect("set")
        .cas
}

/// Stores with an expiry `ttl_secs` after the engine's now.
pub fn set_ttl(cache: &Cache, key: &[u8], value: &[u8], ttl_secs: u32) -> u64 {
    let options = StoreOptions {
        expiry: Expiry::after_secs(cache.now_unix_secs(), ttl_secs),
        ..StoreOptions::default()
    };
    cache
        .store(StoreMode::Set, key, value, options)
        .expect("set")
        .cas
}

/// The value stored under `key`, if any.
pub fn get(cache: &Cache, key: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    cache
        .get_into(key, &mut out)
        .expect("valid key")
        .map(|_| out)
}

/// The metadata of `key`, if present (not counted as a read).
pub fn meta(cache: &Cache, key: &[u8]) -> Option<ItemMeta> {
    cache.get_meta(key).expect("valid key")
}

/// The CAS of `key`, if present.
pub fn cas(cache: &Cache, key: &[u8]) -> Option<u64> {
    meta(cache, key).map(|meta| meta.cas)
}

/// Runs maintenance until it has nothing left to do (bounded).
pub fn settle(cache: &Cache) {
    for _ in 0..100_000 {
        let progress = cache.maintenance_step(tailcache_storage::StepBudget { max_items: 4096 });
        if !progress.more_work {
            return;
        }
    }
    panic!("maintenance never settled");
}

/// Fails the test with the broken invariant.
pub fn assert_invariants(cache: &Cache) {
    if let Err(broken) = cache.check_invariants() {
        panic!("invariant broken: {broken}");
    }
}
