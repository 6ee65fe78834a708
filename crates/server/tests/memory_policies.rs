//! Flags that change what commands answer: -M (no eviction: writes fail
//! with memcached's out-of-memory error) and -C (no CAS: `gets` shows 0,
//! every `cas` is refused, as memcached -C does).

mod support;

use support::{connect, exchange, start_memcached, start_tailcache};

#[test]
fn without_eviction_a_full_cache_refuses_writes_as_memcached_does() {
    let server = start_tailcache(&["-M", "-m", "8"]);
    let mut stream = connect(server.memcache);
    let value = vec![b'v'; 100 * 1024];
    let mut refused_at = None;
    // 8 MiB cannot hold 200 values of 100 KiB.
    for n in 0..200 {
        let mut request = format!("set k{n} 0 0 {}\r\n", value.len()).into_bytes();
        request.extend_from_slice(&value);
        request.extend_from_slice(b"\r\n");
        let reply = exchange(&mut stream, &request, b"\r\n");
        if reply != b"STORED\r\n" {
            assert_eq!(
                String::from_utf8_lossy(&reply),
                "SERVER_ERROR out of memory storing object\r\n"
            );
            refused_at = Some(n);
            break;
        }
    }
    let refused_at = refused_at.expect("a full cache with -M must refuse a write");
    assert!(refused_at > 10, "refused too early, at item {refused_at}");
    // Nothing was evicted: the first item is still there; reads still work.
    let reply = exchange(&mut stream, b"get k0\r\n", b"END\r\n");
    assert!(
        reply.starts_with(b"VALUE k0 0 102400\r\n"),
        "{:?}",
        &reply[..40.min(reply.len())]
    );
    let stats = exchange(&mut stream, b"stats\r\n", b"END\r\n");
    assert!(String::from_utf8_lossy(&stats).contains("STAT evictions 0\r\n"));
}

#[test]
fn without_cas_replies_match_memcached() {
    let (_memcached, memcached_addr) = start_memcached(&["-C"]);
    let tailcache = start_tailcache(&["-C"]);
    let script = b"set a 0 0 1\r\nx\r\ngets a\r\ncas a 0 0 1 0\r\ny\r\ngets a\r\nmg a c v\r\ncas b 0 0 1 0\r\nz\r\nmn\r\n";
    let mut replies = Vec::new();
    for addr in [memcached_addr, tailcache.memcache] {
        let mut stream = connect(addr);
        replies.push(exchange(&mut stream, script, b"MN\r\n").to_vec());
    }
    assert_eq!(
        String::from_utf8_lossy(&replies[1]),
        String::from_utf8_lossy(&replies[0])
    );
}
