//! Many threads of random operations over a small key space with eviction on: no value
//! is ever torn, counters stay consistent, memory stays within budget.

mod common;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use tailcache_storage::{Cache, CacheError, Config, EvictionPolicy, StoreMode, StoreOptions};

const THREADS: usize = 4;
const OPS_PER_THREAD: usize = 25_000;
const KEYS: u32 = 400;
/// A value is a run of chunks; each chunk names its key and carries its own checksum.
const CHUNK_BYTES: usize = 16;

fn chunk(key: u32, salt: u32) -> [u8; CHUNK_BYTES] {
    let mut out = [0u8; CHUNK_BYTES];
    out[..4].copy_from_slice(&key.to_le_bytes());
    out[4..8].copy_from_slice(&salt.to_le_bytes());
    let sum = (key as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (salt as u64).rotate_left(17);
    out[8..].copy_from_slice(&sum.to_le_bytes());
    out
}

fn value(key: u32, rng: &mut SmallRng) -> Vec<u8> {
    let most = rng.gen_range(1..=200);
    let chunks = rng.gen_range(1..=most);
    (0..chunks).flat_map(|_| chunk(key, rng.gen())).collect()
}

fn assert_intact(key: u32, value: &[u8]) {
    assert!(
        !value.is_empty() && value.chunks_exact(CHUNK_BYTES).remainder().is_empty(),
        "torn length {}",
        value.len()
    );
    for piece in value.chunks(CHUNK_BYTES) {
        let salt = u32::from_le_bytes(piece[4..8].try_into().unwrap());
        assert_eq!(
            piece,
            chunk(key, salt),
            "torn or foreign chunk in key {key}"
        );
    }
}

/// Runs one thread's operations; returns how many gets it made.
fn worker(cache: &Cache, seed: u64) -> u64 {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut gets = 0;
    let mut out = Vec::new();
    for _ in 0..OPS_PER_THREAD {
        let key_id = rng.gen_range(0..KEYS);
        let key = format!("key:{key_id}");
        let key = key.as_bytes();
        match rng.gen_range(0..10) {
            0..=3 => {
                gets += 1;
                out.clear();
                if cache.get_into(key, &mut out).unwrap().is_some() {
                    assert_intact(key_id, &out);
                }
            }
            4..=5 => {
                let options = StoreOptions {
                    exptime: rng.gen_range(0..3),
                    ..StoreOptions::default()
                };
                cache
                    .store(StoreMode::Set, key, &value(key_id, &mut rng), options)
                    .unwrap();
            }
            6 => match cache.store(
                StoreMode::Append,
                key,
                &chunk(key_id, rng.gen()),
                StoreOptions::default(),
            ) {
                Ok(_) | Err(CacheError::NotStored) | Err(CacheError::ValueTooLarge { .. }) => {}
                Err(other) => panic!("append: {other}"),
            },
            7 => {
                gets += 1;
                if let Some(cas) = cache.get_with(key, |_, meta| meta.cas).unwrap() {
                    match cache.store(
                        StoreMode::Cas(cas),
                        key,
                        &value(key_id, &mut rng),
                        StoreOptions::default(),
                    ) {
                        Ok(_) | Err(CacheError::Exists) | Err(CacheError::NotFound) => {}
                        Err(other) => panic!("cas: {other}"),
                    }
                }
            }
            8 => {
                let _ = cache.delete(key, None);
            }
            _ => {
                let counter = format!("counter:{}", key_id % 8);
                let _ = cache.store(
                    StoreMode::Add,
                    counter.as_bytes(),
                    b"0",
                    StoreOptions::default(),
                );
                match cache.incr(counter.as_bytes(), 1) {
                    Ok(_) | Err(CacheError::NotFound) => {}
                    Err(other) => panic!("incr: {other}"),
                }
            }
        }
    }
    gets
}

fn stress(eviction: EvictionPolicy) {
    let clock = Arc::new(tailcache_storage::ManualClock::new(common::START_UNIX_SECS));
    let config = Config {
        heap_size_bytes: 2 << 20,
        segment_size_bytes: 32 << 10,
        item_size_limit_bytes: 8 << 10,
        eviction,
        shard_count: 4,
        ..Config::default()
    };
    let cache = Arc::new(Cache::with_clock(config, clock.clone()).unwrap());
    let ticker = {
        let (cache, clock) = (cache.clone(), clock.clone());
        std::thread::spawn(move || {
            for _ in 0..200 {
                clock.advance(1);
                cache.maintenance_step(tailcache_storage::StepBudget { max_segments: 2 });
                std::thread::yield_now();
            }
        })
    };
    let handles: Vec<_> = (0..THREADS as u64)
        .map(|seed| {
            let cache = cache.clone();
            std::thread::spawn(move || worker(&cache, seed))
        })
        .collect();
    let gets: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    ticker.join().unwrap();
    let stats = cache.stats();
    assert_eq!(stats.get_hits + stats.get_misses, gets, "{stats:?}");
    assert!(stats.reserved_bytes <= stats.limit_bytes);
    assert!(
        stats.bytes_used + stats.bytes_free <= stats.reserved_bytes,
        "{stats:?}"
    );
    assert!(
        stats.evicted_segments > 0,
        "the test must exercise eviction: {stats:?}"
    );
    let mut readable = 0;
    for key_id in 0..KEYS {
        let key = format!("key:{key_id}");
        if let Some(value) = common::get(&cache, key.as_bytes()) {
            assert_intact(key_id, &value);
            readable += 1;
        }
    }
    for n in 0..8 {
        readable += common::get(&cache, format!("counter:{n}").as_bytes()).is_some() as u64;
    }
    assert_eq!(
        cache.item_count(),
        readable,
        "live count matches what is readable"
    );
}

#[test]
fn stress_fifo() {
    stress(EvictionPolicy::Fifo);
}

#[test]
fn stress_merge() {
    stress(EvictionPolicy::Merge);
}

#[test]
fn stress_random() {
    stress(EvictionPolicy::Random);
}
