//! Key dumps (`Cache::dump_step`): every live item once, in bounded steps, with its
//! metadata; expired, flushed and deleted items left out; sound under writers.

mod common;

use common::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use tailcache_storage::{Cache, DeleteOptions, DumpCursor, EvictionPolicy};

/// What a dump said of each key: client flags, value length, size in its segment.
type Listing = HashMap<Vec<u8>, (u32, usize, usize)>;

/// Dumps the whole cache `buckets_per_step` buckets at a time: key -> (meta, size),
/// counting steps; panics on a key listed twice.
fn dump_all(cache: &Cache, buckets_per_step: usize) -> (Listing, usize) {
    let mut cursor = DumpCursor::default();
    let mut listed = HashMap::new();
    let mut steps = 0;
    loop {
        steps += 1;
        let done = cache.dump_step(&mut cursor, buckets_per_step, |item| {
            let previous = listed.insert(
                item.key.to_vec(),
                (item.meta.client_flags, item.meta.value_len, item.size_bytes),
            );
            assert!(previous.is_none(), "{:?} listed twice", item.key);
        });
        if done {
            return (listed, steps);
        }
    }
}

#[test]
fn a_dump_lists_each_live_item_once_with_its_metadata() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    for n in 0..2_000u32 {
        let key = format!("key:{n}");
        let value = vec![b'v'; (n % 50) as usize];
        let ttl = if n % 10 == 0 { 5 } else { 0 };
        cache
            .store(
                tailcache_storage::StoreMode::Set,
                key.as_bytes(),
                &value,
                opts(n, ttl),
            )
            .unwrap();
    }
    for n in (1..2_000u32).step_by(7) {
        cache
            .delete(format!("key:{n}").as_bytes(), DeleteOptions::default())
            .unwrap();
    }
    clock.advance(6); // every tenth key expires
    let (listed, steps) = dump_all(&cache, 64);
    let expected: Vec<u32> = (0..2_000u32)
        .filter(|n| n % 10 != 0 && (n < &1 || (n - 1) % 7 != 0))
        .collect();
    assert_eq!(listed.len(), expected.len());
    for n in expected {
        let key = format!("key:{n}");
        let (flags, value_len, size) = listed[key.as_bytes()];
        assert_eq!((flags, value_len), (n, (n % 50) as usize), "{key}");
        assert!(
            size > key.len() + value_len,
            "{key}: size counts header, key and value"
        );
    }
    assert!(steps > 1, "the dump was cut into steps");
    // One bucket per step lists the same.
    assert_eq!(dump_all(&cache, 1).0.len(), listed.len());
    cache.flush_all();
    assert!(
        dump_all(&cache, 1_000_000).0.is_empty(),
        "a flushed cache lists nothing"
    );
}

#[test]
fn a_dump_under_writers_lists_only_whole_items() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    // Keys whose value length is a function of the key: a torn read would break it.
    let value_of = |n: u32| vec![b'a' + (n % 26) as u8; 10 + (n % 90) as usize];
    for n in 0..5_000u32 {
        set(&cache, format!("k{n}").as_bytes(), &value_of(n));
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("k{}", n % 20_000);
                if n.is_multiple_of(5) {
                    let _ = cache.delete(key.as_bytes(), DeleteOptions::default());
                } else {
                    set(&cache, key.as_bytes(), &value_of(n % 20_000));
                }
                n = n.wrapping_add(7919);
                if n.is_multiple_of(64) {
                    cache.maintenance_step(tailcache_storage::StepBudget { max_items: 64 });
                }
            }
        });
        for _ in 0..20 {
            let mut cursor = DumpCursor::default();
            while !cache.dump_step(&mut cursor, 16, |item| {
                let key = std::str::from_utf8(item.key).expect("a whole key");
                let n: u32 = key[1..].parse().expect("a key this test wrote");
                assert_eq!(item.meta.value_len, value_of(n).len(), "{key}");
            }) {}
        }
        stop.store(true, Ordering::Relaxed);
    });
    cache.check_invariants().unwrap();
}
