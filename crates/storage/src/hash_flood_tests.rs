//! Hash flooding: keys an attacker built to collide under a fixed, known
//! hash crowd a handful of index buckets there, and spread out under the
//! engine's own random seed.

use crate::{Cache, Config, StoreMode, StoreOptions};

/// The "known" hash an attacker would target if the seed were fixed.
const KNOWN_SEEDS: [u64; 4] = [1, 2, 3, 4];
/// Keys the attacker sends.
const FLOOD_KEYS: usize = 2000;
/// Buckets every flood key's two choices fall in under the known hash.
const TARGET_BUCKETS: u32 = 8;

fn cache() -> Cache {
    Cache::new(Config {
        heap_size_bytes: 8 << 20,
        // Few index buckets, so that colliding keys are quick to find.
        expected_item_size_bytes: 2048,
        ..Config::default()
    })
    .unwrap()
}

fn cache_with_known_hash() -> Cache {
    let mut cache = cache();
    let [a, b, c, d] = KNOWN_SEEDS;
    cache.hasher = ahash::RandomState::with_seeds(a, b, c, d);
    cache
}

/// Keys whose two buckets are both among the first `TARGET_BUCKETS` under
/// `cache`'s hash: what an attacker computes offline against a known hash.
fn colliding_keys(cache: &Cache) -> Vec<Vec<u8>> {
    let mut keys = Vec::with_capacity(FLOOD_KEYS);
    for i in 0u64.. {
        let key = format!("flood:{i}").into_bytes();
        let pair = cache.index.pair(cache.hash(&key));
        if pair.first < TARGET_BUCKETS && pair.second < TARGET_BUCKETS {
            keys.push(key);
            if keys.len() == FLOOD_KEYS {
                break;
            }
        }
    }
    keys
}

/// Stores every key, then counts how many read back.
fn stored_then_readable(cache: &Cache, keys: &[Vec<u8>]) -> usize {
    for key in keys {
        cache
            .store(StoreMode::Set, key, b"value", StoreOptions::default())
            .unwrap();
    }
    let mut out = Vec::new();
    keys.iter()
        .filter(|key| {
            out.clear();
            cache.get_into(key, &mut out).unwrap().is_some()
        })
        .count()
}

#[test]
fn keys_built_against_a_known_hash_spread_under_the_random_seed() {
    let known = cache_with_known_hash();
    let keys = colliding_keys(&known);
    // Under the hash they were built for they fight over 8 buckets (56
    // slots): each new key pushes an older one out.
    let slots = TARGET_BUCKETS as usize * 7;
    let readable = stored_then_readable(&known, &keys);
    assert!(
        readable <= slots,
        "{readable} of {FLOOD_KEYS} under the known hash"
    );

    // tailcache seeds its hash at random per process: the same keys land
    // all over the index, every one is kept, nothing is evicted.
    let seeded = cache();
    assert_eq!(stored_then_readable(&seeded, &keys), FLOOD_KEYS);
    assert_eq!(seeded.stats().evicted_items, 0);
}
