//! The same memcache command scripts (correct and malformed) go to real
//! memcached and to tailcache; the replies must match byte for byte after
//! normalising only what legitimately differs:
//!
//! - CAS values (`VALUE ... <cas>`, meta `c<cas>`): each server numbers
//!   its own writes.
//! - `VERSION <v>`: tailcache reports `1.6.18-tailcache-<its version>`.
//! - `STAT` lines: values (pid, uptime, counters) and the set of names
//!   differ; the framing (`END`) is compared.
//! - `ME <key> ...`: item internals (slab class, sizes) differ by design.
//!
//! memcached must be installed: the test fails (it never skips) without it.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use support::{connect, read_until, start_memcached, start_tailcache};

/// Appended to every script: its unique miss reply marks the end of the
/// replies (a script that makes the server close ends at EOF instead).
const SENTINEL: &[u8] = b"mg __end_of_script__ k Oend\r\n";
/// The reply to [`SENTINEL`].
const SENTINEL_REPLY: &[u8] = b"EN k__end_of_script__ Oend\r\n";

fn value_block(len: usize) -> Vec<u8> {
    vec![b'v'; len]
}

/// Command scripts as data: (name, bytes sent on a fresh connection).
fn scripts() -> Vec<(&'static str, Vec<u8>)> {
    let long_key = "k".repeat(251);
    let max_key = "m".repeat(250);
    let mut too_large = b"set big:1 0 0 2000000\r\n".to_vec();
    too_large.extend(value_block(2_000_000));
    too_large.extend_from_slice(b"\r\nget big:1\r\n");
    let mut replaced_by_too_large = b"set big:2 0 0 1\r\nx\r\nset big:2 0 0 2000000\r\n".to_vec();
    replaced_by_too_large.extend(value_block(2_000_000));
    replaced_by_too_large.extend_from_slice(b"\r\nget big:2\r\n");
    let text = |s: &str| s.as_bytes().to_vec();
    let mut long_set_line = b"set ".to_vec();
    long_set_line.extend(vec![b'x'; 4000]);
    long_set_line.extend_from_slice(b" 0 0 1\r\nx\r\n");
    let data_line = "d".repeat(3000);
    let refused_set_then_long_data_line = format!(
        "set rs:a abc 0 3000 noreply\r\n{data_line}\r\nset rs:a 0 abc 3000 noreply\r\n{data_line}\r\nset rs:a 0 0 -1 noreply\r\n{data_line}\r\nset rs:a 1x 0 3000\r\n{data_line}\r\nset rs:a 0 0 3000 noreply\r\n{data_line}\r\nget rs:a\r\n"
    );
    let huge_multiget = format!(
        "set hm:a 0 0 2\r\nhi\r\nget {}\r\nget hm:a\r\n",
        "hm:a hm:b ".repeat(10_000)
    );
    vec![
        ("command line over 2048 bytes that arrives whole", long_set_line),
        ("refused set then a data line over 2048 bytes", refused_set_then_long_data_line.into_bytes()),
        ("multiget of 20000 keys", huge_multiget.into_bytes()),
        ("verbosity and slabs errors", text("verbosity invalid\r\nverbosity x noreply\r\nverbosity 1 2 3\r\nslabs automove invalid\r\nslabs automove x noreply\r\nslabs reassign x 1\r\nslabs\r\n")),
        ("commands dispatched by name ignore a trailing HTTP/", text("get / HTTP/1.0\r\nsget / HTTP/1.0\r\nreplace HTTP/1.1\r\nGET / HTTP/1.1 x\r\n")),
        ("GET request line closes", text("GET / HTTP/1.0\r\nget h:a\r\n")),
        ("PUT request line closes", text("PUT /asdf/asd/fasdfasdf/sadf HTTP/1.1\r\n")),
        ("DELETE request line closes", text("DELETE HTTP/1.1\r\n")),
        ("HTTP token 23 closes", format!("FOO{} HTTP/1.1 b c\r\n", " a".repeat(21)).into_bytes()),
        ("storage", text("set s:a 5 0 2\r\nhi\r\nget s:a s:b\r\nadd s:a 0 0 1\r\nx\r\nadd s:b 7 0 1\r\ny\r\nreplace s:c 0 0 1\r\nz\r\nreplace s:b 9 0 2\r\nyy\r\nappend s:a 0 0 1\r\n!\r\nprepend s:a 0 0 1\r\n<\r\nappend s:none 0 0 1\r\n!\r\nget s:a s:b s:none\r\n")),
        ("empty and binary values", b"set e:a 0 0 0\r\n\r\nget e:a\r\nset e:b 4294967295 0 4\r\n\x00\r\n\xff\r\nget e:b\r\n".to_vec()),
        ("gets and cas", text("set c:a 0 0 1\r\n1\r\ngets c:a\r\ncas c:a 0 0 1 1\r\n2\r\ncas c:missing 0 0 1 1\r\n2\r\ncas c:a 0 0 1 abc\r\n2\r\n")),
        ("incr decr", text("set n:a 0 0 2\r\n10\r\nincr n:a 5\r\ndecr n:a 3\r\ndecr n:a 100\r\nincr n:a 10\r\nincr n:missing 1\r\nset n:max 0 0 20\r\n18446744073709551615\r\nincr n:max 2\r\nincr n:max 10\r\nset n:word 0 0 3\r\nabc\r\nincr n:word 1\r\nincr n:a abc\r\nincr n:a -1\r\nincr n:a 18446744073709551616\r\nget n:a\r\n")),
        ("delete forms", text("set d:a 0 0 1\r\nx\r\ndelete d:a\r\ndelete d:a\r\nset d:b 0 0 1\r\nx\r\ndelete d:b 0\r\ndelete d:b 5\r\ndelete d:b noreply\r\ndelete\r\n")),
        ("touch gat gats", text("set t:a 3 0 1\r\nx\r\ntouch t:a 100\r\ntouch t:missing 100\r\ngat 100 t:a t:missing\r\ngats 100 t:a\r\ngat abc t:a\r\ntouch t:a abc\r\ngat\r\n")),
        ("expiry", text("set x:past 0 -1 1\r\nx\r\nget x:past\r\nset x:abs 0 1 1\r\nx\r\nset x:future 0 100 1\r\ny\r\nget x:future\r\ntouch x:future -1\r\nget x:future\r\n")),
        ("noreply", text("set q:a 0 0 1 noreply\r\na\r\nadd q:a 0 0 1 noreply\r\nb\r\nreplace q:a 0 0 1 noreply\r\nc\r\nappend q:a 0 0 1 noreply\r\nd\r\nprepend q:a 0 0 1 noreply\r\ne\r\nset q:n 0 0 1 noreply\r\n5\r\nincr q:n 2 noreply\r\ndecr q:n 1 noreply\r\ntouch q:a 10 noreply\r\ndelete q:missing noreply\r\nget q:a q:n\r\nverbosity 1 noreply\r\ncas q:a 0 0 1 1 noreply\r\nz\r\ncas q:none 0 0 1 1 noreply\r\nz\r\nflush_all 0 noreply\r\nget q:a\r\n")),
        ("unknown and malformed commands", text("bogus\r\n\r\nGET s:a\r\nset k\r\nset k 0 0\r\nset f:a abc 0 1\r\nx\r\nset f:b 0 0 -1\r\nset f:c 0 0 abc\r\nget\r\nincr\r\nflush_all abc\r\nverbosity\r\n")),
        ("key length", format!("set {max_key} 0 0 1\r\nx\r\nget {max_key}\r\nget {long_key}\r\nset {long_key} 0 0 1\r\nx\r\ndelete {long_key}\r\nincr {long_key} 1\r\ntouch {long_key} 1\r\n").into_bytes()),
        ("value too large is swallowed", too_large),
        ("value too large drops the old item", replaced_by_too_large),
        ("bad data chunk", text("set b:a 0 0 1\r\nxyz\r\nget b:a\r\n")),
        ("flush_all", text("set fl:a 0 0 1\r\nx\r\nflush_all 0\r\nget fl:a\r\nset fl:b 0 0 1\r\ny\r\nflush_all 100\r\nget fl:b\r\nflush_all noreply\r\nget fl:b\r\n")),
        // One prefix only: memcached dumps prefixes in its hash table's order.
        ("stats detail", text("stats detail dump\r\nstats detail on\r\nset foo:123 0 0 6\r\nfooval\r\nstats detail dump\r\nget foo:123\r\nget foo:124 foo:123\r\ngets nodelimiter\r\ndelete foo:125\r\nadd foo:123 0 0 1 noreply\r\nx\r\nstats detail dump\r\nstats reset\r\nstats detail dump\r\ngat 0 foo:123\r\nstats detail dump\r\nstats detail off\r\nget foo:124\r\nstats detail dump\r\nstats reset\r\n")),
        ("version verbosity stats", text("version\r\nverbosity 1\r\nverbosity 0\r\nstats\r\nstats settings\r\nstats bogus\r\nstats detail\r\nstats detail on\r\nstats detail off\r\nstats reset\r\nstats items\r\nstats slabs\r\nstats sizes\r\nstats conns\r\n")),
        ("quit", text("set qu:a 0 0 1\r\nx\r\nquit\r\nget qu:a\r\n")),
        ("meta basic", text("ms m:a 2 T0 F5\r\nhi\r\nmg m:a v\r\nmg m:a v f s t k\r\nmg m:a\r\nmg m:missing v\r\nmg m:missing v k Oabc\r\nmg m:a v Oxyz k q\r\nmg m:missing v q\r\nmn\r\nmd m:a\r\nmd m:a\r\nmd m:a q\r\nmn\r\n")),
        ("meta set modes", text("ms ms:a 1 ME\r\na\r\nms ms:a 1 ME\r\nb\r\nms ms:b 1 MR\r\nb\r\nms ms:a 1 MA\r\nc\r\nms ms:a 1 MP\r\nd\r\nmg ms:a v\r\nms ms:a 1 MX\r\ne\r\nms ms:a 1 MSS\r\ne\r\nms ms:a 1 c q\r\nz\r\nmn\r\nms ms:a 1 C1\r\nq\r\n")),
        ("meta arithmetic", text("ma ma:a\r\nma ma:a N0 J10 v\r\nma ma:a v\r\nma ma:a MD D4 v\r\nma ma:a MI D100\r\nmg ma:a v\r\nma ma:a q D1\r\nmn\r\nma ma:a D-1\r\nma ma:a J-1\r\nma ma:a MX\r\nms ma:w 1\r\nx\r\nma ma:w\r\n")),
        ("meta base64 keys", text("ms Zm9v 2 b\r\nhi\r\nmg Zm9v b v k\r\nmg foo v\r\nmg !!!! b v\r\nmd Zm9v b q\r\nmg Zm9v b v\r\n")),
        ("meta flag errors", text("mg m:a zz\r\nmg m:a v v\r\nmg m:a T\r\nmg m:a Tabc\r\nmg m:a O0123456789012345678901234567890123\r\nmg\r\nms m:a\r\nms m:a abc\r\nms m:a 2 Fabc\r\nhi\r\nmd m:a zz\r\nmg m:a v k f s t c h l O1 q T1 N1 R1 E1 a b d e g i\r\n")),
        ("meta stale and win", text("ms w:a 2 T100\r\nhi\r\nmd w:a I T30\r\nmg w:a v t\r\nmg w:a v t\r\nms w:b 1 T100\r\nx\r\nmg w:b v R200\r\nmg w:b v R200\r\nmg w:new N30 v s t\r\nmg w:new v s\r\n")),
        ("meta cas compare and invalidate", text("ms mc:a 1\r\na\r\nms mc:a 1 C1 c\r\nb\r\nms mc:a 1 C1 I\r\nc\r\nmg mc:a v\r\nmd mc:a C1\r\nmd mc:missing C1\r\nma mc:n N0 J1\r\nma mc:n C1\r\nms mc:missing 1 C1\r\nx\r\n")),
        ("meta touch through mg", text("ms mt:a 1\r\nx\r\nmg mt:a T100 t\r\nmg mt:a t v\r\nmg mt:a T-1 v\r\nmg mt:a v\r\n")),
        ("meta hit before", text("ms mh:a 1\r\nx\r\nmg mh:a h v\r\nmg mh:a h\r\nmg mh:v N30 h\r\nmg mh:v h\r\n")),
        ("meta noop and debug miss", text("mn\r\nme me:missing\r\n")),
        ("decr to fewer digits is space-padded", text("set dd:a 0 0 2\r\n10\r\ndecr dd:a 9\r\nget dd:a\r\nincr dd:a 100\r\nget dd:a\r\n")),
        ("counters parse as strtoull", text("set sn:a 0 0 5\r\n00007\r\nincr sn:a 1\r\nget sn:a\r\nset sn:b 0 0 4\r\n +12\r\nincr sn:b 1\r\nset sn:c 0 0 5\r\n3 abc\r\ndecr sn:c 1\r\nget sn:c\r\nset sn:d 0 0 2\r\n-0\r\nincr sn:d 4\r\nset sn:e 0 0 2\r\n-1\r\nincr sn:e 1\r\nset sn:f 0 0 21\r\n018446744073709551614\r\nincr sn:f 1\r\nma sn:f v\r\n")),
        ("mg l flag", text("ms ml:a 1\r\nx\r\nmg ml:a l v\r\n")),
        ("k and me echo the key as the item was stored", text("ms Zm9vMQ== 2 b\r\nhi\r\nmg foo1 k v\r\nmg Zm9vMQ== b k s\r\nme foo1\r\nme Zm9vMQ== b\r\nms foo2 1\r\nx\r\nmg Zm9vMg== b k v\r\nme Zm9vMg== b\r\nmg Zm9vMw== b k\r\nms Zm9vMg== 1 b MA k\r\ny\r\nmg foo2 k\r\nms Zm9vMg== 1 b k\r\nz\r\nma foo2 N0 J5 k\r\nmg foo2 k v\r\nma Zm9vMg== b k\r\nmd Zm9vMg== b k\r\n")),
        ("binary key kept by a shorter incr, dropped by a longer", text("ms Zm9vMw== 2 b\r\n10\r\nma foo3 MD D5\r\nmg foo3 k v\r\nma foo3 D100\r\nmg foo3 k v\r\nincr foo3 1\r\nme foo3\r\n")),
        ("ms c with an exptime already passed", text("ms mx:a 1 T-1 c\r\nx\r\nmg mx:a v\r\nms mx:a 1 c\r\ny\r\nms mx:a 1 T-1 c k\r\nz\r\nmg mx:a v\r\n")),
        ("ma t before T on an existing counter", text("ms mat:a 1 T1000\r\n5\r\nma mat:a t T100 v\r\nma mat:a T2000 t\r\nmg mat:a t v\r\n")),
        ("ma on an empty value with a cas", text("ms mae:a 0\r\n\r\nma mae:a C1\r\nma mae:a C0\r\nma mae:a\r\n")),
        ("mg N with an over-long opaque hands out no token", format!("mg mgo:a N30 v O{} s t\r\nmg mgo:a v s t c\r\nmg mgo:a v\r\nmg mgo:b O{} N30\r\nmg mgo:b s v\r\n", "o".repeat(40), "p".repeat(33)).into_bytes()),
        ("mg with an over-long opaque bumps the item unless a flag delays the bump", format!("ms mob:a 1\r\nx\r\nmg mob:a {o}\r\nmg mob:a h\r\nms mob:b 1\r\nx\r\nmg mob:b {o} h\r\nmg mob:b h\r\nms mob:c 1\r\nx\r\nmg mob:c {o} u\r\nmg mob:c h\r\nms mob:d 1\r\nx\r\nmg mob:d {o} T100\r\nmg mob:d h t\r\n", o = format!("O{}", "o".repeat(40))).into_bytes()),
        ("mg T before R sees the new TTL", text("ms mtr:a 1 T1000\r\nx\r\nmg mtr:a T10 R30 v t\r\nmg mtr:a v t\r\nms mtr:b 1 T10\r\nx\r\nmg mtr:b T1000 R30 v t\r\nms mtr:c 1 T10\r\nx\r\nmg mtr:c R30 T1000 v t\r\nmg mtr:c v t\r\n")),
    ]
}

/// One script's replies, the connection ended by the sentinel or by EOF.
fn run_script(addr: SocketAddr, script: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    // A server may close mid-script (that is part of what is compared).
    if stream.write_all(script).is_ok() {
        let _ = stream.write_all(SENTINEL);
    }
    read_until(&mut stream, SENTINEL_REPLY)
}

/// Replaces what legitimately differs (see the module comment).
fn normalize(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply);
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        let normalized = if line.starts_with("STAT ") {
            continue;
        } else if line.starts_with("VERSION ") {
            "VERSION <version>\r\n".to_owned()
        } else if let Some(rest) = line.strip_prefix("ME ") {
            format!(
                "ME {} <debug>\r\n",
                rest.split(' ').next().unwrap_or_default()
            )
        } else if line.starts_with("VALUE ") && line.split(' ').count() == 5 {
            let mut parts: Vec<&str> = line.trim_end().split(' ').collect();
            parts[4] = "<cas>";
            format!("{}\r\n", parts.join(" "))
        } else if ["HD", "VA", "EN", "NF", "NS", "EX"]
            .iter()
            .any(|code| line.starts_with(code))
        {
            line.trim_end()
                .split(' ')
                .map(|token| match token.strip_prefix('c') {
                    Some(digits)
                        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        "c<cas>"
                    }
                    _ => token,
                })
                .collect::<Vec<_>>()
                .join(" ")
                + "\r\n"
        } else {
            line.to_owned()
        };
        out.push_str(&normalized);
    }
    out
}

#[test]
fn replies_match_memcached() {
    let (_memcached, memcached_addr) = start_memcached(&["-m", "64"]);
    let tailcache = start_tailcache(&["-m", "64"]);
    let mut mismatches = Vec::new();
    for (name, script) in scripts() {
        let expected = normalize(&run_script(memcached_addr, &script));
        let actual = normalize(&run_script(tailcache.memcache, &script));
        if expected != actual {
            mismatches.push(format!(
                "--- {name}\nmemcached: {expected:?}\ntailcache: {actual:?}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} script(s) differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// A reply that differs on purpose.
struct Difference {
    name: &'static str,
    script: Vec<u8>,
    memcached: &'static [u8],
    tailcache: &'static [u8],
}

/// Every reply known to differ, with both servers' exact bytes (so a
/// change on either side is noticed) and why.
fn documented_differences() -> Vec<Difference> {
    let long_key = "k".repeat(251);
    vec![
        // memcached hangs up on an HTTP request line without writing the
        // replies to earlier commands of the same read; tailcache sends
        // them, then closes (the request line itself is refused the same).
        Difference {
            name: "HTTP request line after a pipelined command",
            script: b"set h:a 0 0 1\r\nx\r\nGET / HTTP/1.0\r\nget h:a\r\n".to_vec(),
            memcached: b"",
            tailcache: b"STORED\r\n",
        },
        // A key over 250 bytes anywhere in a multiget: both answer only
        // the error, but memcached also drops the replies to earlier
        // pipelined commands not yet written (its conn_release_items);
        // tailcache keeps them.
        Difference {
            name: "too long key in a pipelined multiget",
            script: format!("set lk:a 0 0 1\r\nx\r\nget lk:a {long_key}\r\nget lk:a\r\n")
                .into_bytes(),
            memcached: b"CLIENT_ERROR bad command line format\r\nVALUE lk:a 0 1\r\nx\r\nEND\r\n",
            tailcache:
                b"STORED\r\nCLIENT_ERROR bad command line format\r\nVALUE lk:a 0 1\r\nx\r\nEND\r\n",
        },
        // memcached 1.6.18 knows neither `E` (set the new cas) nor md's `x`
        // (drop the value, keep the item); tailcache implements both as
        // later memcached releases do.
        Difference {
            name: "meta E flag",
            script: b"ms me:a 1 E100\r\na\r\nmg me:a c v\r\n".to_vec(),
            memcached: b"CLIENT_ERROR invalid flag\r\nEN\r\n",
            tailcache: b"HD\r\nVA 1 c100\r\na\r\n",
        },
        Difference {
            name: "md x flag",
            script: b"ms mx:a 2 F7\r\nhi\r\nmd mx:a x\r\nmg mx:a v f\r\n".to_vec(),
            memcached: b"HD\r\nCLIENT_ERROR invalid or duplicate flag\r\nVA 2 f7\r\nhi\r\n",
            tailcache: b"HD\r\nHD\r\nVA 0 f7\r\n\r\n",
        },
    ]
}

#[test]
fn documented_differences_hold() {
    let (_memcached, memcached_addr) = start_memcached(&["-m", "64"]);
    let tailcache = start_tailcache(&["-m", "64"]);
    for difference in documented_differences() {
        let strip = |reply: Vec<u8>| {
            reply
                .strip_suffix(SENTINEL_REPLY)
                .map(<[u8]>::to_vec)
                .unwrap_or(reply)
        };
        let from_memcached = strip(run_script(memcached_addr, &difference.script));
        let from_tailcache = strip(run_script(tailcache.memcache, &difference.script));
        assert_eq!(
            String::from_utf8_lossy(&from_memcached),
            String::from_utf8_lossy(difference.memcached),
            "{}: memcached",
            difference.name
        );
        assert_eq!(
            String::from_utf8_lossy(&from_tailcache),
            String::from_utf8_lossy(difference.tailcache),
            "{}: tailcache",
            difference.name
        );
    }
}

#[test]
fn normalization_keeps_what_must_match() {
    assert_eq!(
        normalize(b"VALUE k 1 2 77\r\nhi\r\nEND\r\n"),
        "VALUE k 1 2 <cas>\r\nhi\r\nEND\r\n"
    );
    assert_eq!(normalize(b"VALUE k 1 2\r\n"), "VALUE k 1 2\r\n");
    assert_eq!(normalize(b"HD c12 kfoo\r\n"), "HD c<cas> kfoo\r\n");
    assert_eq!(normalize(b"STAT pid 1\r\nEND\r\n"), "END\r\n");
    assert_ne!(normalize(b"STORED\r\n"), normalize(b"NOT_STORED\r\n"));
}

/// The `stats` counters both servers keep, by memcached's names.
/// (`curr_items` is left out for now: the engine's live-item count after
/// flush_all is intermittently one too high; reported to storage.)
const COMPARED_COUNTERS: &[&str] = &[
    "cmd_get",
    "cmd_set",
    "cmd_flush",
    "cmd_touch",
    "get_hits",
    "get_misses",
    "get_expired",
    "get_flushed",
    "delete_hits",
    "delete_misses",
    "incr_hits",
    "incr_misses",
    "decr_hits",
    "decr_misses",
    "cas_hits",
    "cas_misses",
    "cas_badval",
    "touch_hits",
    "touch_misses",
];

fn stat_values(addr: SocketAddr) -> Vec<(String, String)> {
    let mut stream = connect(addr);
    stream.write_all(b"stats\r\n").unwrap();
    let reply = String::from_utf8(read_until(&mut stream, b"END\r\n")).unwrap();
    reply
        .lines()
        .filter_map(|line| {
            let mut parts = line.strip_prefix("STAT ")?.splitn(2, ' ');
            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
        })
        .filter(|(name, _)| COMPARED_COUNTERS.contains(&name.as_str()))
        .collect()
}

#[test]
fn stats_counters_match_memcached() {
    let (_memcached, memcached_addr) = start_memcached(&["-m", "64"]);
    let tailcache = start_tailcache(&["-m", "64"]);
    let script =
        b"set a 0 0 1\r\n1\r\nget a b\r\ngets a\r\ncas a 0 0 1 999\r\n2\r\ncas b 0 0 1 1\r\n2\r\n\
incr a 1\r\nincr b 1\r\ndecr a 1\r\ndecr b 1\r\ntouch a 10\r\ntouch b 10\r\ngat 10 a b\r\n\
delete a\r\ndelete a\r\nadd c 0 0 1\r\nx\r\nflush_all\r\nget c\r\nset d 0 0 1\r\nx\r\n\
set gone 0 2678400 1\r\nx\r\nget gone\r\nget gone\r\n";
    for addr in [memcached_addr, tailcache.memcache] {
        run_script(addr, script);
    }
    let expected = stat_values(memcached_addr);
    assert_eq!(
        expected.len(),
        COMPARED_COUNTERS.len(),
        "memcached lacks a counter"
    );
    assert_eq!(stat_values(tailcache.memcache), expected);
}

/// The names `stats` (or `stats settings`) lists, in order.
fn stat_names(addr: SocketAddr, command: &[u8]) -> Vec<String> {
    let mut stream = connect(addr);
    stream.write_all(command).unwrap();
    let reply = String::from_utf8(read_until(&mut stream, b"END\r\n")).unwrap();
    reply
        .lines()
        .filter_map(|line| Some(line.strip_prefix("STAT ")?.split(' ').next()?.to_owned()))
        .collect()
}

#[test]
fn stats_lists_memcached_fields_in_memcached_order() {
    // idle_kicks appears with an idle timeout, the crawler's two fields
    // without -o no_lru_crawler, the LRU maintainer's seven without -o
    // no_lru_maintainer (memcached's stats.t counts 83 with both).
    for flags in [
        &["-m", "64"][..],
        &["-m", "64", "-o", "idle_timeout=30"],
        &["-m", "64", "-o", "no_lru_crawler"],
        &["-m", "64", "-o", "no_lru_crawler,no_lru_maintainer"],
    ] {
        let (_memcached, memcached_addr) = start_memcached(flags);
        let tailcache = start_tailcache(flags);
        let expected = stat_names(memcached_addr, b"stats\r\n");
        assert!(expected.len() > 80, "{expected:?}");
        assert_eq!(
            stat_names(tailcache.memcache, b"stats\r\n"),
            expected,
            "{flags:?}"
        );
    }
}

#[test]
fn stats_settings_names_are_memcached_names() {
    let (_memcached, memcached_addr) = start_memcached(&["-m", "64"]);
    let tailcache = start_tailcache(&["-m", "64"]);
    let memcached = stat_names(memcached_addr, b"stats settings\r\n");
    let ours = stat_names(tailcache.memcache, b"stats settings\r\n");
    // A subset, in memcached's order: settings of what tailcache does not
    // have (slab classes, LRU segments, extstore) are left out.
    let mut position = 0;
    for name in &ours {
        let found = memcached[position..]
            .iter()
            .position(|theirs| theirs == name)
            .unwrap_or_else(|| panic!("{name} is not memcached's, or out of order: {ours:?}"));
        position += found + 1;
    }
    for name in [
        "maxbytes",
        "maxconns",
        "domain_socket",
        "cas_enabled",
        "item_size_max",
        "lru_maintainer_thread",
    ] {
        assert!(ours.iter().any(|n| n == name), "{name} missing: {ours:?}");
    }
}
