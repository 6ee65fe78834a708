//! A plain loop of sets on one thread, for counting instructions per set with
//! callgrind (which, unlike a timer, is the same on a shared, noisy machine).
//!
//! Run: `cargo build --release -p tailcache-storage --example set_loop`, then
//! `valgrind --tool=callgrind target/release/examples/set_loop tailcache 100000` and
//! again with 300000; the difference in instructions over 200 000 is the cost of a
//! set without the start-up. `segcache` in place of `tailcache` runs Pelikan's engine.
//! Keys and values are as in the `throughput` bench (10 000 keys of 16 bytes, 32 B
//! values unless a third argument gives the size, 64 MiB).

use std::time::Duration;
use tailcache_storage::{Cache, Config, EvictionPolicy, StoreMode, StoreOptions};

const HEAP_BYTES: usize = 64 << 20;
const KEYS: usize = 10_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let engine = args.next().unwrap_or_else(|| "tailcache".into());
    let sets: usize = args
        .next()
        .map_or(100_000, |n| n.parse().expect("a count of sets"));
    let keys: Vec<[u8; 16]> = (0..KEYS)
        .map(|n| {
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(b"key:");
            key[4..].copy_from_slice(format!("{n:012}").as_bytes());
            key
        })
        .collect();
    let value_bytes: usize = args
        .next()
        .map_or(32, |n| n.parse().expect("a value size in bytes"));
    let value = vec![b'v'; value_bytes];
    match engine.as_str() {
        "tailcache" => {
            let cache = Cache::new(Config {
                heap_size_bytes: HEAP_BYTES,
                eviction: EvictionPolicy::Merge,
                ..Config::default()
            })
            .expect("a 64 MiB cache");
            for n in 0..sets {
                cache
                    .store(
                        StoreMode::Set,
                        &keys[n % KEYS],
                        &value,
                        StoreOptions::default(),
                    )
                    .expect("a set");
            }
        }
        "segcache" => {
            let hash_power = 20;
            let cache = segcache::Segcache::builder()
                .heap_size(HEAP_BYTES - (8 << hash_power))
                .segment_size(1 << 20)
                .hash_power(hash_power)
                .eviction(segcache::Policy::Merge {
                    max: 8,
                    merge: 4,
                    compact: 2,
                })
                .build()
                .expect("a 64 MiB segcache");
            for n in 0..sets {
                cache
                    .insert(&keys[n % KEYS], &value[..], None, Duration::ZERO)
                    .expect("a set");
            }
        }
        other => panic!("engine {other}: tailcache or segcache"),
    }
}
