//! Property test: random operation sequences under the injected clock behave exactly
//! like a HashMap with memcached's semantics (eviction off, heap large enough).

mod common;

use proptest::prelude::*;
use std::collections::HashMap;
use tailcache_storage::{
    Cache, CacheError, Clock, Config, EvictionPolicy, ManualClock, StoreMode, StoreOptions,
};

#[derive(Debug, Clone)]
enum Op {
    Store {
        mode: u8,
        key: u8,
        value: Vec<u8>,
        flags: u32,
        exptime: i64,
        right_cas: bool,
    },
    Get {
        key: u8,
    },
    GetAndTouch {
        key: u8,
        exptime: i64,
    },
    Delete {
        key: u8,
    },
    Incr {
        key: u8,
        delta: u64,
        decrement: bool,
    },
    Touch {
        key: u8,
        exptime: i64,
    },
    Advance {
        secs: u32,
    },
    Flush {
        delay: u32,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    value: Vec<u8>,
    flags: u32,
    expiry: u32,
    cas: u64,
}

#[derive(Default)]
struct Model {
    items: HashMap<u8, Entry>,
    flush_at: Option<u32>,
}

fn parse_decimal(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?.trim_matches(' ');
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn expiry_of(exptime: i64, now: u32) -> Option<u32> {
    let at = match exptime {
        0 => return Some(0),
        e if e < 0 => return None,
        e if e <= 60 * 60 * 24 * 30 => now as i64 + e,
        e => e,
    };
    (at > now as i64).then(|| at.min(u32::MAX as i64) as u32)
}

impl Model {
    fn live(&mut self, key: u8, now: u32) -> Option<&mut Entry> {
        if let Some(at) = self.flush_at {
            if now >= at {
                self.items.clear();
                self.flush_at = None;
            }
        }
        let expired = matches!(self.items.get(&key), Some(e) if e.expiry != 0 && e.expiry <= now);
        if expired {
            self.items.remove(&key);
        }
        self.items.get_mut(&key)
    }
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let key = 0u8..6;
    let value = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        (0u64..1000).prop_map(|n| n.to_string().into_bytes()),
        Just(b"18446744073709551615".to_vec()),
        Just(b"007".to_vec()),
    ];
    let start = common::START_UNIX_SECS as i64;
    let exptime = prop_oneof![
        Just(0i64),
        Just(-1),
        1i64..10,
        Just(100),
        (start..start + 20),
        Just(2_592_000),
        Just(2_592_001)
    ];
    prop_oneof![
        4 => (0u8..6, key.clone(), value, any::<u32>(), exptime.clone(), any::<bool>())
            .prop_map(|(mode, key, value, flags, exptime, right_cas)| Op::Store { mode, key, value, flags, exptime, right_cas }),
        3 => key.clone().prop_map(|key| Op::Get { key }),
        1 => (key.clone(), exptime.clone()).prop_map(|(key, exptime)| Op::GetAndTouch { key, exptime }),
        1 => key.clone().prop_map(|key| Op::Delete { key }),
        2 => (key.clone(), prop_oneof![0u64..100, Just(u64::MAX)], any::<bool>())
            .prop_map(|(key, delta, decrement)| Op::Incr { key, delta, decrement }),
        1 => (key, exptime).prop_map(|(key, exptime)| Op::Touch { key, exptime }),
        1 => (0u32..4).prop_map(|secs| Op::Advance { secs }),
        1 => prop_oneof![Just(0u32), 1u32..4].prop_map(|delay| Op::Flush { delay }),
    ]
}

fn key_bytes(key: u8) -> Vec<u8> {
    format!("key-{key}").into_bytes()
}

fn run_store(cache: &Cache, model: &mut Model, now: u32, op: &Op) {
    let Op::Store {
        mode,
        key,
        value,
        flags,
        exptime,
        right_cas,
    } = op
    else {
        unreachable!()
    };
    let current = model.live(*key, now).cloned();
    let expected_cas = current
        .as_ref()
        .map_or(7, |e| if *right_cas { e.cas } else { e.cas ^ 1 });
    let mode = match mode {
        0 => StoreMode::Set,
        1 => StoreMode::Add,
        2 => StoreMode::Replace,
        3 => StoreMode::Append,
        4 => StoreMode::Prepend,
        _ => StoreMode::Cas(expected_cas),
    };
    let options = StoreOptions {
        client_flags: *flags,
        exptime: *exptime,
        ..StoreOptions::default()
    };
    let result = cache.store(mode, &key_bytes(*key), value, options);
    let expected: Result<(), CacheError> = match (mode, &current) {
        (StoreMode::Add, Some(_)) | (StoreMode::Replace, None) => Err(CacheError::NotStored),
        (StoreMode::Append | StoreMode::Prepend, None) => Err(CacheError::NotStored),
        (StoreMode::Cas(_), None) => Err(CacheError::NotFound),
        (StoreMode::Cas(_), Some(_)) if !right_cas => Err(CacheError::Exists),
        _ => Ok(()),
    };
    assert_eq!(result.map(|_| ()), expected, "{op:?}");
    let Ok(cas) = result else { return };
    let entry = match (mode, current) {
        (StoreMode::Append, Some(old)) => Some(Entry {
            value: [old.value, value.clone()].concat(),
            cas,
            ..old
        }),
        (StoreMode::Prepend, Some(old)) => Some(Entry {
            value: [value.clone(), old.value].concat(),
            cas,
            ..old
        }),
        _ => expiry_of(*exptime, now).map(|expiry| Entry {
            value: value.clone(),
            flags: *flags,
            expiry,
            cas,
        }),
    };
    match entry {
        Some(entry) => model.items.insert(*key, entry),
        None => model.items.remove(key),
    };
}

fn check_get(cache: &Cache, model: &mut Model, now: u32, key: u8) {
    let mut out = Vec::new();
    let meta = cache.get_into(&key_bytes(key), &mut out).unwrap();
    let expected = model.live(key, now).cloned();
    match (meta, expected) {
        (None, None) => {}
        (Some(meta), Some(entry)) => {
            assert_eq!(out, entry.value);
            assert_eq!(
                (meta.client_flags, meta.expiry_unix_secs, meta.cas),
                (entry.flags, entry.expiry, entry.cas)
            );
        }
        (got, want) => panic!("key {key}: engine {got:?}, model {want:?}"),
    }
}

fn run(ops: Vec<Op>) {
    let clock = std::sync::Arc::new(ManualClock::new(common::START_UNIX_SECS));
    let config = Config {
        heap_size_bytes: 16 << 20,
        segment_size_bytes: 64 << 10,
        item_size_limit_bytes: 64 << 10,
        eviction: EvictionPolicy::None,
        shard_count: 2,
        ..Config::default()
    };
    let cache = Cache::with_clock(config, clock.clone()).unwrap();
    let mut model = Model::default();
    for op in &ops {
        let now = clock.now_unix_secs();
        match op {
            Op::Store { .. } => run_store(&cache, &mut model, now, op),
            Op::Get { key } => check_get(&cache, &mut model, now, *key),
            Op::GetAndTouch { key, exptime } => {
                let present = model.live(*key, now).is_some();
                let mut out = Vec::new();
                let meta = cache
                    .get_and_touch_into(&key_bytes(*key), *exptime, &mut out)
                    .unwrap();
                assert_eq!(meta.is_some(), present, "{op:?}");
                touch_model(&mut model, *key, *exptime, now);
            }
            Op::Delete { key } => {
                let present = model.live(*key, now).is_some();
                let expected = if present {
                    Ok(())
                } else {
                    Err(CacheError::NotFound)
                };
                assert_eq!(cache.delete(&key_bytes(*key), None), expected);
                model.items.remove(key);
            }
            Op::Incr {
                key,
                delta,
                decrement,
            } => run_incr(&cache, &mut model, now, *key, *delta, *decrement),
            Op::Touch { key, exptime } => {
                let present = model.live(*key, now).is_some();
                let expected = if present {
                    Ok(())
                } else {
                    Err(CacheError::NotFound)
                };
                assert_eq!(cache.touch(&key_bytes(*key), *exptime), expected);
                touch_model(&mut model, *key, *exptime, now);
            }
            Op::Advance { secs } => clock.advance(*secs),
            Op::Flush { delay } => {
                cache.flush_all(*delay);
                model.live(0, now); // a due flush happens before a new one replaces it
                if *delay == 0 {
                    model.items.clear();
                    model.flush_at = None;
                } else {
                    model.flush_at = Some(now + delay);
                }
            }
        }
    }
    let now = clock.now_unix_secs();
    for key in 0..6 {
        check_get(&cache, &mut model, now, key);
    }
    let live = (0..6).filter(|key| model.live(*key, now).is_some()).count();
    assert!(
        cache.item_count() >= live as u64,
        "expired items may still be counted until reclaimed"
    );
}

fn touch_model(model: &mut Model, key: u8, exptime: i64, now: u32) {
    let Some(entry) = model.live(key, now) else {
        return;
    };
    match expiry_of(exptime, now) {
        Some(expiry) => entry.expiry = expiry,
        None => {
            model.items.remove(&key);
        }
    }
}

fn run_incr(cache: &Cache, model: &mut Model, now: u32, key: u8, delta: u64, decrement: bool) {
    let result = if decrement {
        cache.decr(&key_bytes(key), delta)
    } else {
        cache.incr(&key_bytes(key), delta)
    };
    let Some(entry) = model.live(key, now) else {
        assert_eq!(result, Err(CacheError::NotFound));
        return;
    };
    let Some(current) = parse_decimal(&entry.value) else {
        assert_eq!(result, Err(CacheError::NonNumeric));
        return;
    };
    let new = if decrement {
        current.saturating_sub(delta)
    } else {
        current.wrapping_add(delta)
    };
    assert_eq!(result, Ok(new));
    entry.value = new.to_string().into_bytes();
    entry.cas = cache
        .get_with(&key_bytes(key), |_, meta| meta.cas)
        .unwrap()
        .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn engine_matches_model(ops in proptest::collection::vec(op_strategy(), 1..120)) {
        run(ops);
    }
}
