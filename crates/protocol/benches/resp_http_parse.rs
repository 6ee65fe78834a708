//! Parse cost per request for RESP and HTTP, in ns/request (criterion reports medians).
//!
//! Run: `cargo bench -p tailcache-protocol --bench resp_http_parse`.
//!
//! On a noisy machine, count instructions instead: with `PARSE_LOOP=<case>:<n>` the
//! binary parses case `n` times and exits (cases: resp_get, resp_set, http_get), so
//! the difference between two callgrind runs (n and 2n) is n requests' cost:
//! `PARSE_LOOP=resp_set:1000 valgrind --tool=callgrind target/release/deps/resp_http_parse-*`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};
use tailcache_protocol::{http, resp};

fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    resp::encode::request(&mut out, args.iter().copied());
    out
}

fn parse_resp(input: &[u8], limits: &resp::Limits) -> usize {
    match resp::parse(black_box(input), limits) {
        Ok(resp::Parsed::Complete {
            request: command,
            consumed_bytes: consumed,
        }) => {
            black_box(command);
            consumed
        }
        other => panic!("{other:?}"),
    }
}

fn resp_benches(c: &mut Criterion) {
    let limits = resp::Limits::default();
    let key = b"key:0123456789ab";
    let set = multibulk(&[b"SET", key, &[b'v'; 32]]);
    let get = multibulk(&[b"GET", key]);
    let keys: Vec<Vec<u8>> = (0..100)
        .map(|i| format!("key:{i:012}").into_bytes())
        .collect();
    let mut mget_args: Vec<&[u8]> = vec![b"MGET"];
    mget_args.extend(keys.iter().map(Vec::as_slice));
    let mget = multibulk(&mget_args);
    let inline_get = b"GET key:0123456789ab\r\n".to_vec();

    let mut group = c.benchmark_group("resp_parse");
    group.throughput(Throughput::Elements(1));
    group.bench_function("set_16b_key_32b_value", |b| {
        b.iter(|| parse_resp(&set, &limits))
    });
    group.bench_function("get_16b_key", |b| b.iter(|| parse_resp(&get, &limits)));
    group.bench_function("get_16b_key_inline", |b| {
        b.iter(|| parse_resp(&inline_get, &limits))
    });
    group.bench_function("mget_100_keys_iterated", |b| {
        b.iter(|| {
            let Ok(resp::Parsed::Complete {
                request: resp::Command::Data(resp::DataCommand::MGet { keys }),
                ..
            }) = resp::parse(black_box(&mget), &limits)
            else {
                panic!()
            };
            keys.map(<[u8]>::len).sum::<usize>()
        })
    });
    group.finish();
}

fn parse_http(input: &[u8], limits: &http::Limits) -> usize {
    match http::parse(black_box(input), limits) {
        Ok(http::Parsed::Complete {
            request,
            consumed_bytes: consumed,
        }) => {
            black_box(http::route(&request, limits).is_ok());
            consumed
        }
        other => panic!("{other:?}"),
    }
}

fn http_benches(c: &mut Criterion) {
    let limits = http::Limits::default();
    let get = b"GET /keys/key:0123456789ab HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    let put = [
        b"PUT /keys/key:0123456789ab?ttl=60 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 32\r\n\r\n".as_slice(),
        &[b'v'; 32],
    ]
    .concat();

    let mut group = c.benchmark_group("http_parse");
    group.throughput(Throughput::Elements(1));
    group.bench_function("get_curl_headers_and_route", |b| {
        b.iter(|| parse_http(get, &limits))
    });
    group.bench_function("put_32b_body_and_route", |b| {
        b.iter(|| parse_http(&put, &limits))
    });
    group.finish();
}

fn short_runs() -> Criterion {
    // The build machine is small and shared: short, repeated runs beat long ones.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = short_runs();
    targets = resp_benches, http_benches
}

/// Parses one case `count` times (for instruction counting under callgrind).
fn parse_loop(case: &str, count: usize) {
    let resp_limits = resp::Limits::default();
    let http_limits = http::Limits::default();
    let set = multibulk(&[b"SET", b"key:0123456789ab", &[b'v'; 32]]);
    let get = multibulk(&[b"GET", b"key:0123456789ab"]);
    let http_get = b"GET /keys/key:0123456789ab HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    let mut consumed = 0usize;
    for _ in 0..count {
        consumed += match case {
            "resp_get" => parse_resp(&get, &resp_limits),
            "resp_set" => parse_resp(&set, &resp_limits),
            "http_get" => parse_http(http_get, &http_limits),
            other => panic!("unknown PARSE_LOOP case {other}"),
        };
    }
    println!("{case}: {count} requests, {consumed} bytes");
}

fn main() {
    if let Ok(spec) = std::env::var("PARSE_LOOP") {
        let (case, count) = spec.split_once(':').expect("PARSE_LOOP=<case>:<count>");
        parse_loop(case, count.parse().expect("count is a number"));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
