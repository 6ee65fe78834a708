//! A plain loop of sets on one thread: timed with `/usr/bin/time` for the CPU time per
//! set, or run under callgrind for the instructions per set (which, unlike a timer,
//! are the same on a shared, noisy machine).
//!
//! Run: `cargo build --release -p tailcache-storage --example set_loop`, then
//! `valgrind --tool=callgrind target/release/examples/set_loop tailcache 100000` and
//! again with 300000; the difference in instructions over 200 000 is the cost of a
//! set without the start-up. `segcache` in place of `tailcache` runs Pelikan's engine.
//! Keys and values are as in the `throughput` bench (10 000 keys of 16 bytes, 32 B
//! values unless a third argument gives the size, 64 MiB).

use std::time::Duration;
use tailcache_storage::{StoreMode, StoreOptions};

#[path = "../benches/common/engines.rs"]
mod engines;

use engines::{key, ours, theirs, KEYS};

fn main() {
    let mut args = std::env::args().skip(1);
    let engine = args.next().unwrap_or_else(|| "tailcache".into());
    let sets: usize = args
        .next()
        .map_or(100_000, |n| n.parse().expect("a count of sets"));
    let keys: Vec<[u8; 16]> = (0..KEYS).map(|n| key(n, true)).collect();
    let value_bytes: usize = args
        .next()
        .map_or(32, |n| n.parse().expect("a value size in bytes"));
    let value = vec![b'v'; value_bytes];
    match engine.as_str() {
        "tailcache" => {
            let cache = ours();
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
            let cache = theirs();
            for n in 0..sets {
                cache
                    .insert(&keys[n % KEYS], &value[..], None, Duration::ZERO)
                    .expect("a set");
            }
        }
        other => panic!("engine {other}: tailcache or segcache"),
    }
}
