//! How long one shard lock is held to free one 1 MiB segment of 16-byte keys and
//! 32-byte values (about 20k items), by fifo, merge (nothing read, and half read)
//! and expiry reclaim. Each `maintenance_step` with a budget of one segment frees
//! it under a single hold of one shard's lock, so its duration bounds that hold.
//!
//! Run: `cargo bench -p tailcache-storage --bench lock_hold`

use std::sync::Arc;
use std::time::{Duration, Instant};
use tailcache_storage::{
    Cache, Config, EvictionPolicy, ManualClock, StepBudget, StoreMode, StoreOptions,
};

const HEAP_BYTES: usize = 64 << 20;
/// Steps timed per case (steps that freed nothing are not counted).
const SAMPLES: usize = 80;

fn key(n: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(b"key:");
    key[4..].copy_from_slice(format!("{n:012}").as_bytes());
    key
}

/// Writes `count` items from `*next` on; every `read_every`-th one is read (0 = none).
fn write(cache: &Cache, next: &mut u64, count: u64, exptime: i64, read_every: u64) {
    let options = StoreOptions {
        exptime,
        ..StoreOptions::default()
    };
    for _ in 0..count {
        let n = *next;
        cache
            .store(StoreMode::Set, &key(n), &[b'v'; 32], options)
            .expect("set");
        if read_every != 0 && n.is_multiple_of(read_every) {
            cache.get_with(&key(n), |_, _| ()).expect("get");
        }
        *next += 1;
    }
}

/// Items of one segment: 1 MiB / (3 header + 16 + 32 bytes).
const ITEMS_PER_SEGMENT: u64 = (1 << 20) / 51;

/// Fills the heap, then times `SAMPLES` single-segment eviction steps, writing half
/// a segment's worth of items (untimed) before each; returns (median, max, freed).
fn evictions(eviction: EvictionPolicy, read_every: u64) -> (Duration, Duration, u64) {
    let config = Config {
        heap_size_bytes: HEAP_BYTES,
        expected_item_size_bytes: 48,
        eviction,
        ..Config::default()
    };
    let cache = Cache::new(config).expect("config");
    let mut next = 0;
    while cache.stats().evicted_segments < 8 {
        write(&cache, &mut next, 10_000, 0, read_every);
    }
    time_steps(&cache, |cache| {
        write(cache, &mut next, ITEMS_PER_SEGMENT / 2, 0, read_every)
    })
}

/// Fills the heap with items of a 1 h TTL, lets them expire, and times reclaiming.
fn expiry() -> (Duration, Duration, u64) {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let config = Config {
        heap_size_bytes: HEAP_BYTES,
        expected_item_size_bytes: 48,
        eviction: EvictionPolicy::Fifo,
        ..Config::default()
    };
    let cache = Cache::with_clock(config, clock.clone()).expect("config");
    let mut next = 0;
    while cache.stats().segments_free > 4 {
        write(&cache, &mut next, 10_000, 3600, 0);
    }
    clock.advance(3600);
    time_steps(&cache, |_| {})
}

/// Times `SAMPLES` single-segment maintenance steps, calling `between` before each.
fn time_steps(cache: &Cache, mut between: impl FnMut(&Cache)) -> (Duration, Duration, u64) {
    let mut times = Vec::with_capacity(SAMPLES);
    let mut freed = 0;
    for _ in 0..SAMPLES {
        between(cache);
        let started = Instant::now();
        let progress = cache.maintenance_step(StepBudget { max_segments: 1 });
        let elapsed = started.elapsed();
        // A step that found the pool above its watermark freed nothing: not a sample.
        if progress.segments_evicted + progress.segments_expired > 0 {
            times.push(elapsed);
            freed += 1;
        }
    }
    times.sort();
    let at = |quantile: f64| times[((times.len() - 1) as f64 * quantile) as usize];
    (at(0.5), at(1.0), freed)
}

fn report(name: &str, (median, max, freed): (Duration, Duration, u64)) {
    println!(
        "{name:<28} segments_freed={freed:>3} hold_us_median={:>7.1} hold_us_max={:>7.1}",
        median.as_secs_f64() * 1e6,
        max.as_secs_f64() * 1e6
    );
}

fn main() {
    println!("one 1 MiB segment of 16+32-byte items freed per step; steps that freed one:");
    report("fifo evict", evictions(EvictionPolicy::Fifo, 0));
    report(
        "merge evict, none read",
        evictions(EvictionPolicy::Merge, 0),
    );
    report(
        "merge evict, half read",
        evictions(EvictionPolicy::Merge, 2),
    );
    report("expiry reclaim", expiry());
}
