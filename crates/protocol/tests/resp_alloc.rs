//! Parsing RESP requests allocates nothing, and encoding into a buffer with room
//! allocates nothing: counted with a global allocator that tallies this thread's calls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tailcache_protocol::resp::{encode, parse, Command, Limits, Parsed, ProtocolVersion};

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

fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    encode::request(&mut out, args.iter().copied());
    out
}

#[test]
fn hot_path_parsing_and_encoding_allocate_nothing() {
    let limits = Limits::default();
    let get = multibulk(&[b"GET", b"0123456789abcdef"]);
    let set = multibulk(&[b"SET", b"0123456789abcdef", &[b'v'; 32], b"EX", b"60"]);
    let keys: Vec<Vec<u8>> = (0..100).map(|i| format!("key:{i}").into_bytes()).collect();
    let mut mget_args: Vec<&[u8]> = vec![b"MGET"];
    mget_args.extend(keys.iter().map(Vec::as_slice));
    let mget = multibulk(&mget_args);
    let inline = b"SET key value PX 100\r\n".to_vec();
    let mut out = Vec::with_capacity(64 * 1024);

    let count = allocations_during(|| {
        for input in [&get, &set, &mget, &inline] {
            let Ok(Parsed::Complete { command, .. }) = parse(input, &limits) else {
                panic!()
            };
            match command {
                Command::Get { key } => encode::bulk(&mut out, key),
                Command::Set(set) => {
                    encode::ok(&mut out);
                    encode::integer(&mut out, set.value.len() as i64);
                }
                Command::MGet { keys } => {
                    encode::array_header(&mut out, keys.len());
                    for key in keys {
                        encode::bulk(&mut out, key);
                    }
                    encode::null(&mut out, ProtocolVersion::Resp3);
                }
                other => panic!("{other:?}"),
            }
        }
        let error = parse(b"*1\r\n$3\r\nFOO\r\n", &limits).unwrap_err();
        error.encode(&mut out);
    });
    assert_eq!(count, 0);
    assert!(out.len() > 100);
}
