//! Many threads on a full, evicting cache with background maintenance running: no
//! torn value, no stale read, no lost update, and flush_all racing writers loses
//! nothing written after it.

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tailcache_storage::{Cache, Config, EvictionPolicy, StepBudget, StoreMode, StoreOptions};

const WRITERS: u32 = 3;
const KEYS_PER_WRITER: u32 = 3_000;

/// A value naming its key and version, with a checksum over both and the padding.
fn value(key: u32, version: u64, len: usize) -> Vec<u8> {
    let mut value = Vec::with_capacity(len.max(24));
    value.extend_from_slice(&key.to_le_bytes());
    value.extend_from_slice(&version.to_le_bytes());
    let fill = (key as u8).wrapping_add(version as u8);
    value.resize(len.max(24) - 8, fill);
    let sum = checksum(&value);
    value.extend_from_slice(&sum.to_le_bytes());
    value
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// The version a value holds, after checking it is whole and belongs to `key`.
fn version_of(key: u32, value: &[u8]) -> u64 {
    assert!(value.len() >= 24, "torn: {} bytes", value.len());
    let (body, sum) = value.split_at(value.len() - 8);
    assert_eq!(
        checksum(body),
        u64::from_le_bytes(sum.try_into().unwrap()),
        "torn value of key {key}"
    );
    assert_eq!(
        u32::from_le_bytes(body[..4].try_into().unwrap()),
        key,
        "another key's value"
    );
    u64::from_le_bytes(body[4..12].try_into().unwrap())
}

fn key_bytes(key: u32) -> [u8; 12] {
    let mut bytes = *b"stress:00000";
    bytes[7..].copy_from_slice(format!("{key:05}").as_bytes());
    bytes
}

/// Writer `id` owns keys `id, id + WRITERS, ...`: it writes rising versions and reads
/// each back at once (its own write, or a miss if evicted meanwhile).
fn writer(cache: &Cache, id: u32, rounds: u64) {
    let mut out = Vec::new();
    for version in 1..=rounds {
        for n in 0..KEYS_PER_WRITER / 4 {
            let key = id + WRITERS * ((n * 7 + version as u32 * 13) % KEYS_PER_WRITER);
            let len = 24 + ((key as usize * 31 + version as usize) % 400);
            cache
                .store(
                    StoreMode::Set,
                    &key_bytes(key),
                    &value(key, version, len),
                    StoreOptions::default(),
                )
                .expect("set");
            out.clear();
            if cache.get_into(&key_bytes(key), &mut out).unwrap().is_some() {
                assert_eq!(
                    version_of(key, &out),
                    version,
                    "read-your-writes on key {key}"
                );
            }
        }
    }
}

/// Reads every key over and over; a key's version may only rise between reads.
fn reader(cache: &Cache, stop: &AtomicBool) -> u64 {
    let keys = WRITERS * KEYS_PER_WRITER;
    let mut seen = vec![0u64; keys as usize];
    let mut out = Vec::new();
    let mut hits = 0;
    while !stop.load(Ordering::Relaxed) {
        for key in 0..keys {
            out.clear();
            if cache.get_into(&key_bytes(key), &mut out).unwrap().is_some() {
                let version = version_of(key, &out);
                assert!(
                    version >= seen[key as usize],
                    "stale read of key {key}: {version} after {}",
                    seen[key as usize]
                );
                seen[key as usize] = version;
                hits += 1;
            }
        }
    }
    hits
}

fn stress(eviction: EvictionPolicy) {
    let (cache, _) = cache_with(Config {
        heap_size_bytes: 2 << 20,
        segment_size_bytes: 32 << 10,
        item_size_limit_bytes: 32 << 10,
        eviction,
        ..Config::default()
    });
    let stop = AtomicBool::new(false);
    let rounds = if cfg!(debug_assertions) { 6 } else { 40 };
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|id| {
                let cache = &cache;
                scope.spawn(move || writer(cache, id, rounds))
            })
            .collect();
        let reader = scope.spawn(|| reader(&cache, &stop));
        let maintenance = scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                if !cache
                    .maintenance_step(StepBudget { max_items: 128 })
                    .more_work
                {
                    std::thread::yield_now();
                }
            }
        });
        // Stop the others even if a writer failed, so a failure never hangs the test.
        let written: Vec<_> = writers.into_iter().map(|writer| writer.join()).collect();
        stop.store(true, Ordering::Relaxed);
        let hits = reader.join();
        maintenance.join().unwrap();
        for result in written {
            result.unwrap();
        }
        assert!(hits.unwrap() > 0);
    });
    let stats = cache.stats();
    assert!(stats.evicted_items > 0, "the cache was full: {stats:?}");
    assert!(stats.reserved_bytes <= 2 << 20);
    assert_invariants(&cache);
}

#[test]
fn stress_merge() {
    stress(EvictionPolicy::Merge);
}

#[test]
fn stress_fifo() {
    stress(EvictionPolicy::Fifo);
}

#[test]
fn stress_random() {
    stress(EvictionPolicy::Random);
}

#[test]
fn flush_all_racing_writers_keeps_everything_written_after_it() {
    let (cache, _) = cache_with(Config {
        heap_size_bytes: 64 << 20,
        segment_size_bytes: 64 << 10,
        item_size_limit_bytes: 64 << 10,
        ..Config::default()
    });
    let flushes_done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let writes_each = if cfg!(debug_assertions) {
        20_000
    } else {
        100_000
    };
    // What each writer wrote last to each of its keys, and how many flushes had
    // finished before that write started.
    let last: Vec<Vec<(u64, u64)>> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|id| {
                let (cache, flushes_done) = (&cache, &flushes_done);
                scope.spawn(move || {
                    let mut last = vec![(0u64, 0u64); 500];
                    for version in 1..=writes_each as u64 {
                        let slot = (version % 500) as usize;
                        let key = id * 1000 + slot as u32;
                        let before = flushes_done.load(Ordering::SeqCst);
                        cache
                            .store(
                                StoreMode::Set,
                                &key_bytes(key),
                                &value(key, version, 40),
                                StoreOptions::default(),
                            )
                            .unwrap();
                        last[slot] = (version, before);
                    }
                    last
                })
            })
            .collect();
        let flusher = scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_micros(300));
                cache.flush_all();
                flushes_done.fetch_add(1, Ordering::SeqCst);
                cache.maintenance_step(StepBudget { max_items: 1000 });
            }
        });
        let last: Vec<_> = writers.into_iter().map(|w| w.join()).collect();
        stop.store(true, Ordering::Relaxed);
        flusher.join().unwrap();
        last.into_iter().map(|w| w.unwrap()).collect()
    });
    let total = flushes_done.load(Ordering::SeqCst);
    assert!(total > 3, "flushes ran: {total}");
    let mut survivors = 0;
    for (id, keys) in last.iter().enumerate() {
        for (slot, &(version, flushes_before)) in keys.iter().enumerate() {
            let key = id as u32 * 1000 + slot as u32;
            let found = get(&cache, &key_bytes(key));
            if flushes_before == total {
                // Started after the last flush had finished: must be there, intact.
                let found = found
                    .unwrap_or_else(|| panic!("key {key} written after the last flush is gone"));
                assert_eq!(version_of(key, &found), version);
                survivors += 1;
            } else if let Some(found) = found {
                // Survived a flush only by overlapping it.
                assert_eq!(
                    version_of(key, &found),
                    version,
                    "an older version of {key} came back"
                );
            }
        }
    }
    settle(&cache);
    assert_invariants(&cache);
    cache.flush_all();
    assert_eq!(cache.item_count(), 0);
    eprintln!("{total} flushes, {survivors} keys written after the last");
}

/// Every thread overwrites the same few keys: the bookkeeping of an item replaced
/// while its writer is still finishing stays whole (debug builds assert no count
/// ever goes below zero), and each key ends with one of the values written.
#[test]
fn shared_keys_overwritten_from_every_thread_keep_counts_whole() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let rounds = if cfg!(debug_assertions) {
        5_000
    } else {
        50_000
    };
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let cache = &cache;
            scope.spawn(move || {
                for n in 0..rounds {
                    let key = (n % 16) as u32;
                    let len = 24 + ((n * 7 + t) % 300) as usize;
                    cache
                        .store(
                            StoreMode::Set,
                            &key_bytes(key),
                            &value(key, t * 1_000_000 + n, len),
                            StoreOptions::default(),
                        )
                        .unwrap();
                }
            });
        }
    });
    for key in 0..16 {
        let found = get(&cache, &key_bytes(key)).expect("written last by someone");
        version_of(key, &found);
    }
    assert_eq!(cache.item_count(), 16);
    settle(&cache);
    assert_invariants(&cache);
}
