//! Warm restart through the public API: a clean save restores every item exactly,
//! and anything the engine cannot vouch for starts it empty.

mod common;

use common::START_UNIX_SECS;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tailcache_storage::{
    Arithmetic, Cache, Config, EmptyReason, EvictionPolicy, Expiry, HeapFileError, ManualClock,
    StepBudget, StoreMode, StoreOptions, WarmStart,
};

fn config() -> Config {
    Config {
        heap_size_bytes: 8 << 20,
        segment_size_bytes: 64 << 10,
        item_size_limit_bytes: 64 << 10,
        ..Config::default()
    }
}

/// A heap file path of its own for each test, removed (with anything kept aside)
/// when the test ends.
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> TempPath {
        let dir = std::env::temp_dir().join(format!("tc-warm-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempPath(dir.join("heap"))
    }

    fn kept_aside(&self) -> PathBuf {
        PathBuf::from(format!("{}.incompatible", self.0.display()))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
    }
}

fn open(path: &Path, config: Config, clock: &Arc<ManualClock>) -> (Cache, WarmStart) {
    Cache::open_heap_file_with_clock(config, path, clock.clone()).expect("opens")
}

fn value_of(i: u32) -> Vec<u8> {
    let len = (i as usize * 37) % 300;
    (0..len).map(|j| (i as usize + j * 13) as u8).collect()
}

/// TTL of item `i`: never, 10 s, 1 000 s or 100 000 s.
fn ttl_of(i: u32) -> u32 {
    [0, 10, 1_000, 100_000][i as usize % 4]
}

fn fill(cache: &Cache, count: u32) -> Vec<u64> {
    (0..count)
        .map(|i| {
            let options = StoreOptions {
                client_flags: i.wrapping_mul(7),
                expiry: match ttl_of(i) {
                    0 => Expiry::Never,
                    ttl => Expiry::after_secs(cache.now_unix_secs(), ttl),
                },
                ..StoreOptions::default()
            };
            let key = format!("key:{i}");
            cache
                .store(StoreMode::Set, key.as_bytes(), &value_of(i), options)
                .expect("fits")
                .cas
        })
        .collect()
}

#[test]
fn a_clean_restart_brings_back_every_item_with_its_flags_ttl_and_cas() {
    let path = TempPath::new("clean");
    let clock = Arc::new(ManualClock::new(START_UNIX_SECS));
    let (cache, start) = open(&path.0, config(), &clock);
    assert_eq!(start, WarmStart::Empty(EmptyReason::NewFile));
    let count = 20_000;
    let cas = fill(&cache, count);
    cache.delete(b"key:1", Default::default()).unwrap();
    let counter = cache
        .store(StoreMode::Set, b"counter", b"41", StoreOptions::default())
        .unwrap();
    let report = cache.save_heap_file().expect("saves");
    assert_eq!(report.items, u64::from(count));
    drop(cache);

    clock.advance(50);
    let (cache, start) = open(&path.0, config(), &clock);
    assert!(
        matches!(start, WarmStart::Restored { items, .. } if items == u64::from(count)),
        "{start:?}"
    );
    cache.check_invariants().expect("consistent after restore");
    let mut out = Vec::new();
    for i in 0..count {
        out.clear();
        let found = cache
            .get_into(format!("key:{i}").as_bytes(), &mut out)
            .unwrap();
        if i == 1 || ttl_of(i) == 10 {
            assert_eq!(found, None, "key:{i} was deleted or expired while down");
            continue;
        }
        let meta = found.unwrap_or_else(|| panic!("key:{i} lost"));
        assert_eq!(out, value_of(i), "key:{i}");
        assert_eq!(meta.client_flags, i.wrapping_mul(7));
        assert_eq!(meta.cas, cas[i as usize], "key:{i} keeps its CAS");
        let expected_expiry = match ttl_of(i) {
            0 => Expiry::Never,
            ttl => Expiry::At(START_UNIX_SECS + ttl),
        };
        assert_eq!(meta.expiry, expected_expiry, "key:{i} keeps its TTL");
    }
    // A `gets` before the restart and a `cas` after it: as if no restart happened.
    let swap = StoreOptions {
        compare_cas: Some(counter.cas),
        ..StoreOptions::default()
    };
    let swapped = cache
        .store(StoreMode::Set, b"counter", b"42", swap)
        .unwrap();
    assert!(
        swapped.cas > counter.cas,
        "a key's new CAS stays above its old one"
    );
    assert_eq!(
        cache.store(StoreMode::Set, b"counter", b"43", swap),
        Err(tailcache_storage::CacheError::Exists)
    );
    let incremented = cache
        .arithmetic(
            b"counter",
            Arithmetic {
                delta: 1,
                ..Arithmetic::default()
            },
        )
        .unwrap();
    assert_eq!(incremented.value, 43);
}

#[test]
fn an_engine_that_never_saved_restarts_empty_and_healthy() {
    let path = TempPath::new("crash");
    let clock = Arc::new(ManualClock::new(START_UNIX_SECS));
    let (cache, _) = open(&path.0, config(), &clock);
    fill(&cache, 1_000);
    drop(cache); // as after kill -9: no save, the header still says "in use"
    let (cache, start) = open(&path.0, config(), &clock);
    assert_eq!(start, WarmStart::Empty(EmptyReason::NotShutDownCleanly));
    assert_eq!(cache.item_count(), 0);
    assert_eq!(cache.get_meta(b"key:0").unwrap(), None);
    cache.check_invariants().unwrap();
    fill(&cache, 1_000);
    cache.save_heap_file().unwrap();
    drop(cache);
    let (_, start) = open(&path.0, config(), &clock);
    assert!(
        matches!(start, WarmStart::Restored { items: 1_000, .. }),
        "{start:?}"
    );
}

/// Flips one bit of the file at `at`.
fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x04;
    std::fs::write(path, bytes).unwrap();
}

fn saved_with_marker(path: &Path, clock: &Arc<ManualClock>) -> usize {
    let (cache, _) = open(path, config(), clock);
    fill(&cache, 500);
    let marker = b"a value no other item has: 7f3a9c";
    cache
        .store(StoreMode::Set, b"marked", marker, StoreOptions::default())
        .unwrap();
    cache.save_heap_file().unwrap();
    drop(cache);
    let bytes = std::fs::read(path).unwrap();
    bytes
        .windows(marker.len())
        .position(|window| window == marker)
        .expect("the value is in the file")
}

#[test]
fn a_flipped_value_byte_is_detected_and_the_engine_starts_empty() {
    let path = TempPath::new("flip-value");
    let clock = Arc::new(ManualClock::new(START_UNIX_SECS));
    let at = saved_with_marker(&path.0, &clock);
    flip(&path.0, at + 5);
    let (cache, start) = open(&path.0, config(), &clock);
    assert_eq!(start, WarmStart::Empty(EmptyReason::ChecksumMismatch));
    assert_eq!(cache.get_meta(b"marked").unwrap(), None);
    assert_eq!(cache.item_count(), 0);
    cache.check_invariants().unwrap();
}

#[test]
fn a_flipped_header_byte_is_detected() {
    let path = TempPath::new("flip-header");
    let clock = Arc::new(ManualClock::new(START_UNIX_SECS));
    saved_with_marker(&path.0, &clock);
    flip(&path.0, 30);
    let (cache, start) = open(&path.0, config(), &clock);
    assert_eq!(start, WarmStart::Empty(EmptyReason::CorruptHeader));
    assert_eq!(cache.item_count(), 0);
}

#[test]
fn a_changed_configuration_starts_empty_and_keeps_the_old_file() {
    let path = TempPath::new("config");
    let clock = Arc::new(ManualClock::new(START_UNIX_SECS));
    saved_with_marker(&path.0, &clock);
    let bigger = Config {
        heap_size_bytes: 16 << 20,
        ..config()
    };
    let (cache, start) = open(&path.0, bigger, &clock);
    let WarmStart::Empty(EmptyReason::KeptAside { why, kept_at }) = start else {
        panic!("{start:?}");
    };
    assert!(why.contains("memory limit"), "{why}");
    assert_eq!(kept_at, path.kept_aside());
    assert_eq!(cache.item_count(), 0);
    drop(cache);
    // The old file is whole: with its own configuration it restores.
    std::fs::rename(path.kept_aside(), &path.0).unwrap();
    let (cache, start) = open(&path.0, config(), &clock);
    assert!(
        matches!(start, WarmStart::Restored { items: 501, .. }),
        "{start:?}"
    );
    assert!(cache.get_meta(b"marked").unwrap().is_some());
}

#[test]
fn a_file_that_is_not_a_heap_file_is_kept_aside_untouched() {
    let path = TempPath::new("foreign");
    std::fs::write(&path.0, b"someone's notes\n").unwrap();
    let clock = Arc::new(ManualClock::new(START_UNIX_SECS));
    let (_, start) = open(&path.0, config(), &clock);
    assert!(
        matches!(&start, WarmStart::Empty(EmptyReason::KeptAside { why, .. }) if why.contains("not a tailcache heap file")),
        "{start:?}"
    );
    assert_eq!(
        std::fs::read(path.kept_aside()).unwrap(),
        b"someone's notes\n"
    );
}

#[test]
fn two_engines_cannot_share_a_heap_file() {
    let path = TempPath::new("shared");
    let clock = Arc::new(ManualClock::new(START_UNIX_SECS));
    let (_first, _) = open(&path.0, config(), &clock);
    let second = Cache::open_heap_file_with_clock(config(), &path.0, clock.clone());
    assert!(
        matches!(second, Err(HeapFileError::InUse { .. })),
        "{second:?}"
    );
}

#[test]
fn a_delayed_flush_still_happens_after_the_restart() {
    let path = TempPath::new("flush");
    let clock = Arc::new(ManualClock::new(START_UNIX_SECS));
    let (cache, _) = open(&path.0, config(), &clock);
    fill(&cache, 100);
    cache.flush_all_at(START_UNIX_SECS + 100);
    cache.save_heap_file().unwrap();
    drop(cache);
    let (cache, _) = open(&path.0, config(), &clock);
    assert!(cache.get_meta(b"key:0").unwrap().is_some());
    clock.advance(100);
    assert_eq!(cache.get_meta(b"key:0").unwrap(), None);
}

fn evicting_value(i: u64) -> Vec<u8> {
    i.to_le_bytes().repeat(1 + (i % 40) as usize)
}

/// Writes keys `from..to` into a full cache, with background steps between them,
/// then leaves a background job half done.
fn churn(cache: &Cache, from: u64, to: u64) {
    for i in from..to {
        let key = format!("evict:{i}");
        cache
            .store(
                StoreMode::Set,
                key.as_bytes(),
                &evicting_value(i),
                StoreOptions::default(),
            )
            .expect("evicts to make room");
        if i % 64 == 0 {
            cache.maintenance_step(StepBudget { max_items: 16 });
        }
    }
    cache.maintenance_step(StepBudget { max_items: 3 });
}

fn check_survivors(cache: &Cache, to: u64) -> usize {
    let mut out = Vec::new();
    let mut found = 0;
    for i in 0..to {
        out.clear();
        if cache
            .get_into(format!("evict:{i}").as_bytes(), &mut out)
            .unwrap()
            .is_some()
        {
            assert_eq!(out, evicting_value(i), "evict:{i}");
            found += 1;
        }
    }
    found
}

#[test]
fn a_full_evicting_cache_restarts_mid_job_and_keeps_evicting() {
    for policy in [EvictionPolicy::Merge, EvictionPolicy::Fifo] {
        let path = TempPath::new(&format!("evict-{policy:?}"));
        let clock = Arc::new(ManualClock::new(START_UNIX_SECS));
        let config = Config {
            eviction: policy,
            ..config()
        };
        let (cache, _) = open(&path.0, config.clone(), &clock);
        churn(&cache, 0, 60_000);
        // Saving finishes the job in progress; reading after it would bump read
        // counters in the index and fail the checksum, so count only what it saved.
        cache.save_heap_file().unwrap();
        let items = cache.item_count();
        assert!(
            items > 10_000 && items < 60_000,
            "{items} survivors: the cache must evict"
        );
        drop(cache);
        for round in 1..3u64 {
            let (cache, start) = open(&path.0, config.clone(), &clock);
            assert!(
                matches!(start, WarmStart::Restored { .. }),
                "{policy:?} round {round}: {start:?}"
            );
            cache.check_invariants().unwrap();
            if round == 1 {
                assert_eq!(cache.item_count(), items);
                assert_eq!(check_survivors(&cache, 60_000) as u64, items);
            }
            churn(&cache, round * 60_000, (round + 1) * 60_000);
            cache.check_invariants().unwrap();
            assert!(check_survivors(&cache, (round + 1) * 60_000) > 10_000);
            cache.save_heap_file().unwrap();
        }
    }
}
