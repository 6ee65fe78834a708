//! Writing requests in their canonical wire form, for round-trip tests and fuzzing
//! (parse, encode, parse again, compare). `tailcache-bench` keeps its own client codecs
//! on purpose, so that a server bug cannot hide behind an encoder both sides share.

use super::meta::{ArithMode, MetaKey, SetMode};
use super::meta_flags::MetaFlags;
use super::request::{
    CrawlTarget, DebugTime, GetKind, LruCrawler, Request, ShutdownMode, StatsGroup, Store,
    StoreMode,
};
use crate::number::{write_i64, write_u64};

/// Appends `request` as a client would send it: single spaces, `\r\n` line ends,
/// meta flags as received (quiet, opaque and all).
pub fn encode_request(out: &mut Vec<u8>, request: &Request<'_>) {
    match request {
        Request::Store(store) => encode_store(out, store),
        Request::Get(get) => encode_get(out, get.kind, get.touch_exptime, get.keys.clone()),
        Request::Delete(delete) => encode_keyed(out, b"delete", delete.key, None, delete.noreply),
        Request::Incr(incr) => {
            let command: &[u8] = if incr.increment { b"incr" } else { b"decr" };
            encode_keyed(
                out,
                command,
                incr.key,
                Some(Number::Unsigned(incr.delta)),
                incr.noreply,
            );
        }
        Request::Touch(touch) => encode_keyed(
            out,
            b"touch",
            touch.key,
            Some(Number::Signed(touch.exptime)),
            touch.noreply,
        ),
        Request::FlushAll(flush) => {
            out.extend_from_slice(b"flush_all ");
            write_i64(out, flush.delay_secs);
            end_line(out, flush.noreply);
        }
        Request::Version => out.extend_from_slice(b"version\r\n"),
        Request::Verbosity(verbosity) => {
            out.extend_from_slice(b"verbosity ");
            write_u64(out, u64::from(verbosity.level));
            end_line(out, verbosity.noreply);
        }
        Request::Quit => out.extend_from_slice(b"quit\r\n"),
        Request::DebugTime(debug) => {
            out.extend_from_slice(b"debugtime ");
            match debug {
                DebugTime::Pause => out.push(b'p'),
                DebugTime::Resume => out.push(b'r'),
                DebugTime::ShiftSecs(secs) => write_i64(out, *secs),
                DebugTime::Invalid => out.push(b'x'),
            }
            out.extend_from_slice(b"\r\n");
        }
        Request::Watch(topics) => {
            out.extend_from_slice(b"watch");
            for name in topics.names() {
                out.push(b' ');
                out.extend_from_slice(name);
            }
            out.extend_from_slice(b"\r\n");
        }
        Request::RefreshCerts { noreply } => {
            out.extend_from_slice(b"refresh_certs");
            end_line(out, *noreply);
        }
        Request::Stats(stats) => encode_stats(out, stats.group, stats.args),
        Request::Shutdown(mode) => out.extend_from_slice(match mode {
            ShutdownMode::Now => b"shutdown\r\n",
            ShutdownMode::Graceful => b"shutdown graceful\r\n",
            ShutdownMode::Invalid => b"shutdown invalid\r\n",
        }),
        Request::MetaGet(get) => encode_meta(out, b"mg", &get.key, None, &get.flags),
        Request::MetaSet(set) => {
            encode_meta(out, b"ms", &set.key, Some(set.value.len()), &set.flags);
            out.extend_from_slice(set.value);
            out.extend_from_slice(b"\r\n");
        }
        Request::MetaDelete(delete) => encode_meta(out, b"md", &delete.key, None, &delete.flags),
        Request::MetaArithmetic(arith) => encode_meta(out, b"ma", &arith.key, None, &arith.flags),
        Request::MetaNoop => out.extend_from_slice(b"mn\r\n"),
        Request::MetaDebug(debug) => {
            out.extend_from_slice(b"me ");
            out.extend_from_slice(debug.key.wire());
            if debug.key.is_base64() {
                out.extend_from_slice(b" b");
            }
            out.extend_from_slice(b"\r\n");
        }
        Request::LruCrawler(command) => encode_lru_crawler(out, *command),
    }
}

/// Appends a get/gets/gat/gats line; `touch_exptime` is required for gat/gats.
pub fn encode_get<'k>(
    out: &mut Vec<u8>,
    kind: GetKind,
    touch_exptime: Option<i64>,
    keys: impl IntoIterator<Item = &'k [u8]>,
) {
    out.extend_from_slice(match kind {
        GetKind::Get => b"get",
        GetKind::Gets => b"gets",
        GetKind::Gat => b"gat",
        GetKind::Gats => b"gats",
    });
    if let Some(exptime) = touch_exptime {
        out.push(b' ');
        write_i64(out, exptime);
    }
    for key in keys {
        out.push(b' ');
        out.extend_from_slice(key);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a storage command line and its data block.
pub fn encode_store(out: &mut Vec<u8>, store: &Store<'_>) {
    let (command, cas): (&[u8], Option<u64>) = match store.mode {
        StoreMode::Set => (b"set", None),
        StoreMode::Add => (b"add", None),
        StoreMode::Replace => (b"replace", None),
        StoreMode::Append => (b"append", None),
        StoreMode::Prepend => (b"prepend", None),
        StoreMode::Cas(cas) => (b"cas", Some(cas)),
    };
    out.extend_from_slice(command);
    out.push(b' ');
    out.extend_from_slice(store.key);
    out.push(b' ');
    write_u64(out, u64::from(store.client_flags));
    out.push(b' ');
    write_i64(out, store.exptime);
    out.push(b' ');
    write_u64(out, store.value.len() as u64);
    if let Some(cas) = cas {
        out.push(b' ');
        write_u64(out, cas);
    }
    end_line(out, store.noreply);
    out.extend_from_slice(store.value);
    out.extend_from_slice(b"\r\n");
}

/// Appends a meta command line: `<command> <key>[ <datalen>][ <flags>]\r\n`, with `flags`
/// the raw flag text (e.g. `b"v t Oa1"`); for ms the caller appends the data block.
pub fn encode_meta_line(
    out: &mut Vec<u8>,
    command: &[u8],
    key: &[u8],
    value_bytes: Option<usize>,
    flags: &[u8],
) {
    out.extend_from_slice(command);
    out.push(b' ');
    out.extend_from_slice(key);
    if let Some(value_bytes) = value_bytes {
        out.push(b' ');
        write_u64(out, value_bytes as u64);
    }
    for flag in flags.split(|&b| b == b' ').filter(|flag| !flag.is_empty()) {
        out.push(b' ');
        out.extend_from_slice(flag);
    }
    out.extend_from_slice(b"\r\n");
}

fn encode_meta(
    out: &mut Vec<u8>,
    command: &[u8],
    key: &MetaKey<'_>,
    value_bytes: Option<usize>,
    flags: &MetaFlags<'_>,
) {
    encode_meta_line(out, command, key.wire(), value_bytes, flags.as_bytes());
}

enum Number {
    Unsigned(u64),
    Signed(i64),
}

fn encode_keyed(
    out: &mut Vec<u8>,
    command: &[u8],
    key: &[u8],
    argument: Option<Number>,
    noreply: bool,
) {
    out.extend_from_slice(command);
    out.push(b' ');
    out.extend_from_slice(key);
    match argument {
        Some(Number::Unsigned(value)) => {
            out.push(b' ');
            write_u64(out, value);
        }
        Some(Number::Signed(value)) => {
            out.push(b' ');
            write_i64(out, value);
        }
        None => {}
    }
    end_line(out, noreply);
}

fn end_line(out: &mut Vec<u8>, noreply: bool) {
    if noreply {
        out.extend_from_slice(b" noreply");
    }
    out.extend_from_slice(b"\r\n");
}

fn encode_stats(out: &mut Vec<u8>, group: StatsGroup<'_>, args: &[u8]) {
    out.extend_from_slice(b"stats");
    let name: &[u8] = match group {
        StatsGroup::General => b"",
        StatsGroup::Settings => b"settings",
        StatsGroup::Items => b"items",
        StatsGroup::Slabs => b"slabs",
        StatsGroup::Sizes => b"sizes",
        StatsGroup::Conns => b"conns",
        StatsGroup::Reset => b"reset",
        StatsGroup::Detail => b"detail",
        StatsGroup::Other(name) => name,
    };
    for token in [name, args] {
        if !token.is_empty() {
            out.push(b' ');
            out.extend_from_slice(token);
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends an `lru_crawler` line; a bad class list is written as `0`, an empty one as `,`.
pub fn encode_lru_crawler(out: &mut Vec<u8>, command: LruCrawler) {
    out.extend_from_slice(b"lru_crawler ");
    let target = |out: &mut Vec<u8>, name: &[u8], target: CrawlTarget| {
        out.extend_from_slice(name);
        match target {
            CrawlTarget::All => out.extend_from_slice(b"all"),
            CrawlTarget::Hash => out.extend_from_slice(b"hash"),
            CrawlTarget::BadClass => out.push(b'0'),
            CrawlTarget::Classes(ids) if ids.is_empty() => out.push(b','),
            CrawlTarget::Classes(ids) => {
                for (n, id) in ids.iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    write_u64(out, u64::from(id));
                }
            }
        }
    };
    match command {
        LruCrawler::Crawl(to) => target(out, b"crawl ", to),
        LruCrawler::Metadump(to) => target(out, b"metadump ", to),
        LruCrawler::Tocrawl(n) => {
            out.extend_from_slice(b"tocrawl ");
            write_u64(out, u64::from(n));
        }
        LruCrawler::Sleep(n) => {
            out.extend_from_slice(b"sleep ");
            write_u64(out, u64::from(n));
        }
        LruCrawler::Enable => out.extend_from_slice(b"enable"),
        LruCrawler::Disable => out.extend_from_slice(b"disable"),
    }
    out.extend_from_slice(b"\r\n");
}

/// The `M` letter ms uses for `mode` (for clients building flag text).
pub fn set_mode_letter(mode: SetMode) -> u8 {
    match mode {
        SetMode::Set => b'S',
        SetMode::Add => b'E',
        SetMode::Replace => b'R',
        SetMode::Append => b'A',
        SetMode::Prepend => b'P',
    }
}

/// The `M` letter ma uses for `mode`.
pub fn arith_mode_letter(mode: ArithMode) -> u8 {
    match mode {
        ArithMode::Increment => b'I',
        ArithMode::Decrement => b'D',
    }
}
