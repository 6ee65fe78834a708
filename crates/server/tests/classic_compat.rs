//! Classic text protocol and connection behaviour that memcached's own test
//! suite (t/ of 1.6.18, run by scripts/memcached-t-suite.sh) relies on,
//! checked against tailcache with tests of our own: multigets of any size,
//! streamed; HTTP request lines closing the connection (memcache and RESP
//! ports); long lines handled as memcached handles them.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use support::{connect, exchange, read_until, start_tailcache, Tailcache};

/// Reads until the server closes; panics if it does not within the
/// connection's read timeout.
fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return reply,
            Ok(n) => reply.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return reply,
            Err(e) => panic!(
                "the server did not close ({e}); got {:?}",
                String::from_utf8_lossy(&reply)
            ),
        }
    }
}

fn short_timeout(addr: SocketAddr) -> TcpStream {
    let stream = connect(addr);
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// The connection still answers (it was not closed).
fn assert_open(stream: &mut TcpStream) {
    assert_eq!(
        exchange(stream, b"version\r\n", b"\r\n")
            .split(|&b| b == b' ')
            .next(),
        Some(&b"VERSION"[..])
    );
}

#[test]
fn a_multiget_of_any_number_of_keys_is_served() {
    let server = start_tailcache(&["-m", "64"]);
    let mut stream = connect(server.memcache);
    assert_eq!(
        exchange(&mut stream, b"set mk 0 0 2\r\nhi\r\n", b"\r\n"),
        b"STORED\r\n"
    );
    // memcached has no key-count limit (its getset.t sends about 18 700).
    let keys = 20_000;
    let request = [&b"get "[..], &b"mk ".repeat(keys), b"\r\n"].concat();
    let reply = exchange(&mut stream, &request, b"END\r\n");
    let expected = [&b"VALUE mk 0 2\r\nhi\r\n".repeat(keys)[..], b"END\r\n"].concat();
    assert_eq!(reply.len(), expected.len());
    assert!(reply == expected, "the multiget reply differs");
    assert_open(&mut stream);
}

#[test]
fn a_multiget_larger_than_the_write_buffer_is_streamed_in_order() {
    let server = start_tailcache(&["-m", "64"]);
    let mut stream = connect(server.memcache);
    // 40 distinct values of 100 KB, asked 100 times each: a 400 MB reply,
    // far more than the 1 MiB write buffer holds; it comes in order, then
    // the pipelined command after it.
    let value_bytes = 100_000;
    let distinct = 40;
    for i in 0..distinct {
        let value = vec![b'a' + (i % 26) as u8; value_bytes];
        let request = [
            format!("set big:{i} {i} 0 {value_bytes}\r\n").as_bytes(),
            &value,
            b"\r\n",
        ]
        .concat();
        assert_eq!(exchange(&mut stream, &request, b"\r\n"), b"STORED\r\n");
    }
    let rounds = 100;
    let mut request = b"gets".to_vec();
    for _ in 0..rounds {
        for i in 0..distinct {
            request.extend_from_slice(format!(" big:{i}").as_bytes());
        }
    }
    request.extend_from_slice(b" big:missing\r\nget big:0 big:missing\r\n");
    stream.write_all(&request).unwrap();
    let mut reader = std::io::BufReader::with_capacity(1 << 20, stream.try_clone().unwrap());
    let mut line = Vec::new();
    let mut value = vec![0u8; value_bytes + 2];
    let read_line = |reader: &mut std::io::BufReader<TcpStream>, line: &mut Vec<u8>| {
        line.clear();
        std::io::BufRead::read_until(reader, b'\n', line).unwrap();
    };
    for _ in 0..rounds {
        for i in 0..distinct {
            read_line(&mut reader, &mut line);
            let text = String::from_utf8_lossy(&line).into_owned();
            let prefix = format!("VALUE big:{i} {i} {value_bytes} ");
            assert!(text.starts_with(&prefix), "{text:?} for key {i}");
            reader.read_exact(&mut value).unwrap();
            assert!(value[..value_bytes]
                .iter()
                .all(|&b| b == b'a' + (i % 26) as u8));
            assert_eq!(&value[value_bytes..], b"\r\n");
        }
    }
    read_line(&mut reader, &mut line);
    assert_eq!(line, b"END\r\n");
    read_line(&mut reader, &mut line);
    assert_eq!(line, format!("VALUE big:0 0 {value_bytes}\r\n").as_bytes());
    reader.read_exact(&mut value).unwrap();
    read_line(&mut reader, &mut line);
    assert_eq!(line, b"END\r\n");
    // Memory stayed bounded: the reply was never built whole.
    assert!(
        server.process.rss_kib() < 512 * 1024,
        "rss {} KiB",
        server.process.rss_kib()
    );
}

#[test]
fn a_multiget_with_a_too_long_key_anywhere_answers_only_the_error() {
    let server = start_tailcache(&["-m", "64"]);
    let mut stream = connect(server.memcache);
    exchange(&mut stream, b"set lk 0 0 1\r\nx\r\n", b"\r\n");
    let long_key = "k".repeat(251);
    let request = format!("get {} {long_key}\r\nget lk\r\n", "lk ".repeat(30_000));
    assert_eq!(
        exchange(&mut stream, request.as_bytes(), b"END\r\n"),
        b"CLIENT_ERROR bad command line format\r\nVALUE lk 0 1\r\nx\r\nEND\r\n"
    );
}

#[test]
fn http_request_lines_close_the_memcache_connection() {
    let server = start_tailcache(&["-m", "64"]);
    for line in [
        &b"GET / HTTP/1.0\r\n"[..],
        b"PUT /asdf/asd/fasdfasdf/sadf HTTP/1.1\r\n",
        b"DELETE HTTP/1.1\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\n\r\nflush_all\r\n",
        b"HTTP/1.1\r\n",
    ] {
        let mut stream = short_timeout(server.memcache);
        stream.write_all(line).unwrap();
        assert_eq!(
            read_to_close(&mut stream),
            b"",
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
    // Commands memcached dispatches by their first letter or name answer
    // as usual, whatever their last token.
    let mut stream = short_timeout(server.memcache);
    assert_eq!(
        exchange(&mut stream, b"get / HTTP/1.0\r\n", b"\r\n"),
        b"END\r\n"
    );
    assert_eq!(
        exchange(&mut stream, b"sget / HTTP/1.0\r\n", b"\r\n"),
        b"ERROR\r\n"
    );
    assert_eq!(
        exchange(&mut stream, b"version HTTP/1.0\r\n", b"\r\n")[..8].to_vec(),
        b"VERSION ".to_vec()
    );
    assert_eq!(
        exchange(&mut stream, b"GET / HTTP/2 x\r\n", b"\r\n"),
        b"ERROR\r\n"
    );
    assert_open(&mut stream);
}

#[test]
fn post_and_host_lines_close_the_resp_connection() {
    let server = start_tailcache(&["-m", "64"]);
    let mut client = connect(server.resp);
    assert_eq!(
        exchange(&mut client, b"SET survivor 1\r\n", b"\r\n"),
        b"+OK\r\n"
    );
    // A browser's POST whose body is a RESP command must not run it.
    for request in [
        &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nFLUSHALL\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nFLUSHALL\r\n",
        b"*1\r\n$5\r\nHOST:\r\n*1\r\n$8\r\nFLUSHALL\r\n",
        b"post\r\nFLUSHALL\r\n",
    ] {
        let mut stream = short_timeout(server.resp);
        stream.write_all(request).unwrap();
        let reply = read_to_close(&mut stream);
        // Only `GET / HTTP/1.1` itself is answered (wrong arity), as Redis does.
        assert!(
            reply.is_empty() || reply == b"-ERR wrong number of arguments for 'get' command\r\n",
            "{:?}",
            String::from_utf8_lossy(&reply)
        );
    }
    assert_eq!(
        exchange(&mut client, b"GET survivor\r\n", b"\r\n1\r\n"),
        b"$1\r\n1\r\n"
    );
}

#[test]
fn a_data_line_over_2048_bytes_after_a_refused_set_is_a_command() {
    let server = start_tailcache(&["-m", "64"]);
    let mut stream = short_timeout(server.memcache);
    // memcached does not swallow the data block of a storage command with
    // a bad line (flags, exptime or length); the data line, arriving whole,
    // is parsed as a command (ERROR), and the connection stays open.
    let data = vec![b'd'; 3000];
    for line in [
        &b"set k abc 0 3000 noreply\r\n"[..],
        b"set k 0 abc 3000 noreply\r\n",
        b"set k 0 0 -1 noreply\r\n",
        b"set k 0 0 3000 noreply\r\n",
    ] {
        let mut request = [line, &data, b"\r\n"].concat();
        request.extend_from_slice(b"mn\r\n");
        let reply = exchange(&mut stream, &request, b"MN\r\n");
        let expected: &[u8] = if line == b"set k 0 0 3000 noreply\r\n" {
            b"MN\r\n"
        } else {
            b"ERROR\r\nMN\r\n"
        };
        assert_eq!(reply, expected, "{:?}", String::from_utf8_lossy(line));
    }
    // Same without noreply: the error, then ERROR for the data line.
    let request = [&b"set k 1x 0 3000\r\n"[..], &data, b"\r\n"].concat();
    assert_eq!(
        exchange(&mut stream, &request, b"ERROR\r\n"),
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n"
    );
    assert_open(&mut stream);
}

#[test]
fn long_lines_are_handled_as_memcached_handles_them() {
    let server = start_tailcache(&["-m", "64"]);
    // A set line of 4000 bytes that arrives whole is parsed (key too long).
    let mut stream = short_timeout(server.memcache);
    let line = format!("set {} 0 0 1\r\nx\r\n", "k".repeat(4000));
    assert_eq!(
        exchange(&mut stream, line.as_bytes(), b"ERROR\r\n"),
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n"
    );
    assert_open(&mut stream);
    // More than 2048 bytes without a newline, not a get: closed silently.
    let mut stream = short_timeout(server.memcache);
    stream.write_all(&[b'x'; 3000]).unwrap();
    assert_eq!(read_to_close(&mut stream), b"");
    // A line whose newline is not within memcached's 16 KiB read buffer.
    let mut stream = short_timeout(server.memcache);
    let _ = stream.write_all(&[&[b'y'; 17_000][..], b"\r\n"].concat());
    assert_eq!(read_to_close(&mut stream), b"");
    // A get line may be longer and arrive in pieces.
    let mut stream = short_timeout(server.memcache);
    stream.write_all(b"get ").unwrap();
    stream.write_all(&b"nokey ".repeat(2000)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stream.write_all(b"\r\n").unwrap();
    assert_eq!(read_until(&mut stream, b"END\r\n"), b"END\r\n");
}

#[test]
fn verbosity_answers_like_memcached() {
    let server: Tailcache = start_tailcache(&["-m", "64"]);
    let mut stream = connect(server.memcache);
    assert_eq!(
        exchange(&mut stream, b"verbosity invalid\r\n", b"\r\n"),
        b"CLIENT_ERROR bad command line format\r\n"
    );
    assert_eq!(
        exchange(&mut stream, b"verbosity 1\r\n", b"\r\n"),
        b"OK\r\n"
    );
    assert_eq!(
        exchange(
            &mut stream,
            b"verbosity x noreply\r\nverbosity\r\n",
            b"\r\n"
        ),
        b"ERROR\r\n"
    );
}

#[test]
fn idle_kicks_are_counted_when_an_idle_timeout_is_set() {
    let server = start_tailcache(&["-m", "64", "-o", "idle_timeout=1"]);
    let mut stats = connect(server.memcache);
    let idle_kicks = |stream: &mut TcpStream| {
        let reply = exchange(stream, b"stats\r\n", b"END\r\n");
        String::from_utf8_lossy(&reply)
            .lines()
            .find_map(|line| line.strip_prefix("STAT idle_kicks ").map(str::to_owned))
    };
    assert_eq!(idle_kicks(&mut stats).as_deref(), Some("0"));
    let mut idle = connect(server.memcache);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(read_to_close(&mut idle), b"");
    let mut fresh = connect(server.memcache);
    assert_ne!(idle_kicks(&mut fresh).as_deref(), Some("0"));
    let plain = start_tailcache(&["-m", "64"]);
    assert_eq!(idle_kicks(&mut connect(plain.memcache)), None);
}

/// `stats cachedump <class> <limit>` lists keys as memcached does (all of them in
/// class 1, as `stats items` reports), with memcached's errors; `-X` turns it off.
#[test]
fn stats_cachedump_lists_keys_like_memcached() {
    let server: Tailcache = start_tailcache(&["-m", "64"]);
    let mut stream = connect(server.memcache);
    exchange(&mut stream, b"set forever 0 0 3\r\nabc\r\n", b"\r\n");
    exchange(
        &mut stream,
        b"set later 0 2000000000 5\r\nabcde\r\n",
        b"\r\n",
    );
    exchange(&mut stream, b"ms YmluYXJ5 2 b\r\nhi\r\n", b"\r\n");
    let dump = exchange(&mut stream, b"stats cachedump 1 0\r\n", b"END\r\n");
    let mut lines: Vec<&[u8]> = dump.split(|&b| b == b'\n').collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            &b""[..],
            b"END\r",
            b"ITEM forever [3 b; 0 s]\r",
            b"ITEM later [5 b; 2000000000 s]\r",
        ],
        "{}",
        String::from_utf8_lossy(&dump)
    );
    let one = exchange(&mut stream, b"stats cachedump 1 1\r\n", b"END\r\n");
    assert_eq!(
        one.split(|&b| b == b'\n').count(),
        3,
        "one item, END, empty tail"
    );
    for (request, reply) in [
        (&b"stats cachedump 2 0\r\n"[..], &b"END\r\n"[..]),
        (
            b"stats cachedump 64 0\r\n",
            b"CLIENT_ERROR Illegal slab id\r\n",
        ),
        (
            b"stats cachedump 1\r\n",
            b"CLIENT_ERROR bad command line\r\n",
        ),
        (
            b"stats cachedump x 1\r\n",
            b"CLIENT_ERROR bad command line format\r\n",
        ),
    ] {
        assert_eq!(exchange(&mut stream, request, b"\r\n"), reply);
    }
    let off: Tailcache = start_tailcache(&["-m", "64", "-X"]);
    let mut stream = connect(off.memcache);
    assert_eq!(
        exchange(&mut stream, b"stats cachedump 1 0\r\n", b"\r\n"),
        b"CLIENT_ERROR stats cachedump not allowed\r\n"
    );
}

fn stat(stats: &[u8], name: &str) -> u64 {
    let text = String::from_utf8_lossy(stats);
    let prefix = format!("STAT {name} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .expect("a number")
}

/// `stats reset` zeroes memcached's counters in the memcache view, and a read that
/// meets a flushed item counts as get_flushed.
#[test]
fn stats_reset_zeroes_counters_and_dead_reads_are_counted() {
    let server: Tailcache = start_tailcache(&["-m", "64"]);
    let mut stream = connect(server.memcache);
    exchange(&mut stream, b"set a 0 0 1\r\nx\r\nget a b\r\n", b"END\r\n");
    let before = exchange(&mut stream, b"stats\r\n", b"END\r\n");
    assert_eq!(
        (stat(&before, "cmd_get"), stat(&before, "get_hits")),
        (2, 1)
    );
    assert_eq!(
        exchange(&mut stream, b"stats reset\r\n", b"\r\n"),
        b"RESET\r\n"
    );
    let after = exchange(&mut stream, b"stats\r\n", b"END\r\n");
    for name in [
        "cmd_get",
        "cmd_set",
        "get_hits",
        "get_misses",
        "total_items",
    ] {
        assert_eq!(stat(&after, name), 0, "{name} after reset");
    }
    assert_eq!(stat(&after, "curr_items"), 1, "items are not counters");
    // A read that meets a flushed item (sent with the flush, so no background step
    // reclaims it first) counts as get_flushed; the engine's tests count expired
    // reads exactly.
    exchange(&mut stream, b"flush_all\r\nget a\r\n", b"END\r\n");
    let dead = exchange(&mut stream, b"stats\r\n", b"END\r\n");
    assert_eq!(stat(&dead, "get_flushed"), 1);
    assert_eq!(stat(&dead, "cmd_get"), 1);
}

/// A client that asks for a 1 GB multiget and never reads costs the server no
/// more than its write buffer: memory stays bounded and other clients are served.
#[test]
fn a_multiget_nobody_reads_holds_bounded_memory() {
    // A heap much smaller than the bound. Growth is normally about 2 MiB, but one
    // loaded run with -m 64 grew 71 MiB: about the whole lazily mapped heap becoming
    // resident, not the reply (which the output cap bounds to a few MiB). With -m 16
    // that cannot reach the bound, and a buffered 1 GB reply still would.
    let server = start_tailcache(&["-m", "16", "-t", "1"]);
    let mut setter = connect(server.memcache);
    let value = vec![b'v'; 500_000];
    let request = [&b"set huge 0 0 500000\r\n"[..], &value, b"\r\n"].concat();
    assert_eq!(exchange(&mut setter, &request, b"\r\n"), b"STORED\r\n");
    let rss_before_kib = server.process.rss_kib();
    let mut silent = connect(server.memcache);
    let mut get = b"get".to_vec();
    for _ in 0..2_000 {
        get.extend_from_slice(b" huge");
    }
    get.extend_from_slice(b"\r\n");
    silent.write_all(&get).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Another client on the same worker is served while the first reads nothing.
    assert_eq!(
        exchange(&mut setter, b"get missing\r\n", b"END\r\n"),
        b"END\r\n"
    );
    let grown_kib = server.process.rss_kib().saturating_sub(rss_before_kib);
    assert!(
        grown_kib < 64 * 1024,
        "rss grew {grown_kib} KiB for a 1 GB reply nobody reads"
    );
    drop(silent);
}

/// `stats conns` rows by descriptor: field name to value.
fn conn_rows(reply: &[u8]) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut rows: std::collections::BTreeMap<u32, std::collections::BTreeMap<String, String>> =
        std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(reply).lines() {
        let Some(rest) = line.strip_prefix("STAT ") else {
            continue;
        };
        let (name, value) = rest.split_once(' ').expect("STAT name value");
        let (fd, field) = name.split_once(':').expect("FD:field");
        rows.entry(fd.parse().expect("a descriptor"))
            .or_default()
            .insert(field.to_owned(), value.to_owned());
    }
    rows.into_values().collect()
}

#[test]
fn stats_conns_lists_listeners_and_each_connection_as_memcached() {
    let server = start_tailcache(&["-t", "1"]);
    let listen_addr = format!("tcp:{}", server.memcache);
    let mut midway = connect(server.memcache);
    midway.write_all(b"set foo 0 0 6\r\n").unwrap();
    let idle = connect(server.memcache);
    let mut half_line = connect(server.memcache);
    half_line.write_all(b"get fo").unwrap();
    let mut asking = connect(server.memcache);
    let peers = [&midway, &idle, &half_line, &asking]
        .map(|stream| format!("tcp:{}", stream.local_addr().unwrap()));
    let states = |rows: &[std::collections::BTreeMap<String, String>]| {
        peers.clone().map(|peer| {
            rows.iter()
                .find(|row| row["addr"] == peer)
                .map(|row| {
                    assert_eq!(row["listen_addr"], listen_addr);
                    assert!(row["secs_since_last_cmd"].parse::<u32>().unwrap() <= 2);
                    row["state"].clone()
                })
                .unwrap_or_default()
        })
    };
    let expected = [
        "conn_nread",
        "conn_new_cmd",
        "conn_waiting",
        "conn_parse_cmd",
    ];
    // The worker reads the others' bytes in its own time: ask until it has.
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = conn_rows(&exchange(&mut asking, b"stats conns\r\n", b"END\r\n"));
        if states(&rows) == expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(states(&rows), expected, "{rows:#?}");
    let listener = rows
        .iter()
        .find(|row| row["state"] == "conn_listening" && row["addr"] == listen_addr)
        .unwrap_or_else(|| panic!("no memcache listener: {rows:#?}"));
    assert!(!listener.contains_key("listen_addr"));
    // A closed connection leaves the list.
    let gone = format!("tcp:{}", idle.local_addr().unwrap());
    drop(idle);
    let mut left = conn_rows(&[]);
    for _ in 0..100 {
        left = conn_rows(&exchange(&mut asking, b"stats conns\r\n", b"END\r\n"));
        if left.iter().all(|row| row["addr"] != gone) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(left.iter().all(|row| row["addr"] != gone), "{left:#?}");
    assert_eq!(left.len(), rows.len() - 1);
    // The connection mid-value is still served.
    midway.write_all(b"foobar\r\n").unwrap();
    assert_eq!(exchange(&mut midway, b"", b"\r\n"), b"STORED\r\n");
}

#[test]
fn shutdown_answers_as_memcached_and_stops_the_server_when_enabled() {
    let refused = b"shutdown\r\nshutdown graceful\r\nmn\r\n";
    let invalid = b"shutdown foo\r\nshutdown graceful now\r\nshutdown noreply\r\nmn\r\n";
    let (_memcached, memcached_addr) = support::start_memcached(&["-A"]);
    let (_plain, plain_addr) = support::start_memcached(&[]);
    let plain_tailcache = start_tailcache(&[]);
    let tailcache = start_tailcache(&["-A"]);
    let reply = |addr, script: &[u8]| exchange(&mut connect(addr), script, b"MN\r\n");
    let expected = reply(plain_addr, refused);
    assert!(expected.starts_with(b"ERROR: shutdown not enabled\r\n"));
    assert_eq!(reply(plain_tailcache.memcache, refused), expected);
    let expected = reply(memcached_addr, invalid);
    assert!(expected.starts_with(b"CLIENT_ERROR invalid shutdown mode\r\n"));
    assert_eq!(reply(tailcache.memcache, invalid), expected);
    // Enabled, each form stops the server as its signal does.
    for (mut server, command) in [
        (tailcache, &b"shutdown\r\n"[..]),
        (start_tailcache(&["-A"]), b"shutdown graceful\r\n"),
    ] {
        let mut stream = connect(server.memcache);
        stream.write_all(command).unwrap();
        assert_eq!(read_to_close(&mut stream), b"");
        let status = server
            .process
            .wait_exit(Duration::from_secs(10))
            .expect("the server stopped");
        assert!(status.success(), "{status:?}");
    }
}

#[test]
fn a_write_over_a_flushed_item_counts_as_reclaimed_as_memcached() {
    let flags = ["-o", "no_modern"];
    let (_memcached, memcached_addr) = support::start_memcached(&flags);
    let tailcache = start_tailcache(&flags);
    let mut streams = [connect(memcached_addr), connect(tailcache.memcache)];
    for stream in &mut streams {
        exchange(stream, b"set key 0 0 1\r\n1\r\n", b"\r\n");
    }
    // memcached's flush spares items stored in its own second.
    std::thread::sleep(Duration::from_millis(2100));
    let reclaimed: Vec<(u64, u64)> = streams
        .iter_mut()
        .map(|stream| {
            let before = stat(&exchange(stream, b"stats\r\n", b"END\r\n"), "reclaimed");
            exchange(
                stream,
                b"flush_all\r\nset key 0 0 1\r\n1\r\n",
                b"STORED\r\n",
            );
            let after = stat(&exchange(stream, b"stats\r\n", b"END\r\n"), "reclaimed");
            (before, after)
        })
        .collect();
    assert_eq!(reclaimed[0], (0, 1), "memcached");
    assert_eq!(reclaimed[1], reclaimed[0]);
}
