//! memcached's UDP protocol (`-U`), side by side with memcached 1.6.18: the frame
//! header, replies split over datagrams, text and binary requests, the requests
//! memcached drops, and the refusal of UDP under `-Y`.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use support::{connect, exchange, run, start_memcached, start_tailcache};

/// A UDP port free now (the servers bind it right after).
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("bind a free UDP port")
        .port()
}

/// Sends `request` framed with `id` (as one datagram of `count`), and returns the
/// reply datagrams in the order they came (loopback keeps it), until none comes
/// for a while. memcached's empty datagram (a header with a count of 0, sent when
/// a multiget's first key misses) is left out: tailcache sends nothing for an
/// empty reply.
fn udp_request(server: SocketAddr, id: u16, count: u16, request: &[u8]) -> Vec<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    // A loaded machine may take a while to answer at all; once the first datagram is
    // in, the rest follow at once.
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut datagram = Vec::new();
    datagram.extend_from_slice(&id.to_be_bytes());
    datagram.extend_from_slice(&[0, 0]);
    datagram.extend_from_slice(&count.to_be_bytes());
    datagram.extend_from_slice(&[0, 0]);
    datagram.extend_from_slice(request);
    socket.send_to(&datagram, server).unwrap();
    let mut replies: Vec<Vec<u8>> = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = socket.recv(&mut buf) {
        assert!(n <= 1400, "a datagram of {n} bytes");
        if n == 8 && buf[4..6] == [0, 0] {
            continue;
        }
        replies.push(buf[..n].to_vec());
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
    }
    replies
}

#[test]
fn udp_replies_match_memcached_datagram_for_datagram() {
    let memcached_udp = free_udp_port();
    let (_memcached, memcached_tcp) = start_memcached(&["-U", &memcached_udp.to_string()]);
    let tailcache_udp = free_udp_port();
    let tailcache = start_tailcache(&["-U", &tailcache_udp.to_string()]);
    let big_value: Vec<u8> = (0..20_000u32).map(|i| b'C' + (i % 23) as u8).collect();
    let mut binary_get = vec![0x80, 0x00, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3];
    binary_get.extend_from_slice(&[0; 12]);
    binary_get.extend_from_slice(b"foo");
    let requests: Vec<(u16, u16, Vec<u8>)> = vec![
        (161, 1, b"get foo\r\n".to_vec()),
        (162, 1, b"get foo missing foo\r\n".to_vec()),
        (163, 1, b"get missing foo missing\r\n".to_vec()),
        (164, 1, b"get foo\r\nset a 0 0 1\r\n1\r\nget a\r\n".to_vec()),
        (53, 1, b"get bigvalue\r\n".to_vec()),
        (45, 1, b"set aval 0 0 1\r\n1\r\n".to_vec()),
        (46, 1, b"incr aval 5\r\ndecr aval 2\r\n".to_vec()),
        (47, 1, b"set quiet 0 0 1 noreply\r\nq\r\n".to_vec()),
        (48, 1, binary_get),
        (49, 2, b"get foo\r\n".to_vec()),
        (50, 1, b"bogus\r\n".to_vec()),
    ];
    for (tcp, udp) in [
        (
            memcached_tcp,
            SocketAddr::from(([127, 0, 0, 1], memcached_udp)),
        ),
        (
            tailcache.memcache,
            SocketAddr::from(([127, 0, 0, 1], tailcache_udp)),
        ),
    ] {
        let mut stream = connect(tcp);
        let mut setup = b"set foo 0 0 6\r\nfooval\r\n".to_vec();
        setup.extend_from_slice(format!("set bigvalue 0 0 {}\r\n", big_value.len()).as_bytes());
        setup.extend_from_slice(&big_value);
        setup.extend_from_slice(b"\r\n");
        assert_eq!(
            exchange(&mut stream, &setup, b"STORED\r\nSTORED\r\n"),
            b"STORED\r\nSTORED\r\n"
        );
        let _ = udp;
    }
    for (id, count, request) in &requests {
        let expected = udp_request(
            SocketAddr::from(([127, 0, 0, 1], memcached_udp)),
            *id,
            *count,
            request,
        );
        let actual = udp_request(
            SocketAddr::from(([127, 0, 0, 1], tailcache_udp)),
            *id,
            *count,
            request,
        );
        assert_eq!(
            actual,
            expected,
            "request {id} {:?}",
            String::from_utf8_lossy(request)
        );
    }
    // The 20 000-byte value came back whole, in 15 datagrams.
    let big = udp_request(
        SocketAddr::from(([127, 0, 0, 1], tailcache_udp)),
        7,
        1,
        b"get bigvalue\r\n",
    );
    assert_eq!(big.len(), 15);
    let joined: Vec<u8> = big.iter().flat_map(|d| d[8..].to_vec()).collect();
    assert!(joined.ends_with(b"\r\nEND\r\n"));
    assert!(joined.windows(big_value.len()).any(|w| w == big_value));
}

#[test]
fn udp_is_refused_with_ascii_authentication_as_in_memcached() {
    let dir = std::env::temp_dir().join(format!("tc-udp-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let auth_file = dir.join("auth");
    std::fs::write(&auth_file, "user:secret\n").unwrap();
    let output = run(&["-U", "11299", "-Y", auth_file.to_str().unwrap(), "-p", "-1"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot use UDP with ascii authentication"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
