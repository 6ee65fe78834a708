//! Parsing memcached's classic text commands.

use super::error::{ParseError, ParseErrorKind};
use super::frame::{data_block, Line};
use super::limits::Limits;
use super::request::{
    ClassIds, CrawlTarget, DebugTime, Delete, FlushAll, Get, GetKind, Incr, Keys, LruCrawler,
    Parsed, Request, ShutdownMode, Stats, StatsGroup, Store, StoreMode, Touch, Verbosity,
    WatchTopics,
};
use super::tokens::Tokens;
use crate::number::{parse_client_flags, parse_memcache_i64, parse_memcache_u64};

/// Most tokens any fixed-arity classic command takes (cas with noreply), command included.
const MAX_FIXED_TOKENS: usize = 7;

/// Parses a classic command; `command` is the line's first token, `tokens` the rest.
#[inline]
pub(crate) fn parse_classic<'a>(
    command: &'a [u8],
    tokens: Tokens<'a>,
    input: &'a [u8],
    line: Line<'a>,
    limits: &Limits,
) -> Result<Parsed<'a>, ParseError> {
    let skip_line = |kind| ParseError::skip(kind, line.total_bytes);
    let request = match command {
        b"get" => parse_get(GetKind::Get, tokens, limits),
        b"gets" => parse_get(GetKind::Gets, tokens, limits),
        b"gat" => parse_get(GetKind::Gat, tokens, limits),
        b"gats" => parse_get(GetKind::Gats, tokens, limits),
        b"set" => return parse_store(StoreKind::Set, tokens, input, line, limits),
        b"add" => return parse_store(StoreKind::Add, tokens, input, line, limits),
        b"replace" => return parse_store(StoreKind::Replace, tokens, input, line, limits),
        b"append" => return parse_store(StoreKind::Append, tokens, input, line, limits),
        b"prepend" => return parse_store(StoreKind::Prepend, tokens, input, line, limits),
        b"cas" => return parse_store(StoreKind::Cas, tokens, input, line, limits),
        b"version" => Ok(Request::Version),
        b"quit" => Ok(Request::Quit),
        b"refresh_certs" => Ok(Request::RefreshCerts {
            noreply: tokens.last() == Some(&b"noreply"[..]),
        }),
        b"stats" => Ok(parse_stats(tokens)),
        b"shutdown" => Ok(parse_shutdown(tokens)),
        b"debugtime" => parse_debugtime(tokens),
        b"lru_crawler" => parse_lru_crawler(tokens),
        b"watch" => parse_watch(tokens),
        b"slabs" => return Err(parse_slabs(tokens, line)),
        _ => return parse_fixed(command, tokens, line, limits),
    };
    match request {
        Ok(request) => Ok(Parsed::Complete {
            request,
            consumed_bytes: line.total_bytes,
        }),
        Err(kind) => Err(skip_line(kind)),
    }
}

/// `shutdown [graceful]`; any other argument is a mode memcached refuses,
/// but only after it has checked that the command is enabled.
fn parse_shutdown(tokens: Tokens<'_>) -> Request<'static> {
    let mut args: [&[u8]; 2] = [b""; 2];
    let mode = match collect_args(tokens, &mut args) {
        0 => ShutdownMode::Now,
        1 if args[0] == b"graceful" => ShutdownMode::Graceful,
        _ => ShutdownMode::Invalid,
    };
    Request::Shutdown(mode)
}

/// `watch [topic ...]`: fetchers when no topic is named; a name memcached does not
/// know is `ERROR`. memcached looks at its first 23 tokens only.
fn parse_watch(tokens: Tokens<'_>) -> Result<Request<'static>, ParseErrorKind> {
    let mut topics = WatchTopics::default();
    for name in tokens.take(MEMCACHED_SPLIT_TOKENS - 1) {
        let topic = WatchTopics::from_name(name).ok_or(ParseErrorKind::UnknownCommand)?;
        topics = topics.union(topic);
    }
    if topics == WatchTopics::default() {
        topics = WatchTopics::FETCHERS;
    }
    Ok(Request::Watch(topics))
}

/// `debugtime <seconds>|p|r`: memcached needs an argument (`ERROR` without one) and
/// reads only the first.
fn parse_debugtime(mut tokens: Tokens<'_>) -> Result<Request<'static>, ParseErrorKind> {
    let arg = tokens.next().ok_or(ParseErrorKind::UnknownCommand)?;
    Ok(Request::DebugTime(match arg {
        b"p" => DebugTime::Pause,
        b"r" => DebugTime::Resume,
        _ => parse_memcache_i64(arg).map_or(DebugTime::Invalid, DebugTime::ShiftSecs),
    }))
}

/// Commands with a fixed number of arguments and an optional trailing `noreply`.
fn parse_fixed<'a>(
    command: &'a [u8],
    tokens: Tokens<'a>,
    line: Line<'a>,
    limits: &Limits,
) -> Result<Parsed<'a>, ParseError> {
    let mut args: [&[u8]; MAX_FIXED_TOKENS] = [b""; MAX_FIXED_TOKENS];
    let arg_count = collect_args(tokens, &mut args);
    let args = &args[..arg_count.min(MAX_FIXED_TOKENS)];
    // memcached reads `noreply` from the last token, but not in a one-argument delete,
    // whose last token is the key: `delete noreply` deletes the key `noreply` and replies.
    let noreply =
        args.last() == Some(&&b"noreply"[..]) && !(command == b"delete" && arg_count == 1);
    let result = match command {
        b"delete" if (1..=3).contains(&arg_count) => parse_delete(args, noreply, limits),
        b"incr" | b"decr" if (2..=3).contains(&arg_count) => {
            parse_incr(command == b"incr", args, noreply, limits)
        }
        b"touch" if (2..=3).contains(&arg_count) => parse_touch(args, noreply, limits),
        b"flush_all" if arg_count <= 2 => parse_flush_all(args, noreply),
        b"verbosity" if (1..=2).contains(&arg_count) => parse_verbosity(args, noreply),
        _ if looks_like_http(command, line.text) => {
            return Err(ParseError::close(ParseErrorKind::HttpRequest))
        }
        _ => {
            return Err(ParseError::skip(
                ParseErrorKind::UnknownCommand,
                line.total_bytes,
            ))
        }
    };
    match result {
        Ok(request) => Ok(Parsed::Complete {
            request,
            consumed_bytes: line.total_bytes,
        }),
        Err(kind) => Err(ParseError::skip(kind, line.total_bytes).with_noreply(noreply)),
    }
}

/// tailcache has no slab classes, so `slabs` is not supported (`ERROR`), except that a
/// malformed number answers as memcached does, whose checks come first: `slabs automove
/// <level>` with a level that is not a u32, and `slabs reassign <src> <dst>` with a class
/// that is not an i32, answer `CLIENT_ERROR bad command line format`. `slabs automove`
/// honours `noreply` (its last token), so a valid one with it answers nothing, as in
/// memcached.
fn parse_slabs(tokens: Tokens<'_>, line: Line<'_>) -> ParseError {
    let mut args: [&[u8]; 4] = [b""; 4];
    let arg_count = collect_args(tokens, &mut args);
    let seen = &args[..arg_count.min(args.len())];
    let not_i32 = |token: &[u8]| {
        parse_memcache_i64(token)
            .and_then(|n| i32::try_from(n).ok())
            .is_none()
    };
    let (kind, noreply) = match seen {
        [b"automove", level, ..] => {
            let noreply = arg_count <= args.len() && seen.last() == Some(&&b"noreply"[..]);
            let bad = *level != b"ratio" && parse_client_flags(level).is_none();
            (
                if bad {
                    ParseErrorKind::BadCommandLine
                } else {
                    ParseErrorKind::UnknownCommand
                },
                noreply,
            )
        }
        [b"reassign", src, dst] if not_i32(src) || not_i32(dst) => {
            (ParseErrorKind::BadCommandLine, false)
        }
        _ => (ParseErrorKind::UnknownCommand, false),
    };
    ParseError::skip(kind, line.total_bytes).with_noreply(noreply)
}

/// memcached's tokenizer splits at most this many tokens (`MAX_TOKENS` - 1); the rest
/// of a longer line is one more token.
const MEMCACHED_SPLIT_TOKENS: usize = 23;

/// memcached hangs up, without a reply, on a line whose command it does not know at all
/// and whose last token starts with `HTTP/` (`GET / HTTP/1.0`, `PUT /x HTTP/1.1`,
/// `DELETE HTTP/1.1`): a browser's request, perhaps a cross-protocol attack. A command
/// memcached dispatches on its first letter (`g`, `s`, `a`, `c`, `i`, `d`, `t`, and
/// two-letter `m` meta commands) or by name answers `ERROR` instead, whatever follows.
/// On a line of more than 23 tokens memcached looks at the 23rd.
fn looks_like_http(command: &[u8], line: &[u8]) -> bool {
    const DISPATCHED_BY_NAME: &[&[u8]] = &[
        b"replace",
        b"prepend",
        b"bget",
        b"flush_all",
        b"version",
        b"quit",
        b"lru_crawler",
        b"refresh_certs",
        b"watch",
        b"verbosity",
        b"lru",
    ];
    let dispatched = command.len() < 2
        || matches!(command[0], b'g' | b's' | b'a' | b'c' | b'i' | b'd' | b't')
        || (command.len() == 2 && command[0] == b'm')
        || DISPATCHED_BY_NAME.contains(&command);
    if dispatched {
        return false;
    }
    Tokens::new(line)
        .take(MEMCACHED_SPLIT_TOKENS)
        .last()
        .is_some_and(|token| token.starts_with(b"HTTP/"))
}

/// Copies up to `args.len()` tokens into `args`; returns how many tokens there were in all.
fn collect_args<'a>(tokens: Tokens<'a>, args: &mut [&'a [u8]]) -> usize {
    let mut count = 0;
    for token in tokens {
        if let Some(slot) = args.get_mut(count) {
            *slot = token;
        }
        count += 1;
    }
    count
}

fn check_key(key: &[u8], limits: &Limits) -> Result<(), ParseErrorKind> {
    if key.len() > limits.max_key_bytes {
        return Err(ParseErrorKind::BadCommandLine);
    }
    Ok(())
}

fn parse_delete<'a>(
    args: &[&'a [u8]],
    noreply: bool,
    limits: &Limits,
) -> Result<Request<'a>, ParseErrorKind> {
    // memcached still accepts the old `delete <key> 0` hold time, and nothing else.
    if args.len() > 1 {
        let hold_is_zero = args[1] == b"0";
        let valid = (args.len() == 2 && (hold_is_zero || noreply))
            || (args.len() == 3 && hold_is_zero && noreply);
        if !valid {
            return Err(ParseErrorKind::DeleteUsage);
        }
    }
    check_key(args[0], limits)?;
    Ok(Request::Delete(Delete {
        key: args[0],
        noreply,
    }))
}

fn parse_incr<'a>(
    increment: bool,
    args: &[&'a [u8]],
    noreply: bool,
    limits: &Limits,
) -> Result<Request<'a>, ParseErrorKind> {
    check_key(args[0], limits)?;
    let delta = parse_memcache_u64(args[1]).ok_or(ParseErrorKind::InvalidDelta)?;
    Ok(Request::Incr(Incr {
        key: args[0],
        delta,
        increment,
        noreply,
    }))
}

fn parse_touch<'a>(
    args: &[&'a [u8]],
    noreply: bool,
    limits: &Limits,
) -> Result<Request<'a>, ParseErrorKind> {
    check_key(args[0], limits)?;
    let exptime = parse_memcache_i64(args[1]).ok_or(ParseErrorKind::InvalidExptime)?;
    Ok(Request::Touch(Touch {
        key: args[0],
        exptime,
        noreply,
    }))
}

fn parse_flush_all(args: &[&[u8]], noreply: bool) -> Result<Request<'static>, ParseErrorKind> {
    let delay_secs = if args.len() == usize::from(noreply) {
        0
    } else {
        parse_memcache_i64(args[0]).ok_or(ParseErrorKind::InvalidExptime)?
    };
    Ok(Request::FlushAll(FlushAll {
        delay_secs,
        noreply,
    }))
}

fn parse_verbosity(args: &[&[u8]], noreply: bool) -> Result<Request<'static>, ParseErrorKind> {
    let level = parse_client_flags(args[0]).ok_or(ParseErrorKind::BadCommandLine)?;
    Ok(Request::Verbosity(Verbosity { level, noreply }))
}

#[inline]
fn parse_get<'a>(
    kind: GetKind,
    mut tokens: Tokens<'a>,
    limits: &Limits,
) -> Result<Request<'a>, ParseErrorKind> {
    let touch_exptime = match kind {
        GetKind::Gat | GetKind::Gats => {
            let token = tokens.next().ok_or(ParseErrorKind::UnknownCommand)?;
            Some(parse_memcache_i64(token).ok_or(ParseErrorKind::InvalidExptime)?)
        }
        GetKind::Get | GetKind::Gets => None,
    };
    let mut count = 0;
    for key in tokens.clone() {
        check_key(key, limits)?;
        count += 1;
    }
    if count == 0 && touch_exptime.is_none() {
        return Err(ParseErrorKind::UnknownCommand);
    }
    if count > limits.max_keys_per_get {
        return Err(ParseErrorKind::TooManyKeys);
    }
    Ok(Request::Get(Get {
        kind,
        touch_exptime,
        keys: Keys::new(tokens, count),
    }))
}

fn parse_stats(mut tokens: Tokens<'_>) -> Request<'_> {
    let group = match tokens.next() {
        None => StatsGroup::General,
        Some(b"settings") => StatsGroup::Settings,
        Some(b"items") => StatsGroup::Items,
        Some(b"slabs") => StatsGroup::Slabs,
        Some(b"sizes") => StatsGroup::Sizes,
        Some(b"conns") => StatsGroup::Conns,
        Some(b"reset") => StatsGroup::Reset,
        Some(b"detail") => StatsGroup::Detail,
        Some(other) => StatsGroup::Other(other),
    };
    Request::Stats(Stats {
        group,
        args: tokens.remainder(),
    })
}

/// `lru_crawler crawl|metadump|tocrawl|sleep <arg>` or `lru_crawler enable|disable`;
/// any other shape is `ERROR`, as in memcached's `process_lru_crawler_command`.
fn parse_lru_crawler(tokens: Tokens<'_>) -> Result<Request<'static>, ParseErrorKind> {
    let mut args: [&[u8]; 3] = [b""; 3];
    let arg_count = collect_args(tokens, &mut args);
    let number = |token| safe_strtoul(token).ok_or(ParseErrorKind::BadCommandLine);
    let command = match (arg_count, args[0]) {
        (2, b"crawl") => LruCrawler::Crawl(crawl_target(args[1])),
        (2, b"metadump") => LruCrawler::Metadump(crawl_target(args[1])),
        (2, b"tocrawl") => LruCrawler::Tocrawl(number(args[1])?),
        (2, b"sleep") => LruCrawler::Sleep(number(args[1])?),
        (1, b"enable") => LruCrawler::Enable,
        (1, b"disable") => LruCrawler::Disable,
        _ => return Err(ParseErrorKind::UnknownCommand),
    };
    Ok(Request::LruCrawler(command))
}

/// memcached's `lru_crawler_crawl` argument: `all`, `hash`, or class ids split on `,`
/// (empty pieces skipped, as `strtok_r` does); the first bad id makes it `BadClass`.
fn crawl_target(token: &[u8]) -> CrawlTarget {
    match token {
        b"all" => CrawlTarget::All,
        b"hash" => CrawlTarget::Hash,
        _ => {
            let mut ids = ClassIds::default();
            for piece in token.split(|&b| b == b',').filter(|p| !p.is_empty()) {
                match safe_strtoul(piece) {
                    Some(id) if ids.insert(id) => {}
                    _ => return CrawlTarget::BadClass,
                }
            }
            CrawlTarget::Classes(ids)
        }
    }
}

/// memcached's `safe_strtoul` on a 64-bit build: `strtoul` (optional sign, u64
/// overflow refused), a `-` refused only when the result looks negative as a long
/// (`-0` passes), then truncated to 32 bits.
fn safe_strtoul(token: &[u8]) -> Option<u32> {
    let value = match token.split_first() {
        Some((b'-', digits)) if !digits.starts_with(b"+") && !digits.starts_with(b"-") => {
            let negated = parse_memcache_u64(digits)?.wrapping_neg();
            if (negated as i64) < 0 {
                return None;
            }
            negated
        }
        _ => parse_memcache_u64(token)?,
    };
    // Truncation is what memcached does with the unsigned long it parsed.
    Some(value as u32)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StoreKind {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas,
}

/// The typed fields of a storage command line, before its data block.
struct StoreLine<'a> {
    key: &'a [u8],
    client_flags: u32,
    exptime: i64,
    value_bytes: usize,
    cas_unique: u64,
}

/// `<cmd> <key> <flags> <exptime> <bytes> [cas] [noreply]` and the data block.
fn parse_store<'a>(
    kind: StoreKind,
    tokens: Tokens<'a>,
    input: &'a [u8],
    line: Line<'a>,
    limits: &Limits,
) -> Result<Parsed<'a>, ParseError> {
    let fixed_args = if kind == StoreKind::Cas { 5 } else { 4 };
    let mut args: [&[u8]; 6] = [b""; 6];
    let arg_count = collect_args(tokens, &mut args);
    if arg_count != fixed_args && arg_count != fixed_args + 1 {
        return Err(ParseError::skip(
            ParseErrorKind::UnknownCommand,
            line.total_bytes,
        ));
    }
    let args = &args[..arg_count];
    // memcached reads `noreply` from the last token whatever the count, so `set k 0 0
    // noreply` and `cas k 0 0 1 noreply` fail (not a number) without a reply.
    let noreply = args.last() == Some(&&b"noreply"[..]);
    let fields = parse_store_line(kind, args, limits)
        .map_err(|kind| ParseError::skip(kind, line.total_bytes).with_noreply(noreply))?;
    let total_bytes = line.total_bytes + fields.value_bytes + 2;
    let swallow = |kind| ParseError::skip(kind, total_bytes).with_noreply(noreply);
    if fields.value_bytes > limits.max_value_bytes {
        return Err(swallow(ParseErrorKind::ObjectTooLarge));
    }
    let Some(value) = data_block(input, line.total_bytes, fields.value_bytes).map_err(swallow)?
    else {
        return Ok(Parsed::Incomplete {
            needed_bytes_hint: total_bytes,
        });
    };
    let mode = match kind {
        StoreKind::Set => StoreMode::Set,
        StoreKind::Add => StoreMode::Add,
        StoreKind::Replace => StoreMode::Replace,
        StoreKind::Append => StoreMode::Append,
        StoreKind::Prepend => StoreMode::Prepend,
        StoreKind::Cas => StoreMode::Cas(fields.cas_unique),
    };
    let request = Request::Store(Store {
        mode,
        key: fields.key,
        client_flags: fields.client_flags,
        exptime: fields.exptime,
        value,
        noreply,
    });
    Ok(Parsed::Complete {
        request,
        consumed_bytes: total_bytes,
    })
}

/// Checks in memcached's order: key length, numbers, cas, then the length's range.
fn parse_store_line<'a>(
    kind: StoreKind,
    args: &[&'a [u8]],
    limits: &Limits,
) -> Result<StoreLine<'a>, ParseErrorKind> {
    let bad = ParseErrorKind::BadCommandLine;
    check_key(args[0], limits)?;
    let client_flags = parse_client_flags(args[1]).ok_or(bad)?;
    let exptime = parse_memcache_i64(args[2]).ok_or(bad)?;
    let length = parse_memcache_i64(args[3]).ok_or(bad)?;
    let cas_unique = match kind {
        StoreKind::Cas => parse_memcache_u64(args[4]).ok_or(bad)?,
        _ => 0,
    };
    // memcached reads the length as an i32 and needs room for the trailing \r\n.
    if !(0..=i64::from(i32::MAX) - 2).contains(&length) {
        return Err(bad);
    }
    Ok(StoreLine {
        key: args[0],
        client_flags,
        exptime,
        value_bytes: length as usize,
        cas_unique,
    })
}
