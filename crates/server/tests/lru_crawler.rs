//! `lru_crawler` against real memcached 1.6.18: the same commands get the same
//! replies, and `lru_crawler metadump` lists the same keys with the same fields,
//! except what legitimately differs: `cas` (each server numbers its own writes),
//! `size` (tailcache stores items smaller), `exp` of relative exptimes and `la`
//! (each server's clock, to a few seconds). Also the admin endpoint's
//! `/lru_crawler/metadump`, which streams the same lines.
//!
//! memcached must be installed: the test fails (it never skips) without it.
//!
//! Not compared, by design: memcached runs one crawler and answers `BUSY ...` to a
//! second crawl or dump (retried here); it drops requests pipelined after a
//! metadump, which tailcache serves.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::{connect, exchange, start_memcached, start_tailcache, Process};

/// One command on a fresh connection; the reply, which always ends in `\r\n`
/// (metadump's key lines end in a bare `\n`, its `END` in `\r\n`).
fn ask(addr: SocketAddr, command: &[u8]) -> String {
    let mut stream = connect(addr);
    let reply = exchange(&mut stream, command, b"\r\n");
    String::from_utf8(reply).expect("crawler replies are ASCII")
}

/// As [`ask`], but waits out a crawler being busy (memcached's own background
/// crawls, or the previous command's crawl on either server).
fn ask_when_idle(addr: SocketAddr, command: &[u8]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = ask(addr, command);
        if !reply.starts_with("BUSY ") || Instant::now() > deadline {
            return reply;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends every command with one connection and waits for all their replies.
fn load(addr: SocketAddr, commands: &[u8]) {
    let mut stream = connect(addr);
    let mut script = commands.to_vec();
    script.extend_from_slice(b"mn\r\n");
    let reply = exchange(&mut stream, &script, b"MN\r\n");
    let text = String::from_utf8_lossy(&reply);
    assert!(
        !text.contains("ERROR") && !text.contains("NS"),
        "load failed: {text}"
    );
}

/// Both servers, optionally with extra flags for both.
fn start_both(extra: &[&str]) -> (support::Tailcache, Process, SocketAddr) {
    let tailcache = start_tailcache(extra);
    let (memcached, memcached_addr) = start_memcached(extra);
    (tailcache, memcached, memcached_addr)
}

/// Commands whose replies match exactly (on a cache with one small item).
const SAME_REPLY: &[&str] = &[
    "lru_crawler",
    "lru_crawler metadump",
    "lru_crawler bogus",
    "lru_crawler enable",
    "lru_crawler enable now",
    "lru_crawler crawl all",
    "lru_crawler crawl 1,2",
    "lru_crawler crawl 63",
    "lru_crawler crawl 0",
    "lru_crawler crawl 64",
    "lru_crawler crawl hash",
    "lru_crawler crawl ,",
    "lru_crawler crawl abc",
    "lru_crawler crawl 1,abc",
    "lru_crawler crawl 4294967297",
    "lru_crawler crawl all extra",
    "lru_crawler sleep 1000001",
    "lru_crawler sleep 1000000",
    "lru_crawler sleep -1",
    "lru_crawler sleep abc",
    "lru_crawler sleep 4294967296",
    "lru_crawler sleep 100",
    "lru_crawler sleep 5 noreply",
    "lru_crawler tocrawl abc",
    "lru_crawler tocrawl -1",
    "lru_crawler tocrawl 0",
    "lru_crawler metadump 0",
    "lru_crawler metadump 64",
    "lru_crawler metadump x,1",
    "lru_crawler metadump 2",
    "lru_crawler metadump 2,3",
    "lru_crawler metadump all extra",
    // Last: in memcached a dump that does not start keeps its client attached, and
    // every later metadump answers `ERROR an unknown error happened` until a crawl
    // runs (a bug tailcache does not copy).
    "lru_crawler metadump ,",
];

#[test]
fn commands_and_bad_arguments_reply_as_memcached() {
    let (tailcache, _memcached, memcached) = start_both(&[]);
    for addr in [tailcache.memcache, memcached] {
        load(addr, b"set one 0 0 1 noreply\r\nx\r\n");
    }
    for command in SAME_REPLY {
        let line = format!("{command}\r\n");
        let ours = ask_when_idle(tailcache.memcache, line.as_bytes());
        let theirs = ask_when_idle(memcached, line.as_bytes());
        assert_eq!(ours, theirs, "reply to {command:?}");
    }
}

/// `stats` as name -> value.
fn stats(addr: SocketAddr, group: &str) -> BTreeMap<String, String> {
    let mut stream = connect(addr);
    let reply = exchange(
        &mut stream,
        format!("stats{group}\r\n").as_bytes(),
        b"END\r\n",
    );
    String::from_utf8(reply)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("STAT "))
        .filter_map(|line| line.split_once(' '))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// Items that expire while others live on are taken back by a crawl at once, counted
/// as memcached counts them. Two setups, loaded together so that they share one wait:
/// by default, items whose expiry a touch moved close (their segment or slab page
/// holds items that live on, so only a crawl or a read takes them early); and under
/// `-o no_lru_maintainer` (lru-crawler.t runs `no_modern`), plain short-lived items,
/// which nothing in the background takes there, in memcached or in tailcache.
#[test]
fn a_crawl_reclaims_expired_items_at_once_as_memcached_does() {
    let touched = start_both(&[]);
    let unmaintained = start_both(&["-o", "no_lru_maintainer"]);
    let mut touched_load = Vec::new();
    let mut short_load = Vec::new();
    for n in 0..30 {
        touched_load.extend(format!("set stay{n} 0 1000 2 noreply\r\nok\r\n").bytes());
        touched_load.extend(format!("set go{n} 0 1000 2 noreply\r\nok\r\n").bytes());
        touched_load.extend(format!("touch go{n} 1 noreply\r\n").bytes());
        short_load.extend(format!("set stay{n} 0 0 2 noreply\r\nok\r\n").bytes());
        short_load.extend(format!("set go{n} 0 1 2 noreply\r\nok\r\n").bytes());
    }
    for addr in [touched.0.memcache, touched.2] {
        load(addr, &touched_load);
    }
    for addr in [unmaintained.0.memcache, unmaintained.2] {
        load(addr, &short_load);
    }
    std::thread::sleep(Duration::from_millis(2500));
    for (tailcache, _memcached, memcached) in [&touched, &unmaintained] {
        for addr in [tailcache.memcache, *memcached] {
            assert_eq!(ask_when_idle(addr, b"lru_crawler crawl all\r\n"), "OK\r\n");
            let deadline = Instant::now() + Duration::from_secs(10);
            while stats(addr, "")["lru_crawler_running"] != "0" {
                assert!(Instant::now() < deadline, "the crawl never ended");
                std::thread::sleep(Duration::from_millis(20));
            }
            let general = stats(addr, "");
            assert_eq!(general["curr_items"], "30", "{addr}");
            assert_eq!(general["crawler_reclaimed"], "30", "{addr}");
            assert_eq!(
                stats(addr, " items")["items:1:crawler_reclaimed"],
                "30",
                "{addr}"
            );
        }
        let general = stats(tailcache.memcache, "");
        assert_eq!(general["lru_crawler_starts"], "1");
        assert!(general["crawler_items_checked"].parse::<u64>().unwrap() >= 60);
        let mut client = connect(tailcache.memcache);
        let reply = exchange(&mut client, b"get stay7 go7\r\n", b"END\r\n");
        assert_eq!(reply, b"VALUE stay7 0 2\r\nok\r\nEND\r\n");
    }
}

#[test]
fn disable_and_enable_as_memcached() {
    let (tailcache, _memcached, memcached) = start_both(&[]);
    let script: &[(&str, &str)] = &[
        ("lru_crawler disable", "OK\r\n"),
        ("lru_crawler disable", "OK\r\n"),
        (
            "lru_crawler metadump all",
            "CLIENT_ERROR lru crawler disabled\r\n",
        ),
        (
            "lru_crawler metadump 0",
            "CLIENT_ERROR lru crawler disabled\r\n",
        ),
        (
            "lru_crawler crawl all",
            "CLIENT_ERROR lru crawler disabled\r\n",
        ),
        (
            "lru_crawler crawl 0",
            "CLIENT_ERROR lru crawler disabled\r\n",
        ),
        ("lru_crawler sleep 5", "OK\r\n"),
        ("lru_crawler tocrawl 5", "OK\r\n"),
        ("lru_crawler enable", "OK\r\n"),
        (
            "lru_crawler enable",
            "ERROR failed to start lru crawler thread\r\n",
        ),
        ("lru_crawler metadump all", "END\r\n"),
    ];
    for (command, expected) in script {
        let line = format!("{command}\r\n");
        assert_eq!(
            ask(tailcache.memcache, line.as_bytes()),
            *expected,
            "tailcache: {command}"
        );
        // memcached's disable only asks its crawler thread to stop: wait for it.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut theirs = ask_when_idle(memcached, line.as_bytes());
        while theirs != *expected && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            theirs = ask_when_idle(memcached, line.as_bytes());
        }
        assert_eq!(theirs, *expected, "memcached: {command}");
    }
}

#[test]
fn dumps_are_refused_under_minus_x() {
    let (tailcache, _memcached, memcached) = start_both(&["-X"]);
    for command in [
        "lru_crawler metadump all",
        "lru_crawler metadump hash",
        "lru_crawler metadump 0",
        "lru_crawler crawl all",
        "stats cachedump 1 0",
    ] {
        let line = format!("{command}\r\n");
        let ours = ask(tailcache.memcache, line.as_bytes());
        assert_eq!(ours, ask_when_idle(memcached, line.as_bytes()), "{command}");
    }
    assert_eq!(
        ask(tailcache.memcache, b"lru_crawler metadump all\r\n"),
        "ERROR metadump not allowed\r\n"
    );
}

/// One metadump line's fields by name.
type Fields = BTreeMap<String, String>;

/// The key lines of a metadump reply, by key (which stays url-encoded); panics on
/// a missing `END` or a key listed twice.
fn parse_dump(reply: &str) -> BTreeMap<String, Fields> {
    let body = reply
        .strip_suffix("END\r\n")
        .unwrap_or_else(|| panic!("no END: {reply:?}"));
    let mut items = BTreeMap::new();
    for line in body.split_terminator('\n') {
        let fields: Fields = line
            .split(' ')
            .map(|field| {
                let (name, value) = field.split_once('=').expect("name=value");
                (name.to_owned(), value.to_owned())
            })
            .collect();
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["cas", "cls", "exp", "fetch", "key", "la", "size"],
            "{line}"
        );
        assert!(line.starts_with("key="), "key comes first: {line}");
        let key = fields["key"].clone();
        assert!(items.insert(key, fields).is_none(), "listed twice: {line}");
    }
    items
}

fn number(fields: &Fields, name: &str) -> i64 {
    fields[name]
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number: {fields:?}"))
}

/// Seconds apart two times may be and still agree: each server has its own clock.
const CLOCK_SLACK_SECS: i64 = 3;

fn assert_same_items(ours: &BTreeMap<String, Fields>, theirs: &BTreeMap<String, Fields>) {
    let our_keys: Vec<&String> = ours.keys().collect();
    let their_keys: Vec<&String> = theirs.keys().collect();
    assert_eq!(our_keys, their_keys, "keys listed");
    for (key, our) in ours {
        let their = &theirs[key];
        assert_eq!(our["fetch"], their["fetch"], "fetch of {key}");
        assert_eq!(our["cls"], their["cls"], "cls of {key}");
        for name in ["exp", "la"] {
            let (a, b) = (number(our, name), number(their, name));
            let same = a == b || (a > 0 && b > 0 && (a - b).abs() <= CLOCK_SLACK_SECS);
            assert!(same, "{name} of {key}: ours {a}, memcached {b}");
        }
        assert!(number(our, "cas") > 0 && number(our, "size") > 0, "{our:?}");
    }
}

#[test]
fn metadump_lists_the_same_items_as_memcached() {
    let (tailcache, _memcached, memcached) = start_both(&[]);
    let far = 2_000_000_000u32;
    let script = format!(
        "set plain 0 0 1 noreply\r\nx\r\n\
         set a%b 5 0 1 noreply\r\nx\r\n\
         set sl/ash?q=1&r 0 100 2 noreply\r\nxy\r\n\
         set ~tilde.-_ 7 {far} 1 noreply\r\nz\r\n\
         set caf\u{e9}+\x01\x7f 0 0 1 noreply\r\nx\r\n\
         set read 0 0 1 noreply\r\nx\r\n\
         set short 0 1 1 noreply\r\nx\r\n\
         set gone 0 0 1 noreply\r\nx\r\n\
         delete gone noreply\r\n\
         ms AP8g 1 b T0\r\nq\r\n\
         get read\r\n"
    );
    for addr in [tailcache.memcache, memcached] {
        load(addr, script.as_bytes());
    }
    // Past `short`'s expiry on both clocks (memcached's ticks once a second).
    std::thread::sleep(Duration::from_millis(3100));
    let ours = parse_dump(&ask(tailcache.memcache, b"lru_crawler metadump all\r\n"));
    let theirs = parse_dump(&ask_when_idle(memcached, b"lru_crawler metadump all\r\n"));
    assert_same_items(&ours, &theirs);
    let keys: Vec<&str> = ours.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "%00%FF%20",
            "a%25b",
            "caf%C3%A9%2B%01%7F",
            "plain",
            "read",
            "sl%2Fash%3Fq%3D1%26r",
            "~tilde.-_"
        ],
        "expired and deleted items are left out, keys url-encoded"
    );
    assert_eq!(ours["read"]["fetch"], "yes");
    assert_eq!(ours["plain"]["fetch"], "no");
    assert_eq!(ours["~tilde.-_"]["exp"], far.to_string());
    assert_eq!(ours["plain"]["exp"], "-1");
    assert_eq!(ours["plain"]["cls"], "1");
    for target in ["hash", "1", "1,2", "3,1"] {
        let line = format!("lru_crawler metadump {target}\r\n");
        let ours = parse_dump(&ask(tailcache.memcache, line.as_bytes()));
        let theirs = parse_dump(&ask_when_idle(memcached, line.as_bytes()));
        assert_same_items(&ours, &theirs);
    }
}

#[test]
fn ten_thousand_keys_are_each_listed_once() {
    const KEYS: usize = 10_000;
    let (tailcache, _memcached, memcached) = start_both(&[]);
    let mut script = Vec::new();
    for n in 0..KEYS {
        script.extend_from_slice(format!("set key:{n} {n} 0 1 noreply\r\nx\r\n").as_bytes());
    }
    for addr in [tailcache.memcache, memcached] {
        load(addr, &script);
    }
    let ours = parse_dump(&ask(tailcache.memcache, b"lru_crawler metadump all\r\n"));
    assert_eq!(
        ours.len(),
        KEYS,
        "every key once (parse_dump refuses repeats)"
    );
    let theirs = parse_dump(&ask_when_idle(memcached, b"lru_crawler metadump hash\r\n"));
    assert_same_items(&ours, &theirs);
}

#[test]
fn requests_pipelined_after_a_metadump_are_served() {
    let tailcache = start_tailcache(&[]);
    load(tailcache.memcache, b"set k 0 0 1 noreply\r\nx\r\n");
    let mut stream = connect(tailcache.memcache);
    let reply = exchange(
        &mut stream,
        b"lru_crawler metadump all\r\nget k\r\n",
        b"VALUE k 0 1\r\nx\r\nEND\r\n",
    );
    let text = String::from_utf8(reply).expect("ASCII");
    assert!(text.starts_with("key=k exp=-1 la="), "{text}");
    assert!(text.contains(" fetch=no cls=1 size="), "{text}");
}

#[test]
fn a_metadump_behind_unsent_replies_is_refused_as_memcached_does() {
    // memcached's lru-crawler.t: a reply still queued refuses the dump.
    let tailcache = start_tailcache(&[]);
    let mut stream = connect(tailcache.memcache);
    let reply = exchange(
        &mut stream,
        b"mg foo v\r\nlru_crawler metadump all\r\n",
        b"before metadump\r\n",
    );
    assert_eq!(
        reply,
        b"EN\r\nERROR cannot pipeline other commands before metadump\r\n"
    );
}

/// The whole HTTP response to `request` (the admin closes after a dump).
fn http(addr: SocketAddr, request: &str) -> (String, Vec<u8>) {
    let mut stream = connect(addr);
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("read to the close");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    (head, response[split + 4..].to_vec())
}

fn dechunk(mut chunked: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let end = chunked.windows(2).position(|w| w == b"\r\n").expect("size");
        let size = std::str::from_utf8(&chunked[..end]).expect("hex");
        let size = usize::from_str_radix(size, 16).expect("hex size");
        chunked = &chunked[end + 2..];
        if size == 0 {
            assert_eq!(chunked, b"\r\n", "the last chunk ends the body");
            return body;
        }
        body.extend_from_slice(&chunked[..size]);
        assert_eq!(&chunked[size..size + 2], b"\r\n");
        chunked = &chunked[size + 2..];
    }
}

#[test]
fn admin_metadump_streams_the_same_lines() {
    const KEYS: usize = 5000;
    let tailcache = start_tailcache(&[]);
    let (memcache, admin) = (tailcache.memcache, tailcache.admin);
    let mut script = Vec::new();
    for n in 0..KEYS {
        script.extend_from_slice(format!("set adm%{n} 0 0 1 noreply\r\nx\r\n").as_bytes());
    }
    load(memcache, &script);
    let keys_of = |reply: &str| -> HashSet<String> { parse_dump(reply).into_keys().collect() };
    let over_memcache = keys_of(&ask(memcache, b"lru_crawler metadump all\r\n"));
    assert_eq!(over_memcache.len(), KEYS);

    let (head, body) = http(
        admin,
        "GET /lru_crawler/metadump HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    let body = String::from_utf8(dechunk(&body)).expect("ASCII");
    assert_eq!(keys_of(&body), over_memcache);

    let (head, body) = http(admin, "GET /lru_crawler/metadump?hash HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body = String::from_utf8(body).expect("ASCII");
    assert_eq!(keys_of(&body), over_memcache);

    let (head, _) = http(admin, "GET /lru_crawler/metadump?bogus HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
}

#[test]
fn admin_metadump_is_refused_under_minus_x() {
    let tailcache = start_tailcache(&["-X"]);
    let admin = tailcache.admin;
    let (head, body) = http(admin, "GET /lru_crawler/metadump HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert_eq!(body, b"key dumps are disabled (-X)\n");
}
