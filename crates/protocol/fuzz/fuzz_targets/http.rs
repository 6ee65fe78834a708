//! HTTP fuzz target: parse, re-encode, parse again, compare; structured requests must
//! route back to the key, TTL, flags and body they were built from.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tailcache_protocol::http::client::{encode_request, reencode_request};
use tailcache_protocol::http::{parse, route, KeyMethod, Limits, Parsed, Route};

#[derive(Arbitrary, Debug)]
enum Input {
    /// Any bytes, as a client might send.
    Raw(Vec<u8>),
    /// A key request built from parts, every key byte percent-encoded where needed.
    Key {
        method: u8,
        key: Vec<u8>,
        ttl: Option<u32>,
        flags: Option<u32>,
        ttl_in_header: bool,
        body: Vec<u8>,
    },
}

fuzz_target!(|input: Input| {
    let limits = Limits::default();
    match input {
        Input::Raw(bytes) => {
            check_raw(&bytes, &limits);
            let small = Limits {
                max_head_bytes: 128,
                max_request_line_bytes: 64,
                max_header_count: 4,
                max_body_bytes: 16,
                max_key_len_bytes: 8,
            };
            check_raw(&bytes, &small);
        }
        Input::Key {
            method,
            key,
            ttl,
            flags,
            ttl_in_header,
            body,
        } => check_key_request(method, &key, ttl, flags, ttl_in_header, &body, &limits),
    }
});

fn check_raw(bytes: &[u8], limits: &Limits) {
    let request = match parse(bytes, limits) {
        Ok(Parsed::Complete { request, consumed_bytes: consumed }) => {
            assert!(consumed > 0 && consumed <= bytes.len());
            request
        }
        Ok(Parsed::Incomplete { .. }) => return,
        Err(error) => {
            assert!(error.must_close());
            let mut out = Vec::new();
            error.encode(&mut out, true, false);
            assert!(out.starts_with(b"HTTP/1.1 "));
            return;
        }
    };
    let routed = route(&request, limits);
    let mut reencoded = Vec::new();
    reencode_request(&mut reencoded, &request);
    let Ok(Parsed::Complete {
        request: again,
        consumed_bytes: consumed,
    }) = parse(&reencoded, limits)
    else {
        panic!("re-encoded request does not parse");
    };
    assert_eq!(consumed, reencoded.len());
    assert_eq!(again.method, request.method);
    assert_eq!(again.path, request.path);
    assert_eq!(again.query, request.query);
    assert_eq!(again.body, request.body);
    assert_eq!(again.keep_alive, request.keep_alive);
    assert!(again.headers.iter().eq(request.headers.iter()));
    assert_eq!(route(&again, limits), routed);
    for end in 0..consumed {
        assert!(matches!(
            parse(&reencoded[..end], limits),
            Ok(Parsed::Incomplete { .. })
        ));
    }
}

fn percent_encode(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &byte in key {
        if byte.is_ascii_alphanumeric() || b"-._~:/".contains(&byte) {
            out.push(byte);
        } else {
            out.extend_from_slice(format!("%{byte:02X}").as_bytes());
        }
    }
    out
}

fn check_key_request(
    method: u8,
    key: &[u8],
    ttl: Option<u32>,
    flags: Option<u32>,
    ttl_in_header: bool,
    body: &[u8],
    limits: &Limits,
) {
    let (method_bytes, expected_method): (&[u8], KeyMethod) = match method % 4 {
        0 => (b"GET", KeyMethod::Get),
        1 => (b"HEAD", KeyMethod::Head),
        2 => (b"PUT", KeyMethod::Put),
        _ => (b"DELETE", KeyMethod::Delete),
    };
    let body = if expected_method == KeyMethod::Put {
        body
    } else {
        &[][..]
    };
    let mut target = b"/keys/".to_vec();
    target.extend_from_slice(&percent_encode(key));
    let mut query = Vec::new();
    let ttl_text = ttl.map(|ttl| ttl.to_string());
    let flags_text = flags.map(|flags| flags.to_string());
    let mut headers: Vec<(&[u8], &[u8])> = vec![(b"Host", b"fuzz")];
    if let Some(ttl) = &ttl_text {
        if ttl_in_header {
            headers.push((b"X-TTL", ttl.as_bytes()));
        } else {
            query.push(format!("ttl={ttl}"));
        }
    }
    if let Some(flags) = &flags_text {
        query.push(format!("flags={flags}"));
    }
    if !query.is_empty() {
        target.push(b'?');
        target.extend_from_slice(query.join("&").as_bytes());
    }
    let mut request = Vec::new();
    encode_request(&mut request, method_bytes, &target, &headers, body);
    let Ok(Parsed::Complete {
        request: parsed,
        consumed_bytes: consumed,
    }) = parse(&request, limits)
    else {
        let head_limit = limits.max_request_line_bytes.min(limits.max_head_bytes);
        assert!(target.len() + 64 > head_limit || body.len() > limits.max_body_bytes);
        return;
    };
    assert_eq!(consumed, request.len());
    match route(&parsed, limits) {
        Ok(Route::Key(routed)) => {
            assert_eq!(routed.method, expected_method);
            assert_eq!(&*routed.key, key);
            assert_eq!(routed.ttl_secs, ttl.map(u64::from));
            assert_eq!(routed.flags, flags);
            assert_eq!(routed.value, body);
        }
        Ok(other) => panic!("routed to {other:?}"),
        Err(error) => assert!(
            key.is_empty() || key.len() > limits.max_key_len_bytes,
            "{error:?}"
        ),
    }
}
