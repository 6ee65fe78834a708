//! Every operation and every error, with memcached's semantics.

mod common;

use common::*;
use tailcache_storage::{
    Arithmetic, CacheError, Config, ConfigError, DeleteOptions, EvictionPolicy, Expiry,
    ReadOptions, StoreMode, StoreOptions, MAX_KEY_LEN,
};

#[test]
fn set_then_get_returns_bytes_flags_and_cas() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let stored = cache
        .store(StoreMode::Set, b"k", b"007", opts(0xdead_beef, 0))
        .unwrap();
    let mut out = b"prefix:".to_vec();
    let meta = cache.get_into(b"k", &mut out).unwrap().unwrap();
    assert_eq!(out, b"prefix:007", "get_into appends, byte for byte");
    assert_eq!(
        (meta.client_flags, meta.cas, meta.value_len, meta.expiry),
        (0xdead_beef, stored.cas, 3, Expiry::Never)
    );
    assert_eq!(stored, meta);
    assert!(stored.cas != 0);
    assert_invariants(&cache);
}

#[test]
fn hit_before_reports_earlier_reads_and_get_meta_is_not_a_read() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    set(&cache, b"k", b"v");
    assert!(!meta(&cache, b"k").unwrap().hit_before);
    assert!(
        !meta(&cache, b"k").unwrap().hit_before,
        "get_meta does not count"
    );
    let mut out = Vec::new();
    assert!(!cache.get_into(b"k", &mut out).unwrap().unwrap().hit_before);
    assert!(cache.get_into(b"k", &mut out).unwrap().unwrap().hit_before);
    set(&cache, b"k", b"w");
    assert!(
        !meta(&cache, b"k").unwrap().hit_before,
        "a new value is unread"
    );
}

#[test]
fn overwrite_replaces_value_and_raises_cas() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let first = set(&cache, b"k", b"one");
    let second = set(&cache, b"k", b"two");
    assert!(second > first);
    assert_eq!(get(&cache, b"k").unwrap(), b"two");
    assert_eq!(cache.item_count(), 1);
    assert_invariants(&cache);
}

#[test]
fn add_only_when_absent() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    cache.store(StoreMode::Add, b"k", b"1", opts(0, 0)).unwrap();
    assert_eq!(
        cache.store(StoreMode::Add, b"k", b"2", opts(0, 0)),
        Err(CacheError::NotStored)
    );
    assert_eq!(get(&cache, b"k").unwrap(), b"1");
}

#[test]
fn replace_only_when_present() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    assert_eq!(
        cache.store(StoreMode::Replace, b"k", b"1", opts(0, 0)),
        Err(CacheError::NotStored)
    );
    set(&cache, b"k", b"1");
    cache
        .store(StoreMode::Replace, b"k", b"2", opts(0, 0))
        .unwrap();
    assert_eq!(get(&cache, b"k").unwrap(), b"2");
}

#[test]
fn append_and_prepend_keep_flags_and_expiry() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    for mode in [StoreMode::Append, StoreMode::Prepend] {
        assert_eq!(
            cache.store(mode, b"k", b"x", opts(0, 0)),
            Err(CacheError::NotStored)
        );
    }
    cache
        .store(StoreMode::Set, b"k", b"mid", opts(7, 100))
        .unwrap();
    cache
        .store(StoreMode::Append, b"k", b"-end", opts(9, 5))
        .unwrap();
    let stored = cache
        .store(StoreMode::Prepend, b"k", b"start-", opts(9, 5))
        .unwrap();
    let mut out = Vec::new();
    let meta = cache.get_into(b"k", &mut out).unwrap().unwrap();
    assert_eq!(out, b"start-mid-end");
    assert_eq!((meta.client_flags, meta.expiry), (7, expiry_in(100)));
    assert_eq!((stored.value_len, stored.cas), (13, meta.cas));
    assert_invariants(&cache);
}

#[test]
fn append_with_cas_and_vivify() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let vivify = StoreOptions {
        vivify_on_miss: Some(expiry_in(50)),
        ..StoreOptions::default()
    };
    let created = cache
        .store(StoreMode::Append, b"k", b"seed", vivify)
        .unwrap();
    assert_eq!((created.expiry, created.value_len), (expiry_in(50), 4));
    let stale = StoreOptions {
        compare_cas: Some(created.cas + 1),
        ..StoreOptions::default()
    };
    assert_eq!(
        cache.store(StoreMode::Append, b"k", b"x", stale),
        Err(CacheError::Exists)
    );
    let right = StoreOptions {
        compare_cas: Some(created.cas),
        ..StoreOptions::default()
    };
    cache.store(StoreMode::Append, b"k", b"+", right).unwrap();
    assert_eq!(get(&cache, b"k").unwrap(), b"seed+");
}

#[test]
fn the_item_limit_counts_key_value_and_the_largest_header() {
    // The largest header is 25 bytes (bits, key length, 5-byte varint, access time,
    // flags, CAS, expiry).
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let limit = 64 << 10;
    let fits = vec![b'a'; limit - 25 - 1];
    cache
        .store(StoreMode::Set, b"k", &fits, opts(1, 100))
        .unwrap();
    let over = vec![b'a'; limit - 25];
    assert_eq!(
        cache.store(StoreMode::Set, b"k", &over, opts(0, 0)),
        Err(CacheError::ValueTooLarge {
            len: limit - 25,
            limit
        })
    );
    let half = vec![b'a'; 40 << 10];
    set(&cache, b"h", &half);
    let result = cache.store(StoreMode::Append, b"h", &half, opts(0, 0));
    assert!(
        matches!(result, Err(CacheError::ValueTooLarge { .. })),
        "{result:?}"
    );
    assert_eq!(get(&cache, b"h").unwrap(), half);
}

#[test]
fn touch_and_gat_near_the_item_limit_keep_the_item() {
    // The biggest item there is, without an expiry field and with a derived CAS:
    // a touch that must move it (adding expiry and an explicit CAS) still fits.
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let value = vec![b'z'; (64 << 10) - 25 - 1];
    let stored = cache
        .store(StoreMode::Set, b"k", &value, opts(0, 0))
        .unwrap();
    let touched = cache.touch(b"k", expiry_in(300)).unwrap();
    assert_eq!((touched.cas, touched.expiry), (stored.cas, expiry_in(300)));
    let mut out = Vec::new();
    let read = ReadOptions {
        touch: Some(Expiry::Never),
        ..ReadOptions::default()
    };
    let outcome = cache.read(b"k", read, Some(&mut out)).unwrap().unwrap();
    assert_eq!(
        (outcome.meta.cas, outcome.meta.expiry),
        (stored.cas, Expiry::Never)
    );
    assert_eq!(outcome.expiry_before, expiry_in(300));
    assert_eq!(out, value);
    assert_invariants(&cache);
}

#[test]
fn cas_succeeds_only_if_unchanged() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let with_cas = |cas| StoreOptions {
        compare_cas: Some(cas),
        ..StoreOptions::default()
    };
    assert_eq!(
        cache.store(StoreMode::Set, b"k", b"v", with_cas(1)),
        Err(CacheError::NotFound)
    );
    let first = set(&cache, b"k", b"v1");
    let second = cache
        .store(StoreMode::Set, b"k", b"v2", with_cas(first))
        .unwrap();
    assert_eq!(
        cache.store(StoreMode::Replace, b"k", b"v3", with_cas(first)),
        Err(CacheError::Exists)
    );
    assert_eq!(get(&cache, b"k").unwrap(), b"v2");
    assert_eq!(cas(&cache, b"k"), Some(second.cas));
    // add ignores a CAS, as memcached's does.
    assert_eq!(
        cache.store(StoreMode::Add, b"k", b"v4", with_cas(second.cas)),
        Err(CacheError::NotStored)
    );
}

#[test]
fn cas_is_not_disturbed_by_other_keys() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let mine = set(&cache, b"mine", b"v");
    for n in 0..2000u32 {
        set(&cache, format!("other-{n}").as_bytes(), b"x");
        let _ = cache.delete(
            format!("other-{}", n / 2).as_bytes(),
            DeleteOptions::default(),
        );
    }
    assert_eq!(cas(&cache, b"mine"), Some(mine));
    let options = StoreOptions {
        compare_cas: Some(mine),
        ..StoreOptions::default()
    };
    cache.store(StoreMode::Set, b"mine", b"w", options).unwrap();
}

#[test]
fn every_cas_is_unique_and_each_key_s_cas_only_grows() {
    let (cache, _) = small_cache(EvictionPolicy::Fifo);
    let mut seen = std::collections::HashSet::new();
    let mut last = std::collections::HashMap::new();
    for n in 0..20_000u32 {
        let key = format!("k{}", n % 300);
        // Alternating TTL buckets makes a key move between concurrently open
        // segments, where a CAS derived from the position could go down.
        let ttl = [0, 100, 5000][(n / 300 % 3) as usize];
        let cas = cache
            .store(StoreMode::Set, key.as_bytes(), &[b'v'; 100], opts(0, ttl))
            .unwrap()
            .cas;
        assert!(seen.insert(cas), "duplicate cas at {n}");
        if let Some(previous) = last.insert(key.clone(), cas) {
            assert!(cas > previous, "{key}: cas {cas} after {previous}");
        }
    }
}

#[test]
fn explicit_new_cas_is_used() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let options = StoreOptions {
        new_cas: Some(4242),
        ..StoreOptions::default()
    };
    assert_eq!(
        cache
            .store(StoreMode::Set, b"k", b"v", options)
            .unwrap()
            .cas,
        4242
    );
    assert_eq!(cas(&cache, b"k"), Some(4242));
}

#[test]
fn cas_disabled_reads_zero() {
    let (cache, _) = cache_with(Config {
        heap_size_bytes: 4 << 20,
        segment_size_bytes: 64 << 10,
        item_size_limit_bytes: 64 << 10,
        cas_enabled: false,
        ..Config::default()
    });
    assert_eq!(set(&cache, b"k", b"v"), 0);
    assert_eq!(cas(&cache, b"k"), Some(0));
    cache.touch(b"k", expiry_in(10)).unwrap();
    assert_eq!(cas(&cache, b"k"), Some(0));
}

#[test]
fn delete_removes_and_checks_cas() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    assert_eq!(
        cache.delete(b"k", DeleteOptions::default()),
        Err(CacheError::NotFound)
    );
    let cas = set(&cache, b"k", b"v");
    let wrong = DeleteOptions {
        compare_cas: Some(cas + 1),
        ..DeleteOptions::default()
    };
    assert_eq!(cache.delete(b"k", wrong), Err(CacheError::Exists));
    let right = DeleteOptions {
        compare_cas: Some(cas),
        ..DeleteOptions::default()
    };
    cache.delete(b"k", right).unwrap();
    assert_eq!(get(&cache, b"k"), None);
    assert_eq!(cache.item_count(), 0);
    assert_invariants(&cache);
}

fn incr(cache: &tailcache_storage::Cache, key: &[u8], delta: u64) -> Result<u64, CacheError> {
    let arithmetic = Arithmetic {
        delta,
        ..Arithmetic::default()
    };
    cache
        .arithmetic(key, arithmetic)
        .map(|outcome| outcome.value)
}

fn decr(cache: &tailcache_storage::Cache, key: &[u8], delta: u64) -> Result<u64, CacheError> {
    let arithmetic = Arithmetic {
        delta,
        decrement: true,
        ..Arithmetic::default()
    };
    cache
        .arithmetic(key, arithmetic)
        .map(|outcome| outcome.value)
}

#[test]
fn incr_and_decr_follow_memcached() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    assert_eq!(incr(&cache, b"n", 1), Err(CacheError::NotFound));
    set(&cache, b"n", b"10");
    assert_eq!(incr(&cache, b"n", 5), Ok(15));
    assert_eq!(decr(&cache, b"n", 100), Ok(0), "decr stops at 0");
    set(&cache, b"n", b"18446744073709551615");
    assert_eq!(incr(&cache, b"n", 2), Ok(1), "incr wraps");
    set(&cache, b"n", b"  42  ");
    assert_eq!(incr(&cache, b"n", 0), Ok(42));
    set(&cache, b"n", b"abc");
    assert_eq!(incr(&cache, b"n", 1), Err(CacheError::NonNumeric));
    set(&cache, b"n", &[b'1'; 100]);
    assert_eq!(incr(&cache, b"n", 1), Err(CacheError::NonNumeric));
    assert_eq!(get(&cache, b"n").unwrap(), vec![b'1'; 100]);
}

#[test]
fn incr_keeps_flags_and_expiry_and_raises_cas() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let stored = cache
        .store(StoreMode::Set, b"n", b"1", opts(33, 500))
        .unwrap();
    let outcome = cache
        .arithmetic(
            b"n",
            Arithmetic {
                delta: 1,
                ..Arithmetic::default()
            },
        )
        .unwrap();
    assert_eq!(outcome.value, 2);
    assert!(outcome.meta.cas > stored.cas);
    assert_eq!(
        (outcome.meta.client_flags, outcome.meta.expiry),
        (33, expiry_in(500))
    );
    assert_eq!(cas(&cache, b"n"), Some(outcome.meta.cas));
}

#[test]
fn touch_changes_expiry_but_not_cas_and_a_past_expiry_removes() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    assert_eq!(cache.touch(b"k", expiry_in(10)), Err(CacheError::NotFound));
    let cas = set(&cache, b"k", b"v");
    for expiry in [expiry_in(10), expiry_in(20), Expiry::Never, expiry_in(5)] {
        let touched = cache.touch(b"k", expiry).unwrap();
        assert_eq!((touched.cas, touched.expiry), (cas, expiry));
        assert_eq!(meta(&cache, b"k").unwrap().expiry, expiry);
    }
    clock.advance(4);
    assert!(get(&cache, b"k").is_some());
    clock.advance(1);
    assert_eq!(get(&cache, b"k"), None, "expired at exactly its second");
    set(&cache, b"k", b"v");
    cache.touch(b"k", Expiry::At(START_UNIX_SECS)).unwrap();
    assert_eq!(get(&cache, b"k"), None);
    assert_invariants(&cache);
}

#[test]
fn gat_with_a_past_expiry_returns_the_value_then_removes_it() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    set(&cache, b"k", b"last look");
    let mut out = Vec::new();
    let options = ReadOptions {
        touch: Some(Expiry::At(1)),
        ..ReadOptions::default()
    };
    assert!(cache.read(b"k", options, Some(&mut out)).unwrap().is_some());
    assert_eq!(out, b"last look");
    assert_eq!(get(&cache, b"k"), None);
}

#[test]
fn a_store_that_has_expired_removes_the_key_only_if_its_condition_holds() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let first = set(&cache, b"k", b"v");
    let past = StoreOptions {
        expiry: Expiry::At(START_UNIX_SECS - 1),
        ..StoreOptions::default()
    };
    assert_eq!(
        cache.store(StoreMode::Add, b"k", b"w", past),
        Err(CacheError::NotStored)
    );
    assert!(get(&cache, b"k").is_some());
    // memcached links the item already expired, with a CAS of its own.
    let expired = cache.store(StoreMode::Set, b"k", b"w", past).unwrap();
    assert!(expired.cas > first, "{} after {first}", expired.cas);
    let expired_reads = cache.stats().reads_expired;
    assert_eq!(get(&cache, b"k"), None);
    // A read finds the expired item, as memcached's get_expired counts it, and
    // unlinks it: the next read is a plain miss.
    assert_eq!(cache.stats().reads_expired, expired_reads + 1);
    assert_eq!(get(&cache, b"k"), None);
    assert_eq!(cache.stats().reads_expired, expired_reads + 1);
    assert_eq!(cache.stats().items, 0);
    assert_invariants(&cache);
}

#[test]
fn keep_ttl_keeps_the_old_expiry() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    cache
        .store(StoreMode::Set, b"k", b"v", opts(0, 77))
        .unwrap();
    let keep = StoreOptions {
        keep_ttl: true,
        ..StoreOptions::default()
    };
    cache.store(StoreMode::Set, b"k", b"w", keep).unwrap();
    assert_eq!(meta(&cache, b"k").unwrap().expiry, expiry_in(77));
    cache.store(StoreMode::Set, b"fresh", b"w", keep).unwrap();
    assert_eq!(meta(&cache, b"fresh").unwrap().expiry, Expiry::Never);
}

#[test]
fn flush_all_now_drops_everything_before_it() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    for n in 0..100u32 {
        set(&cache, format!("k{n}").as_bytes(), b"v");
    }
    cache.flush_all();
    assert_eq!(cache.item_count(), 0);
    assert_eq!(get(&cache, b"k1"), None);
    set(&cache, b"after", b"v");
    assert_eq!(get(&cache, b"after").unwrap(), b"v");
    assert_eq!(cache.item_count(), 1);
    // The reclaim starts in the second after the flush.
    clock.advance(1);
    settle(&cache);
    assert_invariants(&cache);
    assert_eq!(cache.stats().flushed_items, 100);
    assert_eq!(get(&cache, b"after").unwrap(), b"v");
}

#[test]
fn flush_all_later_keeps_items_until_then_and_after() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    set(&cache, b"before", b"v");
    cache.flush_all_at(START_UNIX_SECS + 10);
    clock.advance(9);
    set(&cache, b"during", b"v");
    assert!(get(&cache, b"before").is_some());
    clock.advance(1);
    assert_eq!(get(&cache, b"before"), None);
    assert_eq!(get(&cache, b"during"), None);
    set(&cache, b"after", b"v");
    assert!(get(&cache, b"after").is_some());
    // A flush time already past flushes at once.
    cache.flush_all_at(START_UNIX_SECS);
    assert_eq!(get(&cache, b"after"), None);
}

#[test]
fn flush_through_second_takes_what_its_second_stores_as_memcached_without_cas() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    set(&cache, b"before", b"v");
    cache.flush_through_second(START_UNIX_SECS);
    assert_eq!(get(&cache, b"before"), None);
    // Stored in the flush's second: dead as soon as written, and still after it.
    set(&cache, b"same-second", b"v");
    assert_eq!(get(&cache, b"same-second"), None);
    clock.advance(1);
    assert_eq!(get(&cache, b"same-second"), None);
    set(&cache, b"next-second", b"v");
    assert!(get(&cache, b"next-second").is_some());

    // A later second: nothing dies before it, everything stored up to its end does.
    let at = START_UNIX_SECS + 5;
    cache.flush_through_second(at);
    clock.advance(3);
    set(&cache, b"early", b"v");
    assert!(get(&cache, b"next-second").is_some());
    clock.advance(1);
    assert_eq!(get(&cache, b"next-second"), None);
    assert_eq!(get(&cache, b"early"), None);
    set(&cache, b"in-it", b"v");
    assert_eq!(get(&cache, b"in-it"), None);
    clock.advance(1);
    set(&cache, b"after", b"v");
    assert!(get(&cache, b"after").is_some());
    assert_eq!(get(&cache, b"in-it"), None);

    // A later flush replaces one still waiting, as in memcached.
    cache.flush_through_second(START_UNIX_SECS + 100);
    cache.flush_all_at(START_UNIX_SECS + 1000);
    clock.advance(100);
    set(&cache, b"kept", b"v");
    assert!(get(&cache, b"kept").is_some());
    assert!(get(&cache, b"after").is_some());
}

#[test]
fn key_limits_have_typed_errors_on_every_operation() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let long = vec![b'k'; MAX_KEY_LEN + 1];
    let too_long = Err(CacheError::KeyTooLong {
        len: MAX_KEY_LEN + 1,
    });
    let mut out = Vec::new();
    assert_eq!(cache.get_into(&long, &mut out).map(|_| ()), too_long);
    assert_eq!(
        cache.get_into(b"", &mut out).map(|_| ()),
        Err(CacheError::KeyEmpty)
    );
    assert_eq!(cache.get_meta(&long).map(|_| ()), too_long);
    assert_eq!(
        cache
            .store(StoreMode::Set, &long, b"v", opts(0, 0))
            .map(|_| ()),
        too_long
    );
    assert_eq!(cache.delete(&long, DeleteOptions::default()), too_long);
    assert_eq!(cache.touch(&long, Expiry::Never).map(|_| ()), too_long);
    assert_eq!(
        cache.arithmetic(&long, Arithmetic::default()).map(|_| ()),
        too_long
    );
    assert_eq!(
        cache.read(&long, ReadOptions::default(), None).map(|_| ()),
        too_long
    );
    let longest = vec![b'k'; MAX_KEY_LEN];
    set(&cache, &longest, b"v");
    assert_eq!(get(&cache, &longest).unwrap(), b"v");
}

#[test]
fn config_errors_are_typed() {
    let bad_segment = Config {
        segment_size_bytes: 1000,
        ..Config::default()
    };
    assert!(matches!(
        tailcache_storage::Cache::new(bad_segment),
        Err(ConfigError::SegmentSize { .. })
    ));
    let tiny = Config {
        heap_size_bytes: 1 << 20,
        ..Config::default()
    };
    assert!(matches!(
        tailcache_storage::Cache::new(tiny),
        Err(ConfigError::HeapTooSmall { .. })
    ));
    let over = Config {
        item_size_limit_bytes: 2 << 20,
        ..Config::default()
    };
    assert!(matches!(
        tailcache_storage::Cache::new(over),
        Err(ConfigError::ItemSizeLimit { .. })
    ));
}

#[test]
fn memory_stays_inside_the_budget() {
    for heap in [5usize << 20, 64 << 20, 300 << 20] {
        let (cache, _) = cache_with(Config {
            heap_size_bytes: heap,
            ..Config::default()
        });
        let stats = cache.stats();
        assert!(stats.reserved_bytes <= heap as u64, "{stats:?}");
        assert_eq!(stats.limit_bytes, heap as u64);
    }
}

/// A read that meets an expired or flushed item counts it (memcached's get_expired
/// and get_flushed); a plain miss counts neither.
#[test]
fn reads_of_expired_and_flushed_items_are_counted() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    cache
        .store(StoreMode::Set, b"short", b"v", opts(0, 10))
        .unwrap();
    set(&cache, b"kept", b"v");
    assert_eq!(get(&cache, b"absent"), None);
    clock.advance(11);
    assert_eq!(get(&cache, b"short"), None);
    let stats = cache.stats();
    assert_eq!((stats.reads_expired, stats.reads_flushed), (1, 0));
    cache.flush_all();
    assert_eq!(get(&cache, b"kept"), None);
    let stats = cache.stats();
    assert_eq!((stats.reads_expired, stats.reads_flushed), (1, 1));
}
