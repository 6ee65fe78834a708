//! The two engines as the storage benches and `examples/set_loop.rs` build them: 64 MiB
//! each, with 16-byte keys. Included by path (`#[path]`), so not every user needs all.
#![allow(dead_code)]

use tailcache_storage::{Cache, Config, EvictionPolicy};

/// Bytes each engine gets.
pub const HEAP_BYTES: usize = 64 << 20;
/// Distinct keys the benches cycle through.
pub const KEYS: usize = 10_000;

/// Key `n`: `key:` and 12 digits when present, `nil:` for keys never stored.
pub fn key(n: usize, present: bool) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(if present { b"key:" } else { b"nil:" });
    key[4..].copy_from_slice(format!("{n:012}").as_bytes());
    key
}

/// tailcache's engine, merge eviction.
pub fn ours() -> Cache {
    let config = Config {
        heap_size_bytes: HEAP_BYTES,
        eviction: EvictionPolicy::Merge,
        ..Config::default()
    };
    Cache::new(config).unwrap()
}

/// Pelikan's segcache with the same memory and merge eviction.
pub fn theirs() -> segcache::Segcache {
    let hash_power = 20; // 8 MiB table, so segments get the other 56 MiB
    segcache::Segcache::builder()
        .heap_size(HEAP_BYTES - (8 << hash_power))
        .segment_size(1 << 20)
        .hash_power(hash_power)
        .eviction(segcache::Policy::Merge {
            max: 8,
            merge: 4,
            compact: 2,
        })
        .build()
        .unwrap()
}
