//! How segments spread across shards when one shard takes all the writes.

use crate::{Cache, Config, EvictionPolicy, StoreMode, StoreOptions};

/// An engine of 2 shards; `expected_item_size_bytes` sizes the index.
fn two_shards(expected_item_size_bytes: usize) -> Cache {
    Cache::new(Config {
        heap_size_bytes: 4 << 20,
        segment_size_bytes: 64 << 10,
        item_size_limit_bytes: 64 << 10,
        expected_item_size_bytes,
        eviction: EvictionPolicy::Merge,
        shard_count: 2,
        ..Config::default()
    })
    .expect("valid config")
}

/// Writes `count` distinct 100-byte items whose keys all land in shard 0, and
/// returns how many segments shard 0 then owns.
fn fill_shard_zero(cache: &Cache, count: usize) -> usize {
    let mut written = 0;
    for n in 0u64.. {
        if written == count {
            break;
        }
        let key = format!("key-{n}");
        if cache.shard_index(cache.hasher.hash_one(key.as_bytes())) != 0 {
            continue;
        }
        let value = [b'v'; 100 - 10];
        cache
            .store(
                StoreMode::Set,
                key.as_bytes(),
                &value,
                StoreOptions::default(),
            )
            .expect("set");
        written += 1;
    }
    cache.shards[0].0.lock().owned.len()
}

#[test]
fn a_shard_does_not_take_segments_its_index_cannot_address() {
    // The index is sized for 2 KiB items: shard 0 can address a few thousand items,
    // far fewer than its fair share of segments holds, so it must evict its own.
    let cache = two_shards(2048);
    let owned = fill_shard_zero(&cache, 120_000);
    let fair_share = cache.layout.segment_count / 2;
    assert!(
        owned <= fair_share + 1,
        "owned {owned} of fair share {fair_share}"
    );
    assert!(cache.stats().segments_free > 0);
}

#[test]
fn a_shard_whose_index_has_room_may_take_every_segment() {
    // The index is sized for 16-byte items: shard 0 can address all its 100-byte
    // items even when it owns every segment, so a lone busy shard uses all memory.
    let cache = two_shards(16);
    let owned = fill_shard_zero(&cache, 120_000);
    assert_eq!(owned, cache.layout.segment_count);
    let stats = cache.stats();
    assert_eq!(
        (stats.segments_free, stats.index_evictions),
        (0, 0),
        "{stats:?}"
    );
}
