//! Parsing and routing HTTP requests with plain keys allocates nothing, nor does encoding
//! into a buffer with room: counted with a global allocator that tallies this thread's calls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tailcache_protocol::http::{parse, response, route, KeyMethod, Limits, Parsed, Route, Status};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the only addition
// is a thread-local counter, which does not allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(work: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    work();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn the_counter_sees_allocations() {
    let count = allocations_during(|| drop(std::hint::black_box(Vec::<u8>::with_capacity(8))));
    assert_eq!(count, 1);
}

#[test]
fn get_parse_route_and_response_allocate_nothing() {
    let limits = Limits::default();
    let get = b"GET /keys/0123456789abcdef HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
    let put = b"PUT /keys/k?ttl=10&flags=3 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
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
