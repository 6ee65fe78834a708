//! Memory efficiency: both engines get 64 MiB in all (index included); unique
//! 16-byte keys with 32-byte values are written until 3x what fits has been written;
//! then we count the items each still holds and the bytes of overhead per item.
//!
//! Run: `cargo bench -p tailcache-storage --bench memory`
//! (`MEMORY_BENCH_STATS=1` also prints each engine's stats; `MEMORY_BENCH_ONLY_TAILCACHE=1`
//! skips the segcache runs).

use std::time::Duration;
use tailcache_storage::{Cache, Config, EvictionPolicy, StoreMode, StoreOptions};

const BUDGET_BYTES: usize = 64 << 20;
const KEY_BYTES: usize = 16;
const VALUE_BYTES: usize = 32;

fn key(n: u64) -> [u8; KEY_BYTES] {
    let mut key = [0u8; KEY_BYTES];
    key[..4].copy_from_slice(b"key:");
    let digits = format!("{n:012}");
    key[4..].copy_from_slice(digits.as_bytes());
    key
}

fn value(n: u64) -> [u8; VALUE_BYTES] {
    let mut value = [b'v'; VALUE_BYTES];
    value[..8].copy_from_slice(&n.to_le_bytes());
    value
}

/// Items written: three times what the budget could hold with zero overhead.
fn writes() -> u64 {
    3 * (BUDGET_BYTES / (KEY_BYTES + VALUE_BYTES)) as u64
}

fn report(engine: &str, held: u64) {
    let overhead =
        (BUDGET_BYTES as f64 - held as f64 * (KEY_BYTES + VALUE_BYTES) as f64) / held as f64;
    println!("{engine:<40} items_held={held:>9} overhead_bytes_per_item={overhead:>6.1}");
}

fn ours(eviction: EvictionPolicy) -> u64 {
    let config = Config {
        heap_size_bytes: BUDGET_BYTES,
        expected_item_size_bytes: KEY_BYTES + VALUE_BYTES,
        eviction,
        ..Config::default()
    };
    let cache = Cache::new(config).expect("config");
    assert!(cache.reserved_bytes() <= BUDGET_BYTES);
    for n in 0..writes() {
        cache
            .store(StoreMode::Set, &key(n), &value(n), StoreOptions::default())
            .expect("set");
    }
    let mut out = Vec::new();
    let readable = (0..writes())
        .filter(|&n| {
            out.clear();
            cache.get_into(&key(n), &mut out).unwrap().is_some() && out == value(n)
        })
        .count() as u64;
    assert_eq!(
        readable,
        cache.item_count(),
        "count matches what can be read"
    );
    if std::env::var_os("MEMORY_BENCH_STATS").is_some() {
        // Where the memory went: free segments, index evictions, items, merges.
        println!("  {eviction:?} stats: {:?}", cache.stats());
    }
    readable
}

fn segcache(hash_power: u8, policy: segcache::Policy) -> u64 {
    let table_bytes = 8usize << hash_power;
    let cache = segcache::Segcache::builder()
        .heap_size(BUDGET_BYTES - table_bytes)
        .segment_size(1 << 20)
        .hash_power(hash_power)
        .eviction(policy)
        .build()
        .expect("segcache");
    for n in 0..writes() {
        let _ = cache.insert(&key(n), &value(n)[..], None, Duration::ZERO);
    }
    (0..writes())
        .filter(|&n| cache.get(&key(n)).is_some())
        .count() as u64
}

fn main() {
    println!(
        "budget {BUDGET_BYTES} bytes, {} writes of {KEY_BYTES}+{VALUE_BYTES} bytes",
        writes()
    );
    for (name, policy) in [
        ("merge", EvictionPolicy::Merge),
        ("fifo", EvictionPolicy::Fifo),
    ] {
        report(&format!("tailcache {name}"), ours(policy));
    }
    if std::env::var_os("MEMORY_BENCH_ONLY_TAILCACHE").is_some() {
        return;
    }
    let merge = segcache::Policy::Merge {
        max: 8,
        merge: 4,
        compact: 2,
    };
    for hash_power in [19u8, 20, 21] {
        for (name, policy) in [("merge", merge), ("fifo", segcache::Policy::Fifo)] {
            report(
                &format!("segcache {name} hash_power={hash_power}"),
                segcache(hash_power, policy),
            );
        }
    }
}
