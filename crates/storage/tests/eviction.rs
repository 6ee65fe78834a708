//! Eviction policies, expiry reclaim and the maintenance step.

mod common;

use common::*;
use tailcache_storage::{CacheError, Config, EvictionPolicy, StepBudget, StoreMode, StoreOptions};

fn value_for(n: u32) -> Vec<u8> {
    format!("{n:08}").repeat(12).into_bytes()
}

/// Writes 3x what fits and checks what is left is consistent and within budget.
fn fill_three_times(policy: EvictionPolicy) {
    let (cache, _) = small_cache(policy);
    let writes = 3 * (4 << 20) / 110;
    for n in 0..writes {
        set(&cache, format!("key-{n}").as_bytes(), &value_for(n));
    }
    let stats = cache.stats();
    assert!(stats.reserved_bytes <= stats.limit_bytes);
    assert!(
        stats.evicted_segments > 0 && stats.inline_evictions > 0,
        "{stats:?}"
    );
    let capacity = (4 << 20) / 110;
    assert!(
        stats.items > capacity / 2 && stats.items < capacity,
        "{policy:?}: {stats:?}"
    );
    let mut readable = 0;
    for n in 0..writes {
        if let Some(value) = get(&cache, format!("key-{n}").as_bytes()) {
            assert_eq!(value, value_for(n));
            readable += 1;
        }
    }
    assert_eq!(readable, stats.items, "item count matches what can be read");
    for n in writes - 50..writes {
        assert!(
            get(&cache, format!("key-{n}").as_bytes()).is_some(),
            "{policy:?} lost recent key {n}"
        );
    }
}

#[test]
fn fifo_keeps_recent_items_within_budget() {
    fill_three_times(EvictionPolicy::Fifo);
}

#[test]
fn random_keeps_recent_items_within_budget() {
    fill_three_times(EvictionPolicy::Random);
}

#[test]
fn merge_keeps_recent_items_within_budget() {
    fill_three_times(EvictionPolicy::Merge);
}

#[test]
fn merge_keeps_read_items_and_their_cas() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let hot: Vec<(Vec<u8>, u64)> = (0..50u32)
        .map(|n| {
            let key = format!("hot-{n}").into_bytes();
            let cas = set(&cache, &key, &value_for(n));
            (key, cas)
        })
        .collect();
    for n in 0..120_000u32 {
        if n % 2000 == 0 {
            for (key, _) in &hot {
                assert!(
                    get(&cache, key).is_some(),
                    "hot key lost before write {n}: {:?}",
                    cache.stats()
                );
            }
        }
        set(&cache, format!("cold-{n}").as_bytes(), &value_for(n));
    }
    let stats = cache.stats();
    assert!(stats.merged_segments > 0, "{stats:?}");
    for (key, original) in &hot {
        assert_eq!(
            cas(&cache, key),
            Some(*original),
            "a merge moved the item but kept its cas"
        );
        cache
            .store(
                StoreMode::Cas(*original),
                key,
                b"updated",
                StoreOptions::default(),
            )
            .unwrap();
    }
}

#[test]
fn none_policy_refuses_when_full_and_recovers_after_expiry() {
    let (cache, clock) = small_cache(EvictionPolicy::None);
    let mut stored = 0u32;
    let error = loop {
        let options = StoreOptions {
            exptime: 100,
            ..StoreOptions::default()
        };
        match cache.store(
            StoreMode::Set,
            format!("k{stored}").as_bytes(),
            &value_for(stored),
            options,
        ) {
            Ok(_) => stored += 1,
            Err(error) => break error,
        }
        assert!(stored < 1_000_000, "never filled");
    };
    assert_eq!(error, CacheError::OutOfMemory);
    assert_eq!(cache.stats().evicted_items, 0);
    for n in 0..stored {
        assert_eq!(get(&cache, format!("k{n}").as_bytes()), Some(value_for(n)));
    }
    clock.advance(100);
    set(&cache, b"after-expiry", b"v");
    assert!(cache.stats().expired_segments > 0);
}

#[test]
fn maintenance_reclaims_expired_segments_and_keeps_a_free_watermark() {
    let (cache, clock) = small_cache(EvictionPolicy::Fifo);
    for n in 0..20_000u32 {
        set_ttl(&cache, format!("short-{n}").as_bytes(), &value_for(n), 10);
    }
    let free_before = cache.stats().segments_free;
    clock.advance(10);
    let mut progress = cache.maintenance_step(StepBudget { max_segments: 1 });
    assert_eq!(progress.segments_expired, 1);
    assert!(progress.more_work);
    for _ in 0..100 {
        if !progress.more_work {
            break;
        }
        progress = cache.maintenance_step(StepBudget { max_segments: 4 });
    }
    let stats = cache.stats();
    assert!(!progress.more_work);
    assert_eq!(stats.items, 0);
    assert!(
        stats.segments_free > free_before && stats.expired_items == 20_000,
        "{stats:?}"
    );
    for n in 0..200_000u32 {
        set(&cache, format!("long-{n}").as_bytes(), &value_for(n));
        if cache.stats().segments_free == 0 {
            break;
        }
    }
    let progress = cache.maintenance_step(StepBudget { max_segments: 8 });
    assert!(progress.segments_evicted > 0);
    assert!(cache.stats().segments_free > 0);
}

#[test]
fn flushed_segments_are_reclaimed_by_maintenance() {
    let (cache, _) = small_cache(EvictionPolicy::Fifo);
    for n in 0..10_000u32 {
        set(&cache, format!("k{n}").as_bytes(), &value_for(n));
    }
    let used = cache.stats().segments_used;
    cache.flush_all(0);
    assert_eq!(cache.stats().segments_flushed, used);
    cache.maintenance_step(StepBudget { max_segments: 1000 });
    let stats = cache.stats();
    assert_eq!(
        (stats.segments_used, stats.items, stats.bytes_used),
        (0, 0, 0)
    );
}

#[test]
fn merge_without_reads_strands_no_empty_segments() {
    // No item is read, so every merge keeps nothing: its target must go back to the
    // pool, not sit owned and empty (that once stranded up to 9 of 50 segments in the
    // memory bench).
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let writes = 3 * (4 << 20) / 110;
    for n in 0..writes {
        set(&cache, format!("key-{n}").as_bytes(), &value_for(n));
        if n % 1000 == 0 {
            let stats = cache.stats();
            let unwritten_in_owned_bytes =
                stats.bytes_free - stats.segments_free * stats.segment_size_bytes;
            // Only each shard's active segment (2 shards) may have unwritten room,
            // besides full segments' tails too short for the next item.
            let tails_bytes = stats.segments_used * 128;
            assert!(
                unwritten_in_owned_bytes <= 2 * stats.segment_size_bytes + tails_bytes,
                "write {n}: {stats:?}"
            );
        }
    }
    let stats = cache.stats();
    assert!(stats.merged_segments > 0, "{stats:?}");
}

#[test]
fn merge_never_hands_out_a_cas_twice() {
    // A merged segment keeps its CAS range; were new items appended where dropped
    // ones were, a new item could get a dropped item's CAS, and a client still holding
    // that CAS for the same key would overwrite a value it never saw. Here a merge
    // keeps only its target's first item, unmoved at offset 0, and drops the one right
    // after it: the spot a new item would be appended to.
    let (cache, _) = cache_with(Config {
        heap_size_bytes: 1 << 20,
        segment_size_bytes: 4096,
        item_size_limit_bytes: 4096,
        eviction: EvictionPolicy::Merge,
        shard_count: 1,
        ..Config::default()
    });
    let mut seen = std::collections::HashSet::new();
    for n in 0..20_000u32 {
        let key = format!("key-{n:06}");
        let cas = set(&cache, key.as_bytes(), &value_for(n));
        assert!(seen.insert(cas), "cas {cas} handed out twice (write {n})");
        // A new item's CAS is its segment's CAS base (1 + k * segment size) plus its
        // offset: read the item at offset 0 of every fourth segment, so a merge of four
        // keeps it unmoved and moves nothing in after it.
        if (cas - 1).is_multiple_of(4 * 4096) {
            get(&cache, key.as_bytes());
        }
    }
    assert!(cache.stats().merged_segments > 0);
}
