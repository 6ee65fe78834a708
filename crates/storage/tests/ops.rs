//! Every operation and every error, with memcached's semantics.

mod common;

use common::*;
use tailcache_storage::{
    CacheError, Config, EvictionPolicy, MetaBitsUpdate, StoreMode, StoreOptions, MAX_KEY_LEN,
};

fn opts(client_flags: u32, exptime: i64) -> StoreOptions {
    StoreOptions {
        client_flags,
        exptime,
        ..StoreOptions::default()
    }
}

#[test]
fn set_then_get_returns_bytes_flags_and_cas() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let cas = cache
        .store(StoreMode::Set, b"k", b"007", opts(0xdead_beef, 0))
        .unwrap();
    let mut out = b"prefix:".to_vec();
    let meta = cache.get_into(b"k", &mut out).unwrap().unwrap();
    assert_eq!(out, b"prefix:007", "get_into appends, byte for byte");
    assert_eq!(
        (
            meta.client_flags,
            meta.cas,
            meta.value_len,
            meta.expiry_unix_secs
        ),
        (0xdead_beef, cas, 3, 0)
    );
    assert!(cas != 0);
}

#[test]
fn get_miss_and_hit_are_counted() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    assert_eq!(get(&cache, b"absent"), None);
    set(&cache, b"k", b"v");
    assert_eq!(get(&cache, b"k").as_deref(), Some(&b"v"[..]));
    let stats = cache.stats();
    assert_eq!(
        (stats.get_hits, stats.get_misses, stats.sets, stats.items),
        (1, 1, 1, 1)
    );
}

#[test]
fn hit_before_reports_earlier_reads() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    set(&cache, b"k", b"v");
    assert!(!cache.get_with(b"k", |_, m| m.hit_before).unwrap().unwrap());
    assert!(cache.get_with(b"k", |_, m| m.hit_before).unwrap().unwrap());
}

#[test]
fn overwrite_replaces_value_and_changes_cas() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let first = set(&cache, b"k", b"one");
    let second = set(&cache, b"k", b"two");
    assert_ne!(first, second);
    assert_eq!(get(&cache, b"k").unwrap(), b"two");
    assert_eq!(cache.item_count(), 1);
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
    assert_eq!(
        cache.store(StoreMode::Append, b"k", b"x", opts(0, 0)),
        Err(CacheError::NotStored)
    );
    assert_eq!(
        cache.store(StoreMode::Prepend, b"k", b"x", opts(0, 0)),
        Err(CacheError::NotStored)
    );
    cache
        .store(StoreMode::Set, b"k", b"mid", opts(7, 100))
        .unwrap();
    cache
        .store(StoreMode::Append, b"k", b"-end", opts(9, 5))
        .unwrap();
    cache
        .store(StoreMode::Prepend, b"k", b"start-", opts(9, 5))
        .unwrap();
    let mut out = Vec::new();
    let meta = cache.get_into(b"k", &mut out).unwrap().unwrap();
    assert_eq!(out, b"start-mid-end");
    assert_eq!(
        (meta.client_flags, meta.expiry_unix_secs),
        (7, START_UNIX_SECS + 100)
    );
}

#[test]
fn append_over_the_limit_is_value_too_large() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let half = vec![b'a'; 40 << 10];
    set(&cache, b"k", &half);
    let result = cache.store(StoreMode::Append, b"k", &half, opts(0, 0));
    assert!(
        matches!(result, Err(CacheError::ValueTooLarge { .. })),
        "{result:?}"
    );
    assert_eq!(get(&cache, b"k").unwrap(), half);
}

#[test]
fn cas_succeeds_only_if_unchanged() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    assert_eq!(
        cache.store(StoreMode::Cas(1), b"k", b"v", opts(0, 0)),
        Err(CacheError::NotFound)
    );
    let first = set(&cache, b"k", b"v1");
    let second = cache
        .store(StoreMode::Cas(first), b"k", b"v2", opts(0, 0))
        .unwrap();
    assert_eq!(
        cache.store(StoreMode::Cas(first), b"k", b"v3", opts(0, 0)),
        Err(CacheError::Exists)
    );
    assert_eq!(get(&cache, b"k").unwrap(), b"v2");
    assert_eq!(cas(&cache, b"k"), Some(second));
}

#[test]
fn cas_is_not_disturbed_by_other_keys() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let mine = set(&cache, b"mine", b"v");
    for n in 0..2000u32 {
        set(&cache, format!("other-{n}").as_bytes(), b"x");
        cache
            .delete(format!("other-{}", n / 2).as_bytes(), None)
            .ok();
    }
    assert_eq!(cas(&cache, b"mine"), Some(mine));
    cache
        .store(StoreMode::Cas(mine), b"mine", b"w", opts(0, 0))
        .unwrap();
}

#[test]
fn every_cas_is_unique_across_keys_and_versions() {
    let (cache, _) = small_cache(EvictionPolicy::Fifo);
    let mut seen = std::collections::HashSet::new();
    for n in 0..20_000u32 {
        let key = format!("k{}", n % 300);
        assert!(
            seen.insert(set(&cache, key.as_bytes(), &[b'v'; 100])),
            "duplicate cas at {n}"
        );
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
        cache.store(StoreMode::Set, b"k", b"v", options).unwrap(),
        4242
    );
    assert_eq!(cas(&cache, b"k"), Some(4242));
}

#[test]
fn cas_disabled_reads_zero() {
    let (cache, _) = cache_with(Config {
        heap_size_bytes: 4 << 20,
        cas_enabled: false,
        ..Config::default()
    });
    assert_eq!(set(&cache, b"k", b"v"), 0);
    assert_eq!(cas(&cache, b"k"), Some(0));
    assert_eq!(
        cache.store(StoreMode::Cas(5), b"k", b"v", opts(0, 0)),
        Err(CacheError::Exists)
    );
    cache
        .store(StoreMode::Cas(0), b"k", b"w", opts(0, 0))
        .unwrap();
}

#[test]
fn delete_removes_and_checks_cas() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    assert_eq!(cache.delete(b"k", None), Err(CacheError::NotFound));
    let cas = set(&cache, b"k", b"v");
    assert_eq!(cache.delete(b"k", Some(cas + 1)), Err(CacheError::Exists));
    cache.delete(b"k", Some(cas)).unwrap();
    assert_eq!(get(&cache, b"k"), None);
    assert_eq!(cache.item_count(), 0);
}

#[test]
fn incr_and_decr_follow_memcached() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    assert_eq!(cache.incr(b"n", 1), Err(CacheError::NotFound));
    assert_eq!(cache.decr(b"n", 1), Err(CacheError::NotFound));
    cache
        .store(StoreMode::Set, b"n", b"007", opts(3, 50))
        .unwrap();
    assert_eq!(cache.incr(b"n", 1), Ok(8));
    assert_eq!(cache.incr(b"n", 92), Ok(100));
    assert_eq!(cache.decr(b"n", 1), Ok(99));
    assert_eq!(get(&cache, b"n").unwrap(), b"99");
    assert_eq!(cache.decr(b"n", 1000), Ok(0));
    set(&cache, b"n", b"18446744073709551615");
    assert_eq!(cache.incr(b"n", 2), Ok(1), "incr wraps at 2^64");
    let meta = cache.get_with(b"n", |_, m| *m).unwrap().unwrap();
    assert_eq!(meta.client_flags, 0);
    set(&cache, b"s", b"12abc");
    assert_eq!(cache.incr(b"s", 1), Err(CacheError::NonNumeric));
    assert_eq!(cache.decr(b"s", 1), Err(CacheError::NonNumeric));
}

#[test]
fn incr_keeps_flags_expiry_and_changes_cas() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let before = cache
        .store(StoreMode::Set, b"n", b"1", opts(3, 50))
        .unwrap();
    cache.incr(b"n", 1).unwrap();
    let meta = cache.get_with(b"n", |_, m| *m).unwrap().unwrap();
    assert_eq!(
        (meta.client_flags, meta.expiry_unix_secs),
        (3, START_UNIX_SECS + 50)
    );
    assert_ne!(meta.cas, before);
}

#[test]
fn touch_changes_expiry_but_not_cas() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    assert_eq!(cache.touch(b"k", 10), Err(CacheError::NotFound));
    let original = set_ttl(&cache, b"k", b"v", 5);
    cache.touch(b"k", 100).unwrap();
    clock.advance(50);
    assert_eq!(cas(&cache, b"k"), Some(original));
    cache.touch(b"k", 0).unwrap();
    clock.advance(10_000);
    assert_eq!(
        cas(&cache, b"k"),
        Some(original),
        "touch 0 means never expire"
    );
    cache.touch(b"k", 3).unwrap();
    assert_eq!(cas(&cache, b"k"), Some(original));
    clock.advance(3);
    assert_eq!(get(&cache, b"k"), None);
    set(&cache, b"k", b"v");
    cache.touch(b"k", -1).unwrap();
    assert_eq!(get(&cache, b"k"), None);
}

#[test]
fn get_and_touch_returns_value_and_new_expiry() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    let mut out = Vec::new();
    assert_eq!(cache.get_and_touch_into(b"k", 10, &mut out), Ok(None));
    set_ttl(&cache, b"k", b"value", 2);
    let meta = cache
        .get_and_touch_into(b"k", 60, &mut out)
        .unwrap()
        .unwrap();
    assert_eq!(out, b"value");
    assert_eq!(meta.expiry_unix_secs, START_UNIX_SECS + 60);
    clock.advance(30);
    assert_eq!(get(&cache, b"k").unwrap(), b"value");
}

#[test]
fn ttl_is_never_rounded_down() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    for ttl in [1i64, 5, 9, 100, 2047, 2049, 40_000] {
        let key = format!("ttl-{ttl}");
        set_ttl(&cache, key.as_bytes(), b"v", ttl);
    }
    let start = tailcache_storage::Clock::now_unix_secs(&*clock);
    for ttl in [1u32, 5, 9, 100, 2047, 2049, 40_000] {
        let key = format!("ttl-{ttl}");
        clock.set(start + ttl - 1);
        cache.maintenance_step(tailcache_storage::StepBudget { max_segments: 100 });
        assert!(
            get(&cache, key.as_bytes()).is_some(),
            "{key} gone a second early"
        );
        clock.set(start + ttl);
        assert!(
            get(&cache, key.as_bytes()).is_none(),
            "{key} outlived its ttl"
        );
        clock.set(start);
    }
}

#[test]
fn exptime_forms_follow_memcached() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    set_ttl(&cache, b"negative", b"v", -1);
    assert_eq!(get(&cache, b"negative"), None);
    set(&cache, b"replaced", b"v");
    set_ttl(&cache, b"replaced", b"v", -1);
    assert_eq!(
        get(&cache, b"replaced"),
        None,
        "a negative exptime removes the old item"
    );
    set_ttl(&cache, b"absolute", b"v", START_UNIX_SECS as i64 + 100);
    set_ttl(&cache, b"past", b"v", START_UNIX_SECS as i64 - 100);
    set_ttl(&cache, b"thirty-days", b"v", 60 * 60 * 24 * 30);
    assert_eq!(get(&cache, b"past"), None);
    clock.advance(99);
    assert!(get(&cache, b"absolute").is_some());
    clock.advance(1);
    assert_eq!(get(&cache, b"absolute"), None);
    assert!(get(&cache, b"thirty-days").is_some());
}

#[test]
fn flush_all_now_drops_everything_before_it() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    for n in 0..100u32 {
        set(&cache, format!("k{n}").as_bytes(), b"v");
    }
    cache.flush_all(0);
    assert_eq!(cache.item_count(), 0);
    assert_eq!(get(&cache, b"k1"), None);
    set(&cache, b"k1", b"after");
    assert_eq!(get(&cache, b"k1").unwrap(), b"after");
    assert_eq!(cache.item_count(), 1);
}

#[test]
fn flush_all_later_keeps_items_until_then_and_after() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    set(&cache, b"old", b"v");
    cache.flush_all(10);
    clock.advance(9);
    assert!(get(&cache, b"old").is_some());
    set(&cache, b"still-before", b"v");
    clock.advance(1);
    assert_eq!(get(&cache, b"old"), None);
    assert_eq!(get(&cache, b"still-before"), None);
    set(&cache, b"new", b"v");
    clock.advance(100);
    assert!(get(&cache, b"new").is_some(), "a flush applies once");
}

#[test]
fn key_limits_have_typed_errors_on_every_operation() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let long = vec![b'k'; MAX_KEY_LEN + 1];
    let max = vec![b'k'; MAX_KEY_LEN];
    set(&cache, &max, b"v");
    assert!(get(&cache, &max).is_some());
    let too_long = CacheError::KeyTooLong {
        len: MAX_KEY_LEN + 1,
    };
    for (key, error) in [(&b""[..], CacheError::KeyEmpty), (&long[..], too_long)] {
        assert_eq!(
            cache.store(StoreMode::Set, key, b"v", opts(0, 0)),
            Err(error)
        );
        assert_eq!(cache.get_into(key, &mut Vec::new()), Err(error));
        assert_eq!(cache.get_with(key, |_, _| ()), Err(error));
        assert_eq!(
            cache.get_and_touch_into(key, 0, &mut Vec::new()),
            Err(error)
        );
        assert_eq!(cache.delete(key, None), Err(error));
        assert_eq!(cache.incr(key, 1), Err(error));
        assert_eq!(cache.decr(key, 1), Err(error));
        assert_eq!(cache.touch(key, 1), Err(error));
        assert_eq!(
            cache.update_meta_bits(key, MetaBitsUpdate::default()),
            Err(error)
        );
    }
}

#[test]
fn value_over_the_item_limit_is_refused() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let limit = 64 << 10;
    let too_big = vec![0u8; limit];
    let result = cache.store(StoreMode::Set, b"k", &too_big, opts(0, 0));
    assert_eq!(result, Err(CacheError::ValueTooLarge { len: limit, limit }));
    let fits = vec![1u8; limit - 3 - 1 - 3];
    set(&cache, b"k", &fits);
    assert_eq!(get(&cache, b"k").unwrap(), fits);
}

#[test]
fn meta_bits_are_set_in_place() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    assert_eq!(
        cache.update_meta_bits(b"k", MetaBitsUpdate::default()),
        Err(CacheError::NotFound)
    );
    let cas = set(&cache, b"k", b"v");
    let update = MetaBitsUpdate {
        stale: Some(true),
        win_token_issued: Some(true),
    };
    let meta = cache.update_meta_bits(b"k", update).unwrap();
    assert!(meta.stale && meta.win_token_issued);
    assert_eq!(meta.cas, cas);
    let meta = cache
        .update_meta_bits(
            b"k",
            MetaBitsUpdate {
                stale: Some(false),
                win_token_issued: None,
            },
        )
        .unwrap();
    assert!(!meta.stale && meta.win_token_issued);
    let options = StoreOptions {
        stale: true,
        ..StoreOptions::default()
    };
    cache.store(StoreMode::Set, b"s", b"v", options).unwrap();
    assert!(cache.get_with(b"s", |_, m| m.stale).unwrap().unwrap());
}

#[test]
fn keep_ttl_keeps_the_old_expiry() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    set_ttl(&cache, b"k", b"v", 500);
    let options = StoreOptions {
        keep_ttl: true,
        exptime: 5,
        ..StoreOptions::default()
    };
    cache.store(StoreMode::Set, b"k", b"w", options).unwrap();
    let meta = cache.get_with(b"k", |_, m| *m).unwrap().unwrap();
    assert_eq!(meta.expiry_unix_secs, START_UNIX_SECS + 500);
    cache
        .store(StoreMode::Set, b"fresh", b"w", options)
        .unwrap();
    assert_eq!(
        cache.get_with(b"fresh", |_, m| m.expiry_unix_secs).unwrap(),
        Some(0)
    );
}

#[test]
fn config_errors_are_typed() {
    use tailcache_storage::{Cache, ConfigError};
    let base = Config {
        heap_size_bytes: 4 << 20,
        ..Config::default()
    };
    let check = |config: Config| Cache::new(config).unwrap_err();
    assert!(matches!(
        check(Config {
            segment_size_bytes: 100,
            ..base.clone()
        }),
        ConfigError::SegmentSize { .. }
    ));
    assert!(matches!(
        check(Config {
            segment_size_bytes: 1 << 30,
            ..base.clone()
        }),
        ConfigError::SegmentSize { .. }
    ));
    assert!(matches!(
        check(Config {
            item_size_limit_bytes: 0,
            ..base.clone()
        }),
        ConfigError::ItemSizeLimit { .. }
    ));
    assert!(matches!(
        check(Config {
            item_size_limit_bytes: 2 << 20,
            ..base.clone()
        }),
        ConfigError::ItemSizeLimit { .. }
    ));
    assert!(matches!(
        check(Config {
            heap_size_bytes: 1 << 20,
            ..base.clone()
        }),
        ConfigError::HeapTooSmall { .. }
    ));
    assert!(matches!(
        check(Config {
            shard_count: 3,
            ..base.clone()
        }),
        ConfigError::ShardCount { count: 3 }
    ));
    assert!(matches!(
        check(Config {
            shard_count: 512,
            ..base.clone()
        }),
        ConfigError::ShardCount { .. }
    ));
    assert!(matches!(
        check(Config {
            expected_item_size_bytes: 0,
            ..base.clone()
        }),
        ConfigError::ExpectedItemSize { .. }
    ));
    let huge = Config {
        heap_size_bytes: 2 << 40,
        segment_size_bytes: 1 << 20,
        ..base.clone()
    };
    assert!(matches!(check(huge), ConfigError::HeapTooLarge { .. }));
    let error = check(Config {
        shard_count: 3,
        ..base
    });
    assert!(error.to_string().contains("power of two"), "{error}");
}
