//! Parsing allocates nothing: a counting global allocator (its own test binary, since
//! the global allocator is per binary) checks gets, multigets, sets, meta commands and
//! errors, and that encoders write into reserved space without allocating.

use tailcache_protocol::memcache::classic_encode::{encode_reply, encode_value, Reply};
use tailcache_protocol::memcache::meta_encode::{encode_meta_value_header, MetaItem};
use tailcache_protocol::memcache::{parse, Limits, Parsed, Request, MAX_DECODED_KEY_BYTES};

// A global allocator must implement the unsafe GlobalAlloc trait.
#[allow(unsafe_code)]
mod alloc_support;

use alloc_support::{allocations_during, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn parsing_a_get_allocates_nothing() {
    let limits = Limits::default();
    let input = b"get 0123456789abcdef\r\n";
    let allocations = allocations_during(|| {
        let Ok(Parsed::Complete {
            request: Request::Get(get),
            ..
        }) = parse(input, &limits)
        else {
            panic!()
        };
        let total_bytes: usize = get.keys.map(<[u8]>::len).sum();
        assert_eq!(std::hint::black_box(total_bytes), 16);
    });
    assert_eq!(allocations, 0);
}

#[test]
fn parsing_a_100_key_multiget_allocates_nothing() {
    let limits = Limits::default();
    let input: Vec<u8> = [&b"get"[..], &b" key:0123456789".repeat(100), b"\r\n"].concat();
    let allocations = allocations_during(|| {
        let Ok(Parsed::Complete {
            request: Request::Get(get),
            ..
        }) = parse(&input, &limits)
        else {
            panic!()
        };
        assert_eq!(std::hint::black_box(get.keys.count()), 100);
    });
    assert_eq!(allocations, 0);
}

#[test]
fn parsing_sets_meta_commands_and_errors_allocates_nothing() {
    let limits = Limits::default();
    let inputs: [&[u8]; 8] = [
        b"set k 0 0 32\r\n0123456789abcdef0123456789abcdef\r\n",
        b"mg k v c f k Oop t s q T30 N5\r\n",
        b"ms Zm9v 3 b T10 F5 MA c k\r\nabc\r\n",
        b"ma k MD D5 v\r\n",
        b"set k 0 0 3\r\nabcde\r\n",
        b"mg k zz\r\n",
        b"incr k x\r\n",
        b"get k", // incomplete
    ];
    for input in inputs {
        let allocations = allocations_during(|| {
            let result = parse(input, &limits);
            if let Ok(Parsed::Complete {
                request: Request::MetaSet(set),
                ..
            }) = &result
            {
                let mut scratch = [0u8; MAX_DECODED_KEY_BYTES];
                assert_eq!(set.key.bytes(&mut scratch), b"foo");
            }
            std::hint::black_box(result).ok();
        });
        assert_eq!(allocations, 0, "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn encoders_write_into_reserved_space_without_allocating() {
    let limits = Limits::default();
    let Ok(Parsed::Complete {
        request: Request::MetaGet(get),
        ..
    }) = parse(b"mg k v c f t Oo\r\n", &limits)
    else {
        panic!()
    };
    let mut out = Vec::with_capacity(4096);
    let allocations = allocations_during(|| {
        encode_value(&mut out, b"key", 7, b"value", Some(9));
        encode_reply(&mut out, Reply::End);
        let item = MetaItem {
            cas: Some(1),
            client_flags: Some(2),
            ttl_remaining_secs: Some(-1),
            ..MetaItem::default()
        };
        encode_meta_value_header(&mut out, 5, &get.key, &get.flags, &item);
    });
    assert_eq!(allocations, 0);
    assert_eq!(
        out,
        b"VALUE key 7 5 9\r\nvalue\r\nEND\r\nVA 5 c1 f2 t-1 Oo\r\n"
    );
}
