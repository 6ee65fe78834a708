//! Compound operations decided in one step: win tokens, invalidation, compare-and-
//! increment, vivify. Each is one engine call, so racing clients never both win.

mod common;

use common::*;
use std::sync::Barrier;
use tailcache_storage::{
    Arithmetic, Cache, CacheError, DeleteOptions, EvictionPolicy, Expiry, ReadOptions, StepBudget,
    StoreMode, StoreOptions,
};

fn vivify(ttl_secs: u32) -> ReadOptions {
    ReadOptions {
        vivify_on_miss: Some(expiry_in(ttl_secs)),
        win_tokens: true,
        ..ReadOptions::default()
    }
}

#[test]
fn a_vivified_miss_wins_once_and_later_readers_see_z() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let mut out = Vec::new();
    let first = cache
        .read(b"k", vivify(30), Some(&mut out))
        .unwrap()
        .unwrap();
    assert!(first.created && first.won && !first.token_already_sent);
    assert_eq!((out.len(), first.meta.expiry), (0, expiry_in(30)));
    assert!(!first.meta.hit_before);
    let second = cache
        .read(b"k", vivify(30), Some(&mut out))
        .unwrap()
        .unwrap();
    assert!(!second.created && !second.won && second.token_already_sent);
    assert!(
        second.meta.hit_before,
        "the vivifying read counted as a fetch"
    );
    let plain = ReadOptions {
        win_tokens: true,
        ..ReadOptions::default()
    };
    let third = cache.read(b"k", plain, None).unwrap().unwrap();
    assert!(third.token_already_sent && !third.won);
    assert_eq!(cache.read(b"absent", plain, None).unwrap(), None);
}

#[test]
fn racing_vivifying_reads_hand_out_exactly_one_win() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let threads = 6;
    for round in 0..200u32 {
        let key = format!("race-{round}");
        let barrier = Barrier::new(threads);
        let wins: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        let outcome = cache
                            .read(key.as_bytes(), vivify(30), None)
                            .unwrap()
                            .unwrap();
                        usize::from(outcome.won)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(wins, 1, "round {round}");
    }
    assert_invariants(&cache);
}

#[test]
fn recache_wins_below_the_ttl_threshold_once() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    cache
        .store(StoreMode::Set, b"k", b"v", opts(0, 100))
        .unwrap();
    let recache = ReadOptions {
        recache_before_unix_secs: Some(START_UNIX_SECS + 30),
        win_tokens: true,
        ..ReadOptions::default()
    };
    let early = cache.read(b"k", recache, None).unwrap().unwrap();
    assert!(
        !early.won && !early.token_already_sent,
        "100 s left is not below 30"
    );
    clock.advance(80);
    let recache = ReadOptions {
        recache_before_unix_secs: Some(START_UNIX_SECS + 80 + 30),
        ..recache
    };
    let won = cache.read(b"k", recache, None).unwrap().unwrap();
    assert!(won.won && !won.token_already_sent);
    let later = cache.read(b"k", recache, None).unwrap().unwrap();
    assert!(!later.won && later.token_already_sent);
    set(&cache, b"never", b"v");
    assert!(
        !cache.read(b"never", recache, None).unwrap().unwrap().won,
        "no TTL, no recache"
    );
}

#[test]
fn invalidation_marks_stale_bumps_cas_and_the_next_reader_wins() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let stored = cache
        .store(StoreMode::Set, b"k", b"old", opts(5, 100))
        .unwrap();
    let invalidate = DeleteOptions {
        invalidate: true,
        invalidate_expiry: Some(expiry_in(20)),
        ..DeleteOptions::default()
    };
    cache.delete(b"k", invalidate).unwrap();
    let after = meta(&cache, b"k").unwrap();
    assert!(after.stale && !after.win_token_sent);
    assert!(after.cas > stored.cas);
    assert_eq!((after.client_flags, after.expiry), (5, expiry_in(20)));
    let tokens = ReadOptions {
        win_tokens: true,
        ..ReadOptions::default()
    };
    let mut out = Vec::new();
    let first = cache.read(b"k", tokens, Some(&mut out)).unwrap().unwrap();
    assert!(first.meta.stale && first.won && !first.token_already_sent);
    assert_eq!(out, b"old", "stale data is still served");
    let second = cache.read(b"k", tokens, None).unwrap().unwrap();
    assert!(second.meta.stale && !second.won && second.token_already_sent);
    // A plain get takes no part in tokens.
    assert!(get(&cache, b"k").is_some());
    assert_invariants(&cache);
}

#[test]
fn an_older_cas_with_stale_if_older_lands_stale_and_keeps_ttl_and_token() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let first = cache
        .store(StoreMode::Set, b"k", b"v1", opts(0, 100))
        .unwrap();
    let second = cache
        .store(StoreMode::Set, b"k", b"v2", opts(0, 200))
        .unwrap();
    cache.read(b"k", vivify(0), None).unwrap();
    let claim = ReadOptions {
        recache_before_unix_secs: Some(u32::MAX),
        ..ReadOptions::default()
    };
    assert!(cache.read(b"k", claim, None).unwrap().unwrap().won);
    let older = StoreOptions {
        compare_cas: Some(first.cas),
        stale_if_older: true,
        expiry: expiry_in(5),
        ..StoreOptions::default()
    };
    let stored = cache.store(StoreMode::Set, b"k", b"late", older).unwrap();
    assert!(stored.stale && stored.win_token_sent);
    assert_eq!(stored.expiry, expiry_in(200), "the item's TTL is kept");
    assert_eq!(get(&cache, b"k").unwrap(), b"late");
    let newer = StoreOptions {
        compare_cas: Some(stored.cas + 1_000_000),
        stale_if_older: true,
        ..StoreOptions::default()
    };
    assert_eq!(
        cache.store(StoreMode::Set, b"k", b"x", newer),
        Err(CacheError::Exists)
    );
    assert!(second.cas < stored.cas);
}

#[test]
fn drop_value_keeps_an_empty_item_with_its_flags() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    cache
        .store(StoreMode::Set, b"k", b"payload", opts(9, 60))
        .unwrap();
    let drop_value = DeleteOptions {
        drop_value: true,
        ..DeleteOptions::default()
    };
    cache.delete(b"k", drop_value).unwrap();
    let after = meta(&cache, b"k").unwrap();
    assert_eq!(
        (after.value_len, after.client_flags, after.expiry),
        (0, 9, expiry_in(60))
    );
    assert_eq!(get(&cache, b"k").unwrap(), b"");
}

#[test]
fn no_bump_reads_leave_hit_before_alone() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    set(&cache, b"k", b"v");
    let quiet = ReadOptions {
        no_bump: true,
        ..ReadOptions::default()
    };
    for _ in 0..3 {
        assert!(
            !cache
                .read(b"k", quiet, None)
                .unwrap()
                .unwrap()
                .meta
                .hit_before
        );
    }
    let loud = ReadOptions::default();
    assert!(
        !cache
            .read(b"k", loud, None)
            .unwrap()
            .unwrap()
            .meta
            .hit_before
    );
    assert!(
        cache
            .read(b"k", loud, None)
            .unwrap()
            .unwrap()
            .meta
            .hit_before
    );
}

#[test]
fn arithmetic_compares_cas_vivifies_and_touches_in_one_step() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    let create = Arithmetic {
        delta: 5,
        vivify: Some((100, expiry_in(40))),
        ..Arithmetic::default()
    };
    let created = cache.arithmetic(b"n", create).unwrap();
    assert!(created.created);
    assert_eq!(
        created.value, 100,
        "the delta is not applied to a new counter"
    );
    assert_eq!(created.meta.expiry, expiry_in(40));
    let wrong = Arithmetic {
        delta: 1,
        compare_cas: Some(created.meta.cas + 7),
        ..Arithmetic::default()
    };
    assert_eq!(cache.arithmetic(b"n", wrong), Err(CacheError::Exists));
    let right = Arithmetic {
        delta: 1,
        compare_cas: Some(created.meta.cas),
        touch: Some(Expiry::Never),
        ..Arithmetic::default()
    };
    let done = cache.arithmetic(b"n", right).unwrap();
    assert_eq!(
        (done.value, done.created, done.meta.expiry),
        (101, false, Expiry::Never)
    );
    assert!(done.meta.cas > created.meta.cas);
    assert_eq!(get(&cache, b"n").unwrap(), b"101");
}

#[test]
fn concurrent_increments_sum_exactly() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    set(&cache, b"counter", b"0");
    let (threads, each) = (4u64, 5_000u64);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..each {
                    let one = Arithmetic {
                        delta: 1,
                        ..Arithmetic::default()
                    };
                    cache.arithmetic(b"counter", one).unwrap();
                }
            });
        }
    });
    assert_eq!(
        get(&cache, b"counter").unwrap(),
        (threads * each).to_string().as_bytes()
    );
    settle(&cache);
    assert_invariants(&cache);
}

#[test]
fn cas_increment_loops_from_several_threads_sum_exactly() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    set(&cache, b"counter", b"0");
    let (threads, each) = (4u64, 3_000u64);
    let retries: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut retries = 0;
                    for _ in 0..each {
                        loop {
                            let mut out = Vec::new();
                            let meta = cache.get_into(b"counter", &mut out).unwrap().unwrap();
                            let next: u64 =
                                std::str::from_utf8(&out).unwrap().parse::<u64>().unwrap() + 1;
                            let options = StoreOptions {
                                compare_cas: Some(meta.cas),
                                ..StoreOptions::default()
                            };
                            match cache.store(
                                StoreMode::Set,
                                b"counter",
                                next.to_string().as_bytes(),
                                options,
                            ) {
                                Ok(_) => break,
                                Err(CacheError::Exists) => retries += 1,
                                Err(other) => panic!("{other}"),
                            }
                        }
                    }
                    retries
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(
        get(&cache, b"counter").unwrap(),
        (threads * each).to_string().as_bytes()
    );
    eprintln!("{retries} CAS retries");
}

/// memcached's item time (meta `l`): set by the write, kept by the first read and by
/// reads that do not bump, moved to now by the second read, kept by a touch.
#[test]
fn last_access_follows_memcached_item_time() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    let last_access = |options: ReadOptions| {
        cache
            .read(b"k", options, None)
            .unwrap()
            .unwrap()
            .meta
            .last_access_unix_secs
    };
    set(&cache, b"k", b"v");
    let written = START_UNIX_SECS;
    clock.advance(5);
    let quiet = ReadOptions {
        no_bump: true,
        ..ReadOptions::default()
    };
    assert_eq!(last_access(quiet), written, "a quiet read changes nothing");
    assert_eq!(last_access(ReadOptions::default()), written, "first read");
    clock.advance(5);
    assert_eq!(
        last_access(ReadOptions::default()),
        written,
        "second read, before"
    );
    assert_eq!(
        last_access(quiet),
        written + 10,
        "the second read stamped now"
    );
    clock.advance(5);
    assert_eq!(
        last_access(ReadOptions::default()),
        written + 10,
        "later reads keep it"
    );
    assert_eq!(last_access(quiet), written + 10);
    cache.touch(b"k", expiry_in(1000)).unwrap();
    assert_eq!(
        last_access(quiet),
        written + 10,
        "a touch moves the item, not its time"
    );
    clock.advance(3);
    set(&cache, b"k", b"w");
    assert_eq!(
        last_access(quiet),
        written + 18,
        "a new value is accessed now"
    );
}

/// An item keeps its access time when a merge copies it to another segment, and
/// times far past the segment's time base saturate instead of wrapping.
#[test]
fn last_access_survives_merge_and_saturates() {
    let (cache, clock) = small_cache(EvictionPolicy::Merge);
    set(&cache, b"kept", b"v");
    // Read twice so the merge keeps it, stamping the time of the second read.
    get(&cache, b"kept").unwrap();
    clock.advance(7);
    get(&cache, b"kept").unwrap();
    let stamped = START_UNIX_SECS + 7;
    let meta = |cache: &Cache| cache.get_meta(b"kept").unwrap().unwrap();
    assert_eq!(meta(&cache).last_access_unix_secs, stamped);
    // Fill the cache several times over so the item's segment is merged.
    let value = vec![b'x'; 1000];
    for n in 0..20_000u32 {
        set(&cache, format!("fill:{n}").as_bytes(), &value);
        if n % 64 == 0 {
            get(&cache, b"kept").unwrap();
            cache.maintenance_step(StepBudget { max_items: 256 });
        }
    }
    assert!(cache.stats().merge_kept_items > 0, "no merge ran");
    let after = meta(&cache).last_access_unix_secs;
    assert_eq!(after, stamped, "merge kept the access time");
    cache.check_invariants().unwrap();
    // Two bytes count 18 hours from a segment's time base: a write 20 hours after
    // its segment opened reads as older than it is, never newer, and never wraps.
    clock.advance(20 * 3600);
    set(&cache, b"late", b"v");
    let late = cache
        .get_meta(b"late")
        .unwrap()
        .unwrap()
        .last_access_unix_secs;
    let now = START_UNIX_SECS + 7 + 20 * 3600;
    assert!(late < now && late >= START_UNIX_SECS + 12 * 3600, "{late}");
}

/// A counter rewritten no longer than it was is memcached's in-place rewrite: padded
/// with spaces, keeping its marks (stale here); a longer result is a new item
/// without them.
#[test]
fn counters_rewritten_in_place_keep_their_marks() {
    let (cache, _) = small_cache(EvictionPolicy::Merge);
    set(&cache, b"n", b"100");
    let invalidate = DeleteOptions {
        invalidate: true,
        ..DeleteOptions::default()
    };
    cache.delete(b"n", invalidate).unwrap();
    let down = Arithmetic {
        delta: 95,
        decrement: true,
        ..Arithmetic::default()
    };
    let outcome = cache.arithmetic(b"n", down).unwrap();
    assert_eq!(outcome.value, 5);
    assert!(outcome.meta.stale, "in place: still stale");
    assert_eq!(get(&cache, b"n").unwrap(), b"5  ");
    let up = Arithmetic {
        delta: 99_995,
        ..Arithmetic::default()
    };
    let outcome = cache.arithmetic(b"n", up).unwrap();
    assert_eq!(outcome.value, 100_000);
    assert!(!outcome.meta.stale, "a longer number is a new item");
    assert_eq!(get(&cache, b"n").unwrap(), b"100000");
}
