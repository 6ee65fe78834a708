//! Parsing RESP requests allocates nothing, and encoding into a buffer with room
//! allocates nothing: counted with a global allocator that tallies this thread's calls.

use tailcache_protocol::resp::{
    encode, parse, Command, DataCommand, Limits, Parsed, ProtocolVersion,
};

// A global allocator must implement the unsafe GlobalAlloc trait.
#[allow(unsafe_code)]
mod alloc_support;

use alloc_support::{allocations_during, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

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
            let Ok(Parsed::Complete {
                request: command, ..
            }) = parse(input, &limits)
            else {
                panic!()
            };
            match command {
                Command::Data(DataCommand::Get { key }) => encode::bulk(&mut out, key),
                Command::Data(DataCommand::Set(set)) => {
                    encode::ok(&mut out);
                    encode::integer(&mut out, set.value.len() as i64);
                }
                Command::Data(DataCommand::MGet { keys }) => {
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
