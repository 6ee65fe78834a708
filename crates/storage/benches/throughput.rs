//! Throughput side by side with Pelikan's `segcache` crate, in one process: get hit,
//! get miss and set with 16-byte keys and 32-byte / 1 KiB values, on one and two threads.
//! Both engines get 64 MiB and are shared by reference (both are `Sync`).
//!
//! Run: `cargo bench -p tailcache-storage --bench throughput`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tailcache_storage::{Cache, StoreMode, StoreOptions};

#[path = "common/engines.rs"]
mod engines;

use engines::{key, ours, theirs, KEYS};

/// The operations measured, for both engines.
trait Engine: Sync {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> bool;
    fn set(&self, key: &[u8], value: &[u8]);
}

impl Engine for Cache {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        self.get_into(key, out).unwrap().is_some()
    }
    fn set(&self, key: &[u8], value: &[u8]) {
        self.store(StoreMode::Set, key, value, StoreOptions::default())
            .unwrap();
    }
}

impl Engine for segcache::Segcache {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        match self.get(key) {
            Some(item) => {
                if let segcache::Value::Bytes(bytes) = item.value() {
                    out.extend_from_slice(bytes);
                }
                true
            }
            None => false,
        }
    }
    fn set(&self, key: &[u8], value: &[u8]) {
        self.insert(key, value, None, Duration::ZERO).unwrap();
    }
}

#[derive(Clone, Copy)]
enum Op {
    GetHit,
    GetMiss,
    Set,
}

/// Runs `iters` operations on each of `threads` threads; returns the wall time.
fn run<E: Engine>(engine: &E, op: Op, value: &[u8], threads: usize, iters: u64) -> Duration {
    let keys_hit: Vec<[u8; 16]> = (0..KEYS).map(|n| key(n, true)).collect();
    let keys_miss: Vec<[u8; 16]> = (0..KEYS).map(|n| key(n, false)).collect();
    let work = |thread: usize| {
        let mut out = Vec::with_capacity(value.len());
        let mut at = thread * KEYS / 2;
        for _ in 0..iters {
            at = if at + 1 == KEYS { 0 } else { at + 1 };
            match op {
                Op::GetHit => assert!(engine.get(&keys_hit[at], &mut out)),
                Op::GetMiss => assert!(!engine.get(&keys_miss[at], &mut out)),
                Op::Set => engine.set(&keys_hit[at], value),
            }
            black_box(&out);
        }
    };
    let start = Instant::now();
    if threads == 1 {
        work(0);
    } else {
        std::thread::scope(|scope| {
            for thread in 0..threads {
                scope.spawn(move || work(thread));
            }
        });
    }
    start.elapsed()
}

/// Each measurement of ours is followed at once by the same one of segcache's, so
/// load changes on a shared machine hit both alike.
fn throughput(c: &mut Criterion) {
    let (ours, theirs) = (ours(), theirs());
    for value_len in [32usize, 1024] {
        let value = vec![b'v'; value_len];
        for n in 0..KEYS {
            Engine::set(&ours, &key(n, true), &value);
            Engine::set(&theirs, &key(n, true), &value);
        }
        for (op_name, op) in [
            ("get_hit", Op::GetHit),
            ("get_miss", Op::GetMiss),
            ("set", Op::Set),
        ] {
            for threads in [1usize, 2] {
                let mut group = c.benchmark_group(format!("{op_name}/{value_len}B/{threads}t"));
                group.throughput(Throughput::Elements(threads as u64));
                group.bench_function(BenchmarkId::from_parameter("tailcache"), |b| {
                    b.iter_custom(|iters| run(&ours, op, &value, threads, iters))
                });
                group.bench_function(BenchmarkId::from_parameter("segcache"), |b| {
                    b.iter_custom(|iters| run(&theirs, op, &value, threads, iters))
                });
                group.finish();
            }
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(10);
    targets = throughput
}
criterion_main!(benches);
