//! Parsing and routing HTTP requests with plain keys allocates nothing, nor does encoding
//! into a buffer with room: counted with a global allocator that tallies this thread's calls.

use tailcache_protocol::http::{parse, response, route, KeyMethod, Limits, Parsed, Route, Status};

// A global allocator must implement the unsafe GlobalAlloc trait.
#[allow(unsafe_code)]
mod alloc_support;

use alloc_support::{allocations_during, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn get_parse_route_and_response_allocate_nothing() {
    let limits = Limits::default();
    let get = b"GET /keys/0123456789abcdef HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
    let put = b"PUT /keys/k?ttl=10&flags=3 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
    let mut out = Vec::with_capacity(4096);
    let count = allocations_during(|| {
        for input in [&get[..], &put[..]] {
            let Ok(Parsed::Complete { request, .. }) = parse(input, &limits) else {
                panic!()
            };
            let Ok(Route::Key(key)) = route(&request, &limits) else {
                panic!()
            };
            let status = if key.method == KeyMethod::Put {
                Status::Created
            } else {
                Status::Ok
            };
            response::simple(&mut out, status, None, key.value, request.keep_alive, false);
        }
    });
    assert_eq!(count, 0);
}
