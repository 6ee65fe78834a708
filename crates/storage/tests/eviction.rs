//! A full cache: eviction by every policy, background work ahead of need, expiry and
//! flush reclaim, and the writes that must never evict.

mod common;

use common::*;
use tailcache_storage::{
    Arithmetic, CacheError, Config, DeleteOptions, EvictionPolicy, Expiry, StepBudget, StoreMode,
    StoreOptions,
};

fn value_for(n: u32) -> Vec<u8> {
    let mut value = format!("value-{n}-").into_bytes();
    value.resize(200, b'.');
    value
}

fn key_for(n: u32) -> Vec<u8> {
    format!("key-{n}").into_bytes()
}

/// Writes `count` items from `from` on, running a maintenance step every `every`
/// writes (0: never, so every eviction is inline).
fn write_range(cache: &tailcache_storage::Cache, from: u32, count: u32, every: u32) {
    for n in from..from + count {
        cache
            .store(
                StoreMode::Set,
                &key_for(n),
                &value_for(n),
                StoreOptions::default(),
            )
            .expect("a full cache still takes writes");
        if every != 0 && n % every == 0 {
            cache.maintenance_step(StepBudget { max_items: 256 });
        }
    }
}

/// Writes three times what fits; the most recent items must be readable and intact.
fn fill_three_times(policy: EvictionPolicy, background_every: u32) {
    let (cache, _) = small_cache(policy);
    let fits = (4 << 20) / 220;
    write_range(&cache, 0, 3 * fits, background_every);
    let stats = cache.stats();
    assert!(stats.evicted_items > 0, "{stats:?}");
    assert!(stats.reserved_bytes <= 4 << 20);
    let mut recent_present = 0;
    for n in 3 * fits - 500..3 * fits {
        if let Some(value) = get(&cache, &key_for(n)) {
            assert_eq!(value, value_for(n), "item {n} intact");
            recent_present += 1;
        }
    }
    // Random eviction may pick a recent segment; the others take the oldest first.
    let least = if policy == EvictionPolicy::Random {
        200
    } else {
        450
    };
    assert!(
        recent_present >= least,
        "{policy:?}: {recent_present} of the last 500"
    );
    let readable = (0..3 * fits)
        .filter(|&n| get(&cache, &key_for(n)).is_some())
        .count() as u64;
    assert_eq!(
        readable,
        cache.item_count(),
        "every counted item is readable"
    );
    assert!(readable > fits as u64 / 2, "{policy:?} holds {readable}");
    assert_invariants(&cache);
}

#[test]
fn fifo_evicts_inline_and_in_the_background() {
    fill_three_times(EvictionPolicy::Fifo, 0);
    fill_three_times(EvictionPolicy::Fifo, 50);
}

#[test]
fn random_evicts_inline_and_in_the_background() {
    fill_three_times(EvictionPolicy::Random, 0);
    fill_three_times(EvictionPolicy::Random, 50);
}

#[test]
fn merge_evicts_inline_and_in_the_background() {
    fill_three_times(EvictionPolicy::Merge, 0);
    fill_three_times(EvictionPolicy::Merge, 50);
}

/// Write-once data (nothing read) leaves merge nothing to keep: its targets end up
/// empty, and must go back to the pool rather than hold a segment each in the chain
/// (merge held 73% of fifo's items before). Merge frees four segments at a time, so
/// in this 60-segment cache its pool holds a few more free ones than fifo's.
#[test]
fn merge_holds_as_much_write_once_data_as_fifo() {
    let held = |policy| {
        let (cache, _) = small_cache(policy);
        let fits = (4 << 20) / 220;
        write_range(&cache, 0, 3 * fits, 64);
        settle(&cache);
        assert_invariants(&cache);
        cache.item_count()
    };
    let (merge, fifo) = (held(EvictionPolicy::Merge), held(EvictionPolicy::Fifo));
    assert!(
        merge * 100 >= fifo * 90,
        "merge holds {merge} items, fifo {fifo}"
    );
}

#[test]
fn background_work_keeps_writes_from_evicting_inline() {
    for policy in [EvictionPolicy::Merge, EvictionPolicy::Fifo] {
        let (cache, _) = small_cache(policy);
        let fits = (4 << 20) / 220;
        write_range(&cache, 0, fits, 0);
        settle(&cache);
        let before = cache.stats().inline_evictions;
        write_range(&cache, fits, 3 * fits, 20);
        let stats = cache.stats();
        assert!(stats.evicted_segments > 10, "{stats:?}");
        assert_eq!(stats.inline_evictions, before, "{policy:?}: {stats:?}");
        assert_invariants(&cache);
    }
}

/// memcached's `-o no_lru_maintainer`: background steps neither evict nor expire,
/// so every eviction is a write's own and expired items wait for a write or a crawl.
#[test]
fn without_eviction_ahead_writes_evict_inline_and_expired_items_wait() {
    for policy in [EvictionPolicy::Merge, EvictionPolicy::Fifo] {
        let (cache, clock) = cache_with(Config {
            heap_size_bytes: 4 << 20,
            segment_size_bytes: 64 << 10,
            item_size_limit_bytes: 64 << 10,
            eviction: policy,
            evict_ahead: false,
            ..Config::default()
        });
        let fits = (4 << 20) / 220;
        write_range(&cache, 0, fits, 0);
        settle(&cache);
        let before = cache.stats();
        assert_eq!(before.segments_reserve_target, 0, "{policy:?}");
        write_range(&cache, fits, 2 * fits, 20);
        let stats = cache.stats();
        assert!(
            stats.inline_evictions > before.inline_evictions + 10,
            "{policy:?}: {stats:?}"
        );
        assert!(stats.evicted_items > 0, "{policy:?}: {stats:?}");
        assert_invariants(&cache);
        // Expired items stay until something needs them gone, as in memcached
        // without its maintainer: background steps leave them, a crawl takes them.
        let short = StoreOptions {
            expiry: Expiry::At(START_UNIX_SECS + 5),
            ..StoreOptions::default()
        };
        for n in 0..2000u32 {
            cache
                .store(StoreMode::Set, &key_for(n), &value_for(n), short)
                .unwrap();
        }
        clock.advance(10);
        let expired_before = cache.stats().expired_segments;
        settle(&cache);
        assert_eq!(
            cache.stats().expired_segments,
            expired_before,
            "{policy:?}: {:?}",
            cache.stats()
        );
        let mut cursor = tailcache_storage::DumpCursor::default();
        let mut reclaimed = 0;
        loop {
            let progress = cache.reclaim_step(&mut cursor, 1024);
            reclaimed += progress.items_reclaimed;
            if progress.finished {
                break;
            }
        }
        assert!(reclaimed > 0, "{policy:?}");
        assert_invariants(&cache);
        // A write that needs room takes expired segments before live ones.
        for n in 0..2000u32 {
            cache
                .store(StoreMode::Set, &key_for(n), &value_for(n), short)
                .unwrap();
        }
        clock.advance(10);
        let before = cache.stats();
        write_range(&cache, 3 * fits, 3 * fits + 200, 20);
        let after = cache.stats();
        assert!(
            after.expired_segments > before.expired_segments,
            "{policy:?}: {after:?}"
        );
        assert_invariants(&cache);
    }
}

#[test]
fn merge_keeps_read_items_and_their_cas() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let fits = (4 << 20) / 220;
    let mut kept = Vec::new();
    for n in 0..3 * fits {
        let cas = cache
            .store(
                StoreMode::Set,
                &key_for(n),
                &value_for(n),
                StoreOptions::default(),
            )
            .unwrap()
            .cas;
        if n % 10 == 0 {
            // Read once soon after writing, and again from time to time.
            kept.push((n, cas));
        }
        if n >= 500 && (n - 500) % 10 == 0 {
            get(&cache, &key_for(n - 500));
        }
        for &(old, _) in kept.iter().rev().take(3) {
            if n % 997 == 0 {
                get(&cache, &key_for(old));
            }
        }
        if n % 20 == 0 {
            cache.maintenance_step(StepBudget { max_items: 512 });
        }
    }
    let stats = cache.stats();
    assert!(
        stats.merged_segments > 0 && stats.merge_kept_items > 0,
        "{stats:?}"
    );
    let survivors: Vec<_> = kept
        .iter()
        .filter(|&&(n, _)| n < 3 * fits - fits)
        .filter_map(|&(n, cas)| meta(&cache, &key_for(n)).map(|meta| (n, cas, meta)))
        .collect();
    assert!(!survivors.is_empty(), "read items outlive unread ones");
    for (n, cas, meta) in survivors {
        assert_eq!(meta.cas, cas, "item {n} kept its CAS through merges");
        assert_eq!(get(&cache, &key_for(n)).unwrap(), value_for(n));
    }
    assert_invariants(&cache);
}

#[test]
fn eviction_never_takes_the_items_just_written() {
    // Many TTL buckets each with one part-filled active segment, and a full cache:
    // the items of the active segments (written last) must all still be there.
    for policy in [EvictionPolicy::Merge, EvictionPolicy::Fifo] {
        let (cache, _) = small_cache(policy);
        let fits = (4 << 20) / 220;
        write_range(&cache, 0, 2 * fits, 0);
        for n in 0..20u32 {
            let options = opts(0, 100 + 100 * n);
            cache
                .store(StoreMode::Set, &key_for(1_000_000 + n), b"fresh", options)
                .unwrap();
        }
        write_range(&cache, 2 * fits, fits / 2, 10);
        settle(&cache);
        for n in 0..20u32 {
            assert_eq!(
                get(&cache, &key_for(1_000_000 + n)).as_deref(),
                Some(&b"fresh"[..]),
                "{policy:?}: fresh item {n}"
            );
        }
    }
}

/// A cache with no free segment left and no background work.
fn full_cache(policy: EvictionPolicy) -> tailcache_storage::Cache {
    let (cache, _) = small_cache(policy);
    let fits = (4 << 20) / 220;
    write_range(&cache, 0, 2 * fits, 0);
    while cache.stats().segments_free > 0 {
        write_range(&cache, 10 * fits, 50, 0);
    }
    cache
}

#[test]
fn a_write_whose_condition_fails_never_evicts() {
    for policy in [
        EvictionPolicy::Merge,
        EvictionPolicy::Fifo,
        EvictionPolicy::Random,
    ] {
        let cache = full_cache(policy);
        set(&cache, b"present", b"not a number");
        while cache.stats().segments_free > 0 {
            write_range(&cache, 20_000_000, 50, 0);
        }
        let before = cache.stats();
        let big = vec![b'x'; 5000];
        let cas = StoreOptions {
            compare_cas: Some(1),
            ..StoreOptions::default()
        };
        for _ in 0..50 {
            assert_eq!(
                cache.store(StoreMode::Add, b"present", &big, StoreOptions::default()),
                Err(CacheError::NotStored)
            );
            assert_eq!(
                cache.store(StoreMode::Replace, b"absent", &big, StoreOptions::default()),
                Err(CacheError::NotStored)
            );
            assert_eq!(
                cache.store(StoreMode::Set, b"present", &big, cas),
                Err(CacheError::Exists)
            );
            assert_eq!(
                cache.store(StoreMode::Set, b"absent", &big, cas),
                Err(CacheError::NotFound)
            );
            assert_eq!(
                cache.store(StoreMode::Append, b"absent", &big, StoreOptions::default()),
                Err(CacheError::NotStored)
            );
            let incr = Arithmetic {
                delta: 1,
                ..Arithmetic::default()
            };
            assert_eq!(
                cache.arithmetic(b"present", incr),
                Err(CacheError::NonNumeric)
            );
            assert_eq!(cache.arithmetic(b"absent", incr), Err(CacheError::NotFound));
            assert_eq!(
                cache.delete(b"absent", DeleteOptions::default()),
                Err(CacheError::NotFound)
            );
        }
        let after = cache.stats();
        assert_eq!(
            (after.evicted_items, after.inline_evictions, after.sets),
            (before.evicted_items, before.inline_evictions, before.sets),
            "{policy:?}"
        );
        assert_eq!(get(&cache, b"present").unwrap(), b"not a number");
    }
}

#[test]
fn none_policy_refuses_when_full_and_recovers_after_expiry() {
    let (cache, clock) = small_cache(EvictionPolicy::None);
    let mut n = 0;
    let refused = loop {
        let options = opts(0, 60);
        match cache.store(StoreMode::Set, &key_for(n), &value_for(n), options) {
            Ok(_) => n += 1,
            Err(error) => break error,
        }
        assert!(n < 100_000, "never filled");
    };
    assert_eq!(refused, CacheError::OutOfMemory);
    assert_eq!(
        get(&cache, &key_for(0)).unwrap(),
        value_for(0),
        "nothing was evicted"
    );
    assert_eq!(cache.stats().evicted_items, 0);
    clock.advance(61);
    // The write itself reclaims an expired segment when none is free.
    set(&cache, b"after expiry", b"v");
    assert_eq!(get(&cache, b"after expiry").unwrap(), b"v");
    assert_invariants(&cache);
}

#[test]
fn maintenance_reclaims_expired_segments_whole() {
    let (cache, clock) = small_cache(EvictionPolicy::Fifo);
    for n in 0..5000 {
        cache
            .store(StoreMode::Set, &key_for(n), &value_for(n), opts(0, 30))
            .unwrap();
    }
    set(&cache, b"forever", b"v");
    let used = cache.stats().segments_used;
    clock.advance(31);
    settle(&cache);
    let stats = cache.stats();
    assert!(stats.expired_segments >= used - 2, "{stats:?}");
    assert!(stats.expired_items >= 4500, "{stats:?}");
    assert_eq!(cache.item_count(), 1);
    assert_eq!(get(&cache, b"forever").unwrap(), b"v");
    assert_invariants(&cache);
}

#[test]
fn flushed_segments_are_reclaimed_by_maintenance() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    write_range(&cache, 0, 5000, 0);
    let used = cache.stats().segments_used;
    cache.flush_all();
    write_range(&cache, 10_000, 10, 0);
    // Within the flush's second, reads still meet what it killed (get_flushed).
    settle(&cache);
    assert_eq!(cache.stats().segments_used, used + 1);
    assert_eq!(get(&cache, &key_for(7)), None);
    assert_eq!(cache.stats().reads_flushed, 1);
    clock.advance(1);
    settle(&cache);
    let stats = cache.stats();
    assert!(stats.segments_used <= 2, "{stats:?} (was {used})");
    assert_eq!(stats.flushed_items, 5000);
    assert_eq!(cache.item_count(), 10);
    assert_eq!(get(&cache, &key_for(8)), None);
    assert_eq!(cache.stats().reads_flushed, 1, "reclaimed: a plain miss");
    assert_invariants(&cache);
}

#[test]
fn ttl_buckets_are_shared_so_distinct_ttls_open_few_segments() {
    let (cache, _) = cache_with(Config {
        heap_size_bytes: 64 << 20,
        segment_size_bytes: 64 << 10,
        item_size_limit_bytes: 64 << 10,
        ..Config::default()
    });
    // 100 TTLs, each in its own bucket (8 s wide below 2048 s), many keys each.
    for n in 0..20_000u32 {
        let ttl = 16 + (n % 100) * 16;
        cache
            .store(StoreMode::Set, &key_for(n), b"v", opts(0, ttl))
            .unwrap();
    }
    assert!(cache.stats().segments_used <= 100, "{:?}", cache.stats());
}

#[test]
fn full_buckets_give_up_dead_items_before_live_ones() {
    // An index of about ten buckets: collisions are certain.
    let (cache, clock) = cache_with(Config {
        heap_size_bytes: 4 << 20,
        segment_size_bytes: 64 << 10,
        item_size_limit_bytes: 64 << 10,
        expected_item_size_bytes: 60 << 10,
        ..Config::default()
    });
    for n in 0..200 {
        cache
            .store(StoreMode::Set, &key_for(n), b"short-lived", opts(0, 5))
            .unwrap();
    }
    clock.advance(6);
    let before = cache.stats();
    for n in 1000..1020 {
        set(&cache, &key_for(n), b"fresh");
    }
    let after = cache.stats();
    assert_eq!(
        after.index_evictions, before.index_evictions,
        "no live item was displaced"
    );
    for n in 1000..1020 {
        assert_eq!(get(&cache, &key_for(n)).as_deref(), Some(&b"fresh"[..]));
    }
    assert_invariants(&cache);
}

#[test]
fn every_bucket_hold_is_counted() {
    let (cache, _) = small_cache(EvictionPolicy::Fifo);
    let before = cache.lock_holds().count();
    write_range(&cache, 0, 1000, 0);
    let holds = cache.lock_holds();
    assert!(holds.count() >= before + 1000, "{holds:?}");
    assert!(holds.max_ns > 0);
}

#[test]
fn a_touch_to_never_keeps_an_item_through_expiry_reclaim() {
    let (cache, clock) = small_cache(EvictionPolicy::Fifo);
    for n in 0..2000 {
        cache
            .store(StoreMode::Set, &key_for(n), &value_for(n), opts(0, 30))
            .unwrap();
    }
    cache.touch(&key_for(7), Expiry::Never).unwrap();
    cache.touch(&key_for(8), expiry_in(100)).unwrap();
    clock.advance(31);
    settle(&cache);
    assert_eq!(get(&cache, &key_for(7)).unwrap(), value_for(7));
    assert_eq!(get(&cache, &key_for(8)).unwrap(), value_for(8));
    assert_eq!(get(&cache, &key_for(9)), None);
    assert_invariants(&cache);
}

/// With 1 KB items, an index sized for 64-byte items leaves about a tenth of
/// the heap in empty slots; sizing it for the items gives that to segments.
#[test]
fn an_index_sized_for_large_items_holds_more_of_them() {
    const VALUE_BYTES: usize = 1000;
    let held = |expected_item_size_bytes: usize| {
        let (cache, _) = cache_with(Config {
            heap_size_bytes: 16 << 20,
            segment_size_bytes: 64 << 10,
            item_size_limit_bytes: 64 << 10,
            expected_item_size_bytes,
            eviction: EvictionPolicy::Fifo,
            ..Config::default()
        });
        let value = vec![b'v'; VALUE_BYTES];
        let fits = (16 << 20) / VALUE_BYTES as u32;
        for n in 0..3 * fits {
            cache
                .store(StoreMode::Set, &key_for(n), &value, StoreOptions::default())
                .expect("a full cache still takes writes");
            if n % 64 == 0 {
                cache.maintenance_step(StepBudget { max_items: 256 });
            }
        }
        settle(&cache);
        assert_invariants(&cache);
        cache.item_count()
    };
    let (default_index, sized_index) = (held(64), held(VALUE_BYTES + 8));
    assert!(
        sized_index * 100 >= default_index * 108,
        "sized index holds {sized_index} items, default {default_index}"
    );
}
