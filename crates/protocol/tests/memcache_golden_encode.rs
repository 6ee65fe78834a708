//! Encoders against the bytes memcached 1.6.18 sent for the same items.

use tailcache_protocol::memcache::classic_encode::*;
use tailcache_protocol::memcache::meta_encode::*;
use tailcache_protocol::memcache::{parse, Limits, MetaCommand, Parsed, Request};

fn encoded(write: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    write(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn classic_lines() {
    assert_eq!(
        encoded(|o| encode_value(o, b"b", 1, b"abc", None)),
        "VALUE b 1 3\r\nabc\r\n"
    );
    assert_eq!(
        encoded(|o| encode_value(o, b"a", 0, b"abc", Some(1))),
        "VALUE a 0 3 1\r\nabc\r\n"
    );
    assert_eq!(
        encoded(|o| {
            encode_value_header(o, b"k", u32::MAX, 2, Some(u64::MAX));
            o.extend_from_slice(b"hi");
            encode_data_trailer(o);
            encode_reply(o, Reply::End);
        }),
        "VALUE k 4294967295 2 18446744073709551615\r\nhi\r\nEND\r\n"
    );
    assert_eq!(encoded(|o| encode_number(o, 0)), "0\r\n");
    assert_eq!(
        encoded(|o| encode_version(o, b"1.6.18")),
        "VERSION 1.6.18\r\n"
    );
    assert_eq!(
        encoded(|o| encode_stat_u64(o, b"curr_items", 42)),
        "STAT curr_items 42\r\n"
    );
    assert_eq!(
        encoded(|o| encode_stat_i64(o, b"delta", -3)),
        "STAT delta -3\r\n"
    );
    assert_eq!(
        encoded(|o| encode_stat(o, b"version", b"1.6.18")),
        "STAT version 1.6.18\r\n"
    );
    assert_eq!(
        encoded(|o| encode_stat_seconds_micros(o, b"rusage_user", 0, 108885)),
        "STAT rusage_user 0.108885\r\n"
    );
    assert_eq!(
        encoded(|o| encode_stat_seconds_micros(o, b"rusage_user", 3, 7)),
        "STAT rusage_user 3.000007\r\n"
    );
    assert_eq!(
        encoded(|o| encode_client_error(o, b"line too long")),
        "CLIENT_ERROR line too long\r\n"
    );
    assert_eq!(
        encoded(|o| encode_server_error(o, b"out of memory")),
        "SERVER_ERROR out of memory\r\n"
    );
    let expected = [
        (Reply::Stored, "STORED"),
        (Reply::NotStored, "NOT_STORED"),
        (Reply::Exists, "EXISTS"),
        (Reply::NotFound, "NOT_FOUND"),
        (Reply::Deleted, "DELETED"),
        (Reply::Touched, "TOUCHED"),
        (Reply::Ok, "OK"),
        (Reply::End, "END"),
        (Reply::Reset, "RESET"),
        (Reply::Error, "ERROR"),
        (
            Reply::NonNumericValue,
            "CLIENT_ERROR cannot increment or decrement non-numeric value",
        ),
        (
            Reply::ObjectTooLarge,
            "SERVER_ERROR object too large for cache",
        ),
        (
            Reply::OutOfMemory,
            "SERVER_ERROR out of memory storing object",
        ),
        (
            Reply::StatsDetailUsage,
            "CLIENT_ERROR usage: stats detail on|off|dump",
        ),
    ];
    for (reply, line) in expected {
        assert_eq!(encoded(|o| encode_reply(o, reply)), format!("{line}\r\n"));
    }
}

/// Parses a meta line and hands its key and flags to `write`.
fn with_meta(line: &[u8], write: impl FnOnce(&mut Vec<u8>, &Request<'_>)) -> String {
    let Ok(Parsed::Complete { request, .. }) = parse(line, &Limits::default()) else {
        panic!("{line:?}")
    };
    encoded(|o| write(o, &request))
}

#[test]
fn meta_get_hit_returns_flags_in_request_order() {
    // memcached: `mg a Oabc k v t f c s h l` -> `VA 2 Oabc ka t-1 f0 c26 s2 h1 l1`
    let text = with_meta(b"mg a Oabc k v t f c s h l\r\n", |o, request| {
        let Request::MetaGet(get) = request else {
            panic!()
        };
        let item = MetaItem {
            cas: Some(26),
            client_flags: Some(0),
            hit_before: Some(true),
            last_access_secs: Some(1),
            size_bytes: Some(2),
            ttl_remaining_secs: Some(-1),
            ..MetaItem::default()
        };
        encode_meta_value_header(o, 2, &get.key, &get.flags, &item);
        o.extend_from_slice(b"hi");
        encode_data_trailer(o);
    });
    assert_eq!(text, "VA 2 Oabc ka t-1 f0 c26 s2 h1 l1\r\nhi\r\n");
}

#[test]
fn meta_get_vivify_win_and_lose() {
    // memcached: `mg zz v N30 k c t s` twice -> `VA 0 kzz c27 t30 s0 W`, then `... Z`.
    for (won, sent, tail) in [(true, false, "W"), (false, true, "Z")] {
        let text = with_meta(b"mg zz v N30 k c t s\r\n", |o, request| {
            let Request::MetaGet(get) = request else {
                panic!()
            };
            let item = MetaItem {
                cas: Some(27),
                ttl_remaining_secs: Some(30),
                size_bytes: Some(0),
                won,
                win_token_sent: sent,
                ..MetaItem::default()
            };
            encode_meta_value_header(o, 0, &get.key, &get.flags, &item);
            encode_data_trailer(o);
        });
        assert_eq!(text, format!("VA 0 kzz c27 t30 s0 {tail}\r\n\r\n"));
    }
    // memcached 1.6.18 after `md k I`: the first `mg k s` gets `HD s1 X W`, the next
    // `HD s1 Z X`. The order is Z, X, W whatever the combination.
    for (won, sent, expected) in [
        (true, false, "HD X W\r\n"),
        (false, true, "HD Z X\r\n"),
        (true, true, "HD Z X W\r\n"),
    ] {
        let stale = with_meta(b"mg k\r\n", |o, request| {
            let Request::MetaGet(get) = request else {
                panic!()
            };
            let item = MetaItem {
                won,
                stale: true,
                win_token_sent: sent,
                ..MetaItem::default()
            };
            encode_meta_status(
                o,
                MetaCommand::Get,
                MetaStatus::Hd,
                &get.key,
                &get.flags,
                &item,
            );
        });
        assert_eq!(stale, expected);
    }
}

#[test]
fn meta_set_returns_base64_key_with_b() {
    // memcached: `ms YQ== 2 c k Oxx s b` -> `HD c31 kYQ== b Oxx` (ms does not return s).
    let text = with_meta(b"ms YQ== 2 c k Oxx s b\r\nhi\r\n", |o, request| {
        let Request::MetaSet(set) = request else {
            panic!()
        };
        let item = MetaItem {
            cas: Some(31),
            ..MetaItem::default()
        };
        assert!(encode_meta_status(
            o,
            MetaCommand::Set,
            MetaStatus::Hd,
            &set.key,
            &set.flags,
            &item
        ));
    });
    assert_eq!(text, "HD c31 kYQ== b Oxx\r\n");
}

#[test]
fn meta_arithmetic_value() {
    // memcached: `ma n D3 v t c k Oxx` -> `VA 1 t-1 c42 kn Oxx` + `3`.
    let text = with_meta(b"ma n D3 v t c k Oxx\r\n", |o, request| {
        let Request::MetaArithmetic(arith) = request else {
            panic!()
        };
        let item = MetaItem {
            cas: Some(42),
            ttl_remaining_secs: Some(-1),
            ..MetaItem::default()
        };
        encode_meta_value_header(o, 1, &arith.key, &arith.flags, &item);
        o.extend_from_slice(b"3");
        encode_data_trailer(o);
    });
    assert_eq!(text, "VA 1 t-1 c42 kn Oxx\r\n3\r\n");
}

#[test]
fn quiet_mode_hides_only_the_common_code() {
    let cases = [
        (MetaCommand::Get, MetaStatus::En, true),
        (MetaCommand::Get, MetaStatus::Hd, false),
        (MetaCommand::Set, MetaStatus::Hd, true),
        (MetaCommand::Set, MetaStatus::Ns, false),
        (MetaCommand::Set, MetaStatus::Ex, false),
        (MetaCommand::Set, MetaStatus::Nf, false),
        (MetaCommand::Delete, MetaStatus::Hd, true),
        (MetaCommand::Delete, MetaStatus::Nf, false),
        (MetaCommand::Arithmetic, MetaStatus::Hd, true),
        (MetaCommand::Arithmetic, MetaStatus::Nf, false),
    ];
    for (command, status, hidden) in cases {
        assert_eq!(
            quiet_hides(command, status),
            hidden,
            "{command:?} {status:?}"
        );
        let text = with_meta(b"mg k q\r\n", |o, request| {
            let Request::MetaGet(get) = request else {
                panic!()
            };
            let written = encode_meta_status(
                o,
                command,
                status,
                &get.key,
                &get.flags,
                &MetaItem::default(),
            );
            assert_eq!(written, !hidden);
        });
        assert_eq!(text.is_empty(), hidden);
    }
}

#[test]
fn meta_noop_and_debug() {
    assert_eq!(encoded(encode_meta_noop), "MN\r\n");
    // memcached: `me YQ== b` -> `ME YQ== exp=-1 la=0 cas=51 fetch=yes cls=1 size=62`
    let text = with_meta(b"me YQ== b\r\n", |o, request| {
        let Request::MetaDebug(debug) = request else {
            panic!()
        };
        let info = MetaDebugInfo {
            exptime_secs: -1,
            last_access_secs: 0,
            cas: 51,
            fetched: true,
            class_id: 1,
            size_bytes: 62,
        };
        encode_meta_debug(o, &debug.key, &info);
    });
    assert_eq!(
        text,
        "ME YQ== exp=-1 la=0 cas=51 fetch=yes cls=1 size=62\r\n"
    );
}

#[test]
fn keys_are_uri_encoded_as_memcached_encodes_them() {
    // memcached 1.6.18's `uriencode`, used by metadump and watch lines.
    let text = encoded(|o| encode_uri_key(o, b"aZ9-._~%/ \x01\xff"));
    assert_eq!(text, "aZ9-._~%25%2F%20%01%FF");
}
