//! memcached's `watch`: the log lines of random command sequences side by side
//! with memcached 1.6.18, and evictions, connection events, a full watcher
//! buffer, the watcher limit, -W and `stats log_watchers`.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::rng::Rng;
use support::{connect, exchange, read_until, start_memcached, start_tailcache};

/// Opens a watcher of `topics` (`watch <topics>`), checking the `OK`.
fn watcher(addr: SocketAddr, topics: &str) -> TcpStream {
    let mut watcher = connect(addr);
    let reply = exchange(
        &mut watcher,
        format!("watch {topics}\r\n").as_bytes(),
        b"\r\n",
    );
    assert_eq!(reply, b"OK\r\n", "watch {topics}");
    watcher
}

/// Reads log lines until one contains `marker`; returns those before it.
fn lines_until(watcher: &mut TcpStream, marker: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut pending = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line).trim_end().to_owned();
            if line.contains(marker) {
                return lines;
            }
            lines.push(line);
        }
        assert!(
            Instant::now() < deadline,
            "no {marker:?} line; got {lines:#?}"
        );
        let n = watcher.read(&mut chunk).expect("watcher read");
        assert!(n > 0, "watcher closed before {marker:?}");
        pending.extend_from_slice(&chunk[..n]);
    }
}

/// A line as both servers can agree on it: without its time, line id and
/// connection fd, and with any TTL above 0 as `N` (the servers' clocks tick apart).
fn comparable(line: &str) -> String {
    line.split(' ')
        .filter(|field| !field.starts_with("ts=") && !field.starts_with("gid="))
        .filter(|field| !field.starts_with("cfd="))
        .map(|field| match field.strip_prefix("ttl=") {
            Some(ttl) if ttl != "0" => "ttl=N".to_owned(),
            _ => field.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One random command on keys of `prefix`.
fn random_command(rng: &mut Rng, prefix: &str) -> String {
    let key = format!("{prefix}{}", rng.pick(&["a", "b", "n", "long-key_~.x"]));
    let other = format!("{prefix}{}", rng.pick(&["a", "b", "c"]));
    let exptime = *rng.pick(&[0, 0, 1000]);
    let noreply = if rng.percent(15) { " noreply" } else { "" };
    let value = *rng.pick(&["1", "42", "xy", "hello"]);
    let len = value.len();
    match rng.below(17) {
        0 => format!("set {key} 0 {exptime} {len}{noreply}\r\n{value}\r\n"),
        1 => format!("add {key} 0 {exptime} {len}{noreply}\r\n{value}\r\n"),
        2 => format!("replace {key} 0 {exptime} {len}{noreply}\r\n{value}\r\n"),
        3 => format!("append {key} 0 0 {len}{noreply}\r\n{value}\r\n"),
        4 => format!("prepend {key} 0 0 {len}{noreply}\r\n{value}\r\n"),
        // A CAS no item has: EXISTS or NOT_FOUND.
        5 => format!("cas {key} 0 0 {len} 999999999{noreply}\r\n{value}\r\n"),
        6 => format!("get {key} {other}\r\n"),
        7 => format!("gets {key}\r\n"),
        8 => format!("gat {exptime} {key} {other}\r\n"),
        9 => format!("touch {key} {exptime}{noreply}\r\n"),
        10 => format!("incr {key} 3{noreply}\r\n"),
        11 => format!("decr {key} 1{noreply}\r\n"),
        12 => format!("delete {key}{noreply}\r\n"),
        13 => format!("mg {key} {}\r\n", rng.pick(&["v", "s t", "", "v c"])),
        14 => format!("ms {key} {len} T{exptime}\r\n{value}\r\n"),
        15 => format!("md {key}\r\n"),
        _ => format!("ma {key} {}\r\n", rng.pick(&["", "N0 J5", "MD"])),
    }
}

/// The comparable lines a watcher of fetchers and mutations sees for `commands`.
fn watched_lines(addr: SocketAddr, commands: &[String], end_key: &str) -> Vec<String> {
    let mut watcher = watcher(addr, "fetchers mutations");
    let mut client = connect(addr);
    for command in commands {
        client.write_all(command.as_bytes()).unwrap();
    }
    // Its own lookup line marks the end: lines come in the order the commands ran.
    client
        .write_all(format!("get {end_key}\r\n").as_bytes())
        .unwrap();
    let lines = lines_until(&mut watcher, &format!("key={end_key} "));
    lines.iter().map(|line| comparable(line)).collect()
}

#[test]
fn watched_lines_match_memcached_for_random_sequences() {
    let (_memcached, memcached) = start_memcached(&[]);
    let tailcache = start_tailcache(&[]);
    let ours = tailcache.addr("memcache");
    let mut rng = Rng::new(0x3a7c_4e11);
    let sequences = 100;
    for sequence in 0..sequences {
        let prefix = format!("s{sequence}-");
        let commands: Vec<String> = (0..25).map(|_| random_command(&mut rng, &prefix)).collect();
        let end_key = format!("end-{sequence}");
        let theirs = watched_lines(memcached, &commands, &end_key);
        let mine = watched_lines(ours, &commands, &end_key);
        assert_eq!(
            mine,
            theirs,
            "sequence {sequence} logs differently (left tailcache, right memcached); commands:\n{}",
            commands.concat()
        );
    }
}

/// `stats` field `name` of the server at `addr`.
fn stat(addr: SocketAddr, name: &str) -> u64 {
    let mut client = connect(addr);
    let stats = exchange(&mut client, b"stats\r\n", b"END\r\n");
    let stats = String::from_utf8(stats).unwrap();
    let prefix = format!("STAT {name} ");
    stats
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in stats"))
        .parse()
        .unwrap()
}

/// Waits up to 5 s for `stats` field `name` to read `want`.
fn wait_for_stat(addr: SocketAddr, name: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while stat(addr, name) != want {
        assert!(Instant::now() < deadline, "{name} never read {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn evictions_connections_full_buffers_and_limits() {
    let server = start_tailcache(&["-m", "8", "-o", "watcher_logbuf_size=4"]);
    let addr = server.addr("memcache");

    // Evictions: a cache four times over full reports what it drops.
    let mut evictions = watcher(addr, "evictions");
    let mut client = connect(addr);
    let value = "v".repeat(1000);
    for n in 0..32_000 {
        write!(client, "set fill{n} 0 0 1000 noreply\r\n{value}\r\n").unwrap();
    }
    exchange(&mut client, b"mn\r\n", b"MN\r\n");
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        let mut byte = [0u8; 1];
        evictions.read_exact(&mut byte).unwrap();
        line.push(byte[0]);
    }
    let line = String::from_utf8(line).unwrap();
    let fields: Vec<&str> = line.trim_end().split(' ').collect();
    assert!(
        fields[0].starts_with("ts=") && fields[1].starts_with("gid="),
        "{line}"
    );
    assert_eq!(fields[2], "type=eviction", "{line}");
    assert!(fields[3].starts_with("key=fill"), "{line}");
    assert_eq!(&fields[4..6], ["fetch=no", "ttl=-1"], "{line}");
    // Seconds since last access: the fill took a few at most.
    let idle_secs: u64 = fields[6].strip_prefix("la=").unwrap().parse().unwrap();
    assert!(idle_secs < 30, "{line}");
    assert_eq!(&fields[7..], ["clsid=1", "size=1000"], "{line}");
    drop(evictions);

    // Connections: opened, closed normally, closed on a protocol error.
    let mut conns = watcher(addr, "connevents");
    let mut quitting = connect(addr);
    quitting.write_all(b"version\r\nquit\r\n").unwrap();
    let mut broken = connect(addr);
    broken.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let line = String::from_utf8(read_until(&mut conns, b"\n")).unwrap();
        seen.extend(line.lines().map(str::to_owned));
    }
    let closes: Vec<&String> = seen.iter().filter(|l| l.contains("conn_close")).collect();
    assert_eq!(
        seen.iter()
            .filter(|l| l.contains("type=conn_new rip=127.0.0.1 rport="))
            .count(),
        2,
        "{seen:#?}"
    );
    assert!(
        closes
            .iter()
            .any(|l| l.contains("transport=tcp reason=normal cfd=")),
        "{seen:#?}"
    );
    assert!(
        closes
            .iter()
            .any(|l| l.contains("transport=tcp reason=error cfd=")),
        "{seen:#?}"
    );

    // A watcher that cannot keep up loses lines, and says how many.
    let mut fetches = watcher(addr, "fetchers");
    let mut skipped_line = None;
    for round in 0..20 {
        let batch: String = (0..5_000)
            .map(|n| format!("get miss-{round}-{n}\r\n"))
            .collect();
        client.write_all(batch.as_bytes()).unwrap();
        client.write_all(b"mn\r\n").unwrap();
        read_until(&mut client, b"MN\r\n");
        // What got through, until nothing more comes: the buffer is then empty,
        // so the marker's line has room (behind the `skipped=` line it owes).
        let mut drained = Vec::new();
        fetches
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut chunk = [0u8; 64 * 1024];
        while let Ok(n @ 1..) = fetches.read(&mut chunk) {
            drained.extend_from_slice(&chunk[..n]);
        }
        fetches
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        client
            .write_all(format!("get round-{round}\r\n").as_bytes())
            .unwrap();
        read_until(&mut client, b"END\r\n");
        let mut lines = lines_until(&mut fetches, &format!("key=round-{round} "));
        let drained = String::from_utf8_lossy(&drained);
        lines.extend(drained.lines().map(str::to_owned));
        if let Some(line) = lines.iter().find(|l| l.starts_with("skipped=")) {
            skipped_line = Some(line.clone());
            break;
        }
    }
    let skipped_line = skipped_line.expect("a 4 KiB buffer overflows");
    let skipped: u64 = skipped_line["skipped=".len()..].parse().unwrap();
    assert!(skipped > 0);
    assert!(stat(addr, "log_watcher_skipped") >= skipped);

    // At most 20 watchers; closed ones stop counting. The evictions watcher closed
    // long ago, but the server learns it from the socket, in its own time.
    wait_for_stat(addr, "log_watchers", 2);
    let mut more: Vec<TcpStream> = (0..18).map(|_| watcher(addr, "mutations")).collect();
    let mut refused = connect(addr);
    let reply = exchange(&mut refused, b"watch\r\n", b"\r\n");
    assert_eq!(reply, b"WATCHER_TOO_MANY log watcher limit reached\r\n");
    assert_eq!(
        exchange(&mut refused, b"mn\r\n", b"\r\n"),
        b"MN\r\n",
        "still served"
    );
    more.clear();
    drop(conns);
    drop(fetches);
    wait_for_stat(addr, "log_watchers", 0);
    more.push(watcher(addr, "mutations"));

    // -W: watch is refused, the connection goes on.
    let refusing = start_tailcache(&["-W"]);
    let mut client = refusing.connect("memcache");
    let reply = exchange(&mut client, b"watch mutations\r\n", b"\r\n");
    assert_eq!(reply, b"CLIENT_ERROR watch commands not allowed\r\n");
    assert_eq!(
        exchange(&mut client, b"watch nonsense\r\n", b"\r\n"),
        b"ERROR\r\n"
    );
}

/// One binary request packet.
fn binary(opcode: u8, extras: &[u8], key: &[u8], value: &[u8]) -> Vec<u8> {
    use tailcache_protocol::memcache::binary::BinaryHeader;
    let header = BinaryHeader {
        opcode,
        opaque: 0,
        cas: 0,
    };
    let mut packet = Vec::new();
    tailcache_protocol::memcache::binary_encode::encode_request(
        &mut packet,
        &header,
        extras,
        key,
        value,
    );
    packet
}

#[test]
fn binary_requests_log_as_memcached_logs_them() {
    use tailcache_protocol::memcache::binary::opcode as op;
    let (_memcached, memcached) = start_memcached(&[]);
    let tailcache = start_tailcache(&[]);
    let set_extras = [0u8; 8];
    let arith_extras = [[0u8; 7].as_slice(), &[1], &[0; 8], &[0; 4]].concat();
    let touch_extras = 100u32.to_be_bytes();
    let requests: Vec<Vec<u8>> = vec![
        binary(op::GET, &[], b"b-miss", &[]),
        binary(op::SET, &set_extras, b"b-one", b"value"),
        binary(op::GETK, &[], b"b-one", &[]),
        binary(op::GAT, &touch_extras, b"b-one", &[]),
        binary(op::TOUCH, &touch_extras, b"b-miss", &[]),
        binary(op::APPEND, &[], b"b-one", b"++"),
        binary(op::INCREMENT, &arith_extras, b"b-count", &[]),
        binary(op::INCREMENT, &arith_extras, b"b-count", &[]),
        binary(op::DELETE, &[], b"b-one", &[]),
        binary(op::DELETE, &[], b"b-one", &[]),
        // Its own lookup line marks the end: sent on the same connection, as
        // memcached orders lines per worker thread only.
        binary(op::GET, &[], b"b-end", &[]),
    ];
    let mut transcripts = Vec::new();
    for addr in [tailcache.addr("memcache"), memcached] {
        let mut watcher = watcher(addr, "fetchers mutations");
        let mut client = connect(addr);
        for request in &requests {
            client.write_all(request).unwrap();
        }
        let lines = lines_until(&mut watcher, "key=b-end ");
        transcripts.push(lines.iter().map(|l| comparable(l)).collect::<Vec<_>>());
    }
    assert_eq!(
        transcripts[0], transcripts[1],
        "left tailcache, right memcached"
    );
    assert!(transcripts[0].len() >= 10, "{:#?}", transcripts[0]);
}

#[test]
fn a_watch_behind_pipelined_requests_is_accepted_as_memcached_accepts_it() {
    let (_memcached, memcached) = start_memcached(&[]);
    let tailcache = start_tailcache(&[]);
    for addr in [tailcache.addr("memcache"), memcached] {
        // The earlier reply goes out first; the log lines follow the OK.
        let mut client = connect(addr);
        let reply = exchange(&mut client, b"mn\r\nwatch fetchers\r\n", b"OK\r\n");
        assert_eq!(reply, b"MN\r\nOK\r\n", "{addr}");
        let mut other = connect(addr);
        exchange(&mut other, b"get pipelined-end\r\n", b"END\r\n");
        assert!(lines_until(&mut client, "key=pipelined-end ").is_empty());
    }
}
