//! What each well-formed command parses into: every field the server needs.

use tailcache_protocol::memcache::{
    parse, ArithMode, GetKind, Limits, Parsed, Request, SetMode, StatsGroup, StoreMode,
};

fn parse_whole(input: &[u8]) -> Request<'_> {
    match parse(input, &Limits::default()) {
        Ok(Parsed::Complete {
            request,
            consumed_bytes,
        }) => {
            assert_eq!(
                consumed_bytes,
                input.len(),
                "{:?}",
                String::from_utf8_lossy(input)
            );
            request
        }
        other => panic!("{:?} gave {other:?}", String::from_utf8_lossy(input)),
    }
}

#[test]
fn storage_commands() {
    let Request::Store(set) = parse_whole(b"set key 5 100 3\r\nabc\r\n") else {
        panic!()
    };
    assert_eq!(
        (
            set.mode,
            set.key,
            set.client_flags,
            set.exptime,
            set.value,
            set.noreply
        ),
        (StoreMode::Set, &b"key"[..], 5, 100, &b"abc"[..], false)
    );
    let Request::Store(cas) = parse_whole(b"cas k 4294967295 -1 0 99 noreply\r\n\r\n") else {
        panic!()
    };
    assert_eq!(
        (
            cas.mode,
            cas.client_flags,
            cas.exptime,
            cas.value,
            cas.noreply
        ),
        (StoreMode::Cas(99), u32::MAX, -1, &b""[..], true)
    );
    for (command, mode) in [
        ("add", StoreMode::Add),
        ("replace", StoreMode::Replace),
        ("append", StoreMode::Append),
        ("prepend", StoreMode::Prepend),
    ] {
        let input = format!("{command} k 0 0 2\r\n\r\n\r\n");
        let Request::Store(store) = parse_whole(input.as_bytes()) else {
            panic!()
        };
        assert_eq!((store.mode, store.value), (mode, &b"\r\n"[..]));
    }
    let Request::Store(truncated) = parse_whole(b"set k 4294967297 0 1\r\nx\r\n") else {
        panic!()
    };
    assert_eq!(truncated.client_flags, 1, "memcached keeps the low 32 bits");
}

#[test]
fn retrieval_commands() {
    let Request::Get(get) = parse_whole(b"get a bb  ccc\r\n") else {
        panic!()
    };
    assert_eq!(
        (get.kind, get.touch_exptime, get.keys.len()),
        (GetKind::Get, None, 3)
    );
    assert_eq!(get.keys.collect::<Vec<_>>(), [&b"a"[..], b"bb", b"ccc"]);
    let Request::Get(gats) = parse_whole(b"gats 60 x\n") else {
        panic!()
    };
    assert_eq!((gats.kind, gats.touch_exptime), (GetKind::Gats, Some(60)));
    assert!(gats.kind.returns_cas());
    assert_eq!(gats.keys.collect::<Vec<_>>(), [b"x"]);
    let Request::Get(tab) = parse_whole(b"get a\tb\r\n") else {
        panic!()
    };
    assert_eq!(
        tab.keys.collect::<Vec<_>>(),
        [b"a\tb"],
        "only spaces separate tokens"
    );
}

#[test]
fn other_classic_commands() {
    let Request::Delete(delete) = parse_whole(b"delete k noreply\r\n") else {
        panic!()
    };
    assert_eq!((delete.key, delete.noreply), (&b"k"[..], true));
    let Request::Incr(decr) = parse_whole(b"decr k 18446744073709551615\r\n") else {
        panic!()
    };
    assert_eq!(
        (decr.key, decr.delta, decr.increment, decr.noreply),
        (&b"k"[..], u64::MAX, false, false)
    );
    let Request::Touch(touch) = parse_whole(b"touch k 10 noreply\r\n") else {
        panic!()
    };
    assert_eq!((touch.exptime, touch.noreply), (10, true));
    let Request::FlushAll(flush) = parse_whole(b"flush_all 30\r\n") else {
        panic!()
    };
    assert_eq!((flush.delay_secs, flush.noreply), (30, false));
    let Request::FlushAll(flush) = parse_whole(b"flush_all noreply\r\n") else {
        panic!()
    };
    assert_eq!((flush.delay_secs, flush.noreply), (0, true));
    let Request::Verbosity(verbosity) = parse_whole(b"verbosity 2 noreply\r\n") else {
        panic!()
    };
    assert_eq!((verbosity.level, verbosity.noreply), (2, true));
    for (input, names) in [
        (&b"watch\r\n"[..], &[&b"fetchers"[..]][..]),
        (
            b"watch mutations fetchers\r\n",
            &[b"fetchers", b"mutations"],
        ),
        (
            b"watch evictions connevents evictions\r\n",
            &[b"evictions", b"connevents"],
        ),
    ] {
        let Request::Watch(topics) = parse_whole(input) else {
            panic!()
        };
        assert_eq!(topics.names().collect::<Vec<_>>(), names);
    }
    let unknown_topic = parse(b"watch fetchers everything\r\n", &Limits::default());
    assert_eq!(unknown_topic.unwrap_err().reply(), b"ERROR\r\n");
    assert!(matches!(parse_whole(b"version\r\n"), Request::Version));
    assert!(matches!(parse_whole(b"quit\r\n"), Request::Quit));
    for (input, group) in [
        (&b"stats\r\n"[..], StatsGroup::General),
        (b"stats settings\r\n", StatsGroup::Settings),
        (b"stats items\r\n", StatsGroup::Items),
        (b"stats slabs\r\n", StatsGroup::Slabs),
        (b"stats sizes\r\n", StatsGroup::Sizes),
        (b"stats conns\r\n", StatsGroup::Conns),
        (b"stats reset\r\n", StatsGroup::Reset),
        (b"stats cachedump 1 2\r\n", StatsGroup::Other(b"cachedump")),
    ] {
        let Request::Stats(stats) = parse_whole(input) else {
            panic!()
        };
        assert_eq!(stats.group, group);
    }
    let Request::Stats(detail) = parse_whole(b"stats detail on\r\n") else {
        panic!()
    };
    assert_eq!(
        (detail.group, detail.args),
        (StatsGroup::Detail, &b"on"[..])
    );
}

#[test]
fn meta_get_flags() {
    let Request::MetaGet(get) =
        parse_whole(b"mg key v c f h k l Oop q s t u E9 N30 R10 T60 P Lx\r\n")
    else {
        panic!()
    };
    let f = &get.flags;
    assert_eq!(get.key.wire(), b"key");
    assert!(!get.key.is_base64());
    assert!(f.return_value() && f.return_cas() && f.return_client_flags() && f.return_hit_before());
    assert!(
        f.return_key() && f.return_last_access() && f.quiet() && f.return_size() && f.return_ttl()
    );
    assert!(f.no_bump() && f.proxy_hint() && !f.base64_key() && !f.invalidate());
    assert_eq!(f.opaque(), Some(&b"op"[..]));
    assert_eq!(
        (
            f.new_cas(),
            f.vivify_exptime(),
            f.recache_below_secs(),
            f.exptime()
        ),
        (Some(9), Some(30), Some(10), Some(60))
    );
    assert_eq!(f.letters().collect::<Vec<_>>(), b"vcfhklOqstuENRTPL");
}

#[test]
fn meta_keys_in_base64() {
    let Request::MetaGet(get) = parse_whole(b"mg Zm9vYmFy b v\r\n") else {
        panic!()
    };
    assert!(get.key.is_base64());
    assert_eq!(get.key.wire(), b"Zm9vYmFy");
    let mut scratch = [0u8; tailcache_protocol::memcache::MAX_DECODED_KEY_BYTES];
    assert_eq!(get.key.bytes(&mut scratch), b"foobar");
    let Request::MetaGet(plain) = parse_whole(b"mg foobar v\r\n") else {
        panic!()
    };
    assert_eq!(plain.key.bytes(&mut scratch), b"foobar");
    let longest = format!("mg {} b\r\n", "YWJj".repeat(62));
    let Request::MetaGet(long) = parse_whole(longest.as_bytes()) else {
        panic!()
    };
    assert_eq!(long.key.bytes(&mut scratch), "abc".repeat(62).as_bytes());
}

#[test]
fn meta_set_modes_and_options() {
    let Request::MetaSet(set) = parse_whole(b"ms k 3 F7 T-1 C12 I c k Oz q s\r\nabc\r\n") else {
        panic!()
    };
    assert_eq!((set.mode, set.value), (SetMode::Set, &b"abc"[..]));
    let f = &set.flags;
    assert_eq!(
        (f.client_flags(), f.exptime(), f.compare_cas()),
        (Some(7), Some(-1), Some(12))
    );
    assert!(f.invalidate() && f.return_cas() && f.return_key() && f.quiet() && f.return_size());
    for (letter, mode) in [
        ("S", SetMode::Set),
        ("E", SetMode::Add),
        ("R", SetMode::Replace),
        ("A", SetMode::Append),
        ("P", SetMode::Prepend),
    ] {
        let input = format!("ms k 1 M{letter} N5\r\nx\r\n");
        let Request::MetaSet(set) = parse_whole(input.as_bytes()) else {
            panic!()
        };
        assert_eq!((set.mode, set.flags.vivify_exptime()), (mode, Some(5)));
    }
}

#[test]
fn meta_delete_arithmetic_debug_noop() {
    let Request::MetaDelete(delete) = parse_whole(b"md k C5 I T30 x q k Oo\r\n") else {
        panic!()
    };
    let f = &delete.flags;
    assert_eq!(
        (f.compare_cas(), f.exptime(), f.opaque()),
        (Some(5), Some(30), Some(&b"o"[..]))
    );
    assert!(f.invalidate() && f.remove_value() && f.quiet() && f.return_key());
    let Request::MetaArithmetic(arith) = parse_whole(b"ma k\r\n") else {
        panic!()
    };
    assert_eq!(
        (arith.mode, arith.delta, arith.initial_value),
        (ArithMode::Increment, 1, 0)
    );
    let Request::MetaArithmetic(arith) = parse_whole(b"ma k M- D10 J3 N0 v t c\r\n") else {
        panic!()
    };
    assert_eq!(
        (
            arith.mode,
            arith.delta,
            arith.initial_value,
            arith.flags.vivify_exptime()
        ),
        (ArithMode::Decrement, 10, 3, Some(0))
    );
    let Request::MetaDebug(debug) = parse_whole(b"me YQ== b\r\n") else {
        panic!()
    };
    assert!(debug.key.is_base64());
    assert!(matches!(parse_whole(b"mn\r\n"), Request::MetaNoop));
}

#[test]
fn requests_stay_small_enough_to_return_by_value() {
    // Parsing returns requests by value; a large one costs a memcpy per request.
    let request_bytes = std::mem::size_of::<Request<'_>>();
    let result_bytes =
        std::mem::size_of::<Result<Parsed<'_>, tailcache_protocol::memcache::ParseError>>();
    assert!(request_bytes <= 96, "Request is {request_bytes} bytes");
    assert!(result_bytes <= 112, "parse result is {result_bytes} bytes");
}
