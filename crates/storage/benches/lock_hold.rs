//! How long index buckets are held under a full, evicting cache: the engine's own
//! lock-hold histogram (every hold, by writers and by background jobs), read after a
//! workload like the issue's: 64 MiB, 16-byte keys with 100-byte values, five times
//! more keys than fit, half gets and half sets from two threads, each of which also
//! runs maintenance steps between batches of requests, as a server's workers do
//! between polls (two threads on two cores: no thread waits for a core, so what is
//! measured is the engine, not the scheduler).
//!
//! Run: `cargo bench -p tailcache-storage --bench lock_hold` (`LOCK_HOLD_ROUNDS=n`,
//! default 3; `LOCK_HOLD_SECS=s` per round, default 3).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tailcache_storage::{
    Cache, Config, EvictionPolicy, Expiry, LockHoldSnapshot, StepBudget, StoreMode, StoreOptions,
};

const HEAP_BYTES: usize = 64 << 20;
const VALUE_BYTES: usize = 100;
/// About five times what 64 MiB holds at 16 + 100 bytes per item.
const KEYS: u64 = 2_000_000;

fn key(n: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(b"key:");
    key[4..].copy_from_slice(format!("{n:012}").as_bytes());
    key
}

/// One worker thread: batches of requests on uniform random keys, half gets and half
/// sets, each batch followed by up to 0.5 ms of maintenance (the runtime's quota).
fn worker(cache: &Cache, seed: u64, stop: &AtomicBool, ttl_secs: u32) -> u64 {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(VALUE_BYTES);
    let value = [b'v'; VALUE_BYTES];
    let mut ops = 0;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..256 {
            // xorshift: cheap and good enough to spread keys.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let n = state % KEYS;
            if state & (1 << 40) == 0 {
                out.clear();
                let _ = cache.get_into(&key(n), &mut out);
            } else {
                let expiry = match ttl_secs {
                    0 => Expiry::Never,
                    secs => Expiry::after_secs(cache.now_unix_secs(), secs),
                };
                let options = StoreOptions {
                    expiry,
                    ..StoreOptions::default()
                };
                cache
                    .store(StoreMode::Set, &key(n), &value, options)
                    .expect("a full cache takes writes");
            }
            ops += 1;
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_micros(500) {
            if !cache
                .maintenance_step(StepBudget { max_items: 256 })
                .more_work
            {
                break;
            }
        }
    }
    ops
}

/// Runs the workload for `duration` after filling the cache; returns the histogram
/// of the measured part only, ops done, and inline evictions during it.
fn round(
    eviction: EvictionPolicy,
    ttl_secs: u32,
    duration: Duration,
) -> (LockHoldSnapshot, u64, u64) {
    let cache = Cache::new(Config {
        heap_size_bytes: HEAP_BYTES,
        expected_item_size_bytes: 16 + VALUE_BYTES,
        eviction,
        ..Config::default()
    })
    .expect("config");
    let value = [b'v'; VALUE_BYTES];
    for n in 0..KEYS / 2 {
        cache
            .store(StoreMode::Set, &key(n), &value, StoreOptions::default())
            .expect("fill");
    }
    cache.reset_lock_holds();
    let inline_before = cache.stats().inline_evictions;
    let stop = AtomicBool::new(false);
    let ops: u64 = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..2u64)
            .map(|t| {
                let (cache, stop) = (&cache, &stop);
                scope.spawn(move || worker(cache, 0x9E37_79B9 + t * 7919, stop, ttl_secs))
            })
            .collect();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        clients.into_iter().map(|c| c.join().unwrap()).sum()
    });
    let inline = cache.stats().inline_evictions - inline_before;
    (cache.lock_holds(), ops, inline)
}

/// The machine's own floor: two threads time a section of plain arithmetic about as
/// long as a typical hold (no lock, no shared memory) with the same clock. Whatever
/// its tail is, interrupts and the hypervisor put into every hold too.
fn floor(duration: Duration) -> (u64, u64, u64, u64) {
    let stop = AtomicBool::new(false);
    let mut samples: Vec<u64> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..2u64)
            .map(|t| {
                let stop = &stop;
                scope.spawn(move || {
                    let clock = quanta::Clock::new();
                    let mut samples = Vec::with_capacity(1 << 24);
                    let mut x = t + 1;
                    while !stop.load(Ordering::Relaxed) && samples.len() < (1 << 24) - 1024 {
                        for _ in 0..1024 {
                            let start = clock.raw();
                            for _ in 0..FLOOR_WORK_ROUNDS {
                                x = std::hint::black_box(
                                    x.wrapping_mul(6364136223846793005).wrapping_add(1),
                                );
                            }
                            std::hint::black_box(x);
                            samples.push(clock.delta_as_nanos(start, clock.raw()));
                        }
                    }
                    samples
                })
            })
            .collect();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.9999), at(0.99999), *samples.last().unwrap())
}

/// Multiply-adds per floor sample: about 70 ns here, a typical hold.
const FLOOR_WORK_ROUNDS: usize = 56;

fn main() {
    let rounds: usize = std::env::var("LOCK_HOLD_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let secs: u64 = std::env::var("LOCK_HOLD_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    println!(
        "64 MiB, {KEYS} keys of 16+{VALUE_BYTES} B (5x what fits), 50% sets, 2 worker threads (requests, then maintenance), {secs} s per round"
    );
    let (p50, p9999, p99999, max) = floor(Duration::from_secs(secs));
    println!(
        "machine floor (no lock, ~70 ns of arithmetic, same clock): p50_ns={p50} p99.99_ns={p9999} p99.999_ns={p99999} max_ns={max}"
    );
    println!("case                 round     holds   ops/s    p50_ns  p99_ns p99.9_ns p99.99_ns  max_ns  inline_evictions");
    for (name, eviction, ttl) in [
        ("merge", EvictionPolicy::Merge, 0),
        ("fifo", EvictionPolicy::Fifo, 0),
        ("fifo, 2 s TTLs", EvictionPolicy::Fifo, 2),
    ] {
        for round_number in 1..=rounds {
            let (holds, ops, inline) = round(eviction, ttl, Duration::from_secs(secs));
            println!(
                "{name:<20} {round_number:>5} {:>9} {:>7} {:>9} {:>7} {:>8} {:>9} {:>7} {:>8}",
                holds.count(),
                ops / secs,
                holds.quantile_ns(0.5),
                holds.quantile_ns(0.99),
                holds.quantile_ns(0.999),
                holds.quantile_ns(0.9999),
                holds.max_ns,
                inline,
            );
        }
    }
}
