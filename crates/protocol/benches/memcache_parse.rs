//! Parse cost of common memcache requests, in ns per request.
//!
//! Run: `cargo bench -p tailcache-protocol --bench memcache_parse`
//!
//! Each case is measured twice: `memcache_parse/*` in wall time (criterion's default) and
//! `memcache_parse_cpu/*` in this thread's CPU time, which leaves out the time the thread
//! waits for a core: on a shared, overloaded box the wall figure measures the neighbours.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use tailcache_protocol::memcache::{parse, Limits, Parsed, Request};

fn cases<M: Measurement>(group: &mut BenchmarkGroup<'_, M>, limits: &Limits) {
    group.throughput(Throughput::Elements(1));
    let get = b"get 0123456789abcdef\r\n";
    group.bench_function("get_16b_key", |b| {
        b.iter(|| {
            let Ok(Parsed::Complete {
                request: Request::Get(get),
                consumed_bytes,
            }) = parse(black_box(get), limits)
            else {
                unreachable!()
            };
            black_box((get.keys.len(), consumed_bytes))
        })
    });
    let set: Vec<u8> = [
        &b"set 0123456789abcdef 0 0 32\r\n"[..],
        &[b'v'; 32],
        b"\r\n",
    ]
    .concat();
    group.bench_function("set_32b_value", |b| {
        b.iter(|| {
            let Ok(Parsed::Complete {
                request: Request::Store(store),
                ..
            }) = parse(black_box(&set), limits)
            else {
                unreachable!()
            };
            black_box(store.value.len())
        })
    });
    let multiget: Vec<u8> = [&b"get"[..], &b" key:0123456789ab".repeat(100), b"\r\n"].concat();
    group.bench_function("multiget_100_keys_parse_and_iterate", |b| {
        b.iter(|| {
            let Ok(Parsed::Complete {
                request: Request::Get(get),
                ..
            }) = parse(black_box(&multiget), limits)
            else {
                unreachable!()
            };
            black_box(get.keys.map(<[u8]>::len).sum::<usize>())
        })
    });
    let meta_get = b"mg 0123456789abcdef v c f t k Oop\r\n";
    group.bench_function("mg_6_flags", |b| {
        b.iter(|| black_box(parse(black_box(meta_get), limits).is_ok()))
    });
}

fn wall_time(c: &mut Criterion) {
    let mut group = c.benchmark_group("memcache_parse");
    cases(&mut group, &Limits::default());
    group.finish();
}

fn cpu_time(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("memcache_parse_cpu");
    cases(&mut group, &Limits::default());
    group.finish();
}

/// CPU time consumed by the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
struct ThreadCpuTime;

fn thread_cpu_now() -> Duration {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .expect("clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(now.tv_sec() as u64, now.tv_nsec() as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &Nanoseconds
    }
}

/// Shows CPU time in ns, and throughput as elements per CPU-second.
struct Nanoseconds;

impl ValueFormatter for Nanoseconds {
    fn scale_values(&self, _typical_value: f64, _values: &mut [f64]) -> &'static str {
        "ns"
    }
    fn scale_throughputs(
        &self,
        _typical_value: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per_iteration = match throughput {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                *n as f64
            }
        };
        for value in values.iter_mut() {
            *value = per_iteration * 1e9 / *value;
        }
        "elem/cpu-s"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn short_runs<M: Measurement>(criterion: Criterion<M>) -> Criterion<M> {
    criterion
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = memcache_wall;
    config = short_runs(Criterion::default());
    targets = wall_time
}
criterion_group! {
    name = memcache_cpu;
    config = short_runs(Criterion::default().with_measurement(ThreadCpuTime));
    targets = cpu_time
}
criterion_main!(memcache_wall, memcache_cpu);
