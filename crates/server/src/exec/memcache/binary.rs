//! memcached's binary protocol against the engine: the same operations and counters
//! as the text commands (`classic`), answered as memcached 1.6's
//! `proto_bin.c` answers them, quiet forms and error texts included.

use std::time::Instant;

use tailcache_protocol::memcache::binary::{
    parse_binary, BinaryCommand, BinaryHeader, BinaryParsed, BinaryStoreMode, Status,
};
use tailcache_protocol::memcache::binary_encode::{
    encode_error, encode_response, encode_response_head, ResponseBody,
};
use tailcache_protocol::memcache::{self, GetKind, Limits, Parsed, Request};
use tailcache_protocol::ErrorAction;
use tailcache_storage::{Arithmetic, CacheError, DeleteOptions, ReadOptions, StoreMode};

use super::classic::{count_get, record_get, store_counted, StoreWrite, MEMCACHED_COMPAT_VERSION};
use crate::context::ServerContext;
use crate::exec::conn_loop::Step;
use crate::exec::{prepend_header, record, ttl, watch_events};
use crate::observability::metrics::{CommandKind, Counter};

/// An increment's exptime that means "do not create a missing item".
const NO_VIVIFY_EXPTIME: u32 = u32::MAX;

/// Handles the binary request at the front of `rest`. A refused packet longer than
/// what is buffered leaves the rest in `discard_bytes`, swallowed as it arrives.
pub fn step(
    ctx: &ServerContext,
    limits: &Limits,
    rest: &[u8],
    output: &mut Vec<u8>,
    discard_bytes: &mut usize,
) -> Step {
    match parse_binary(rest, limits) {
        Ok(BinaryParsed::Complete {
            request,
            consumed_bytes,
        }) => {
            if execute(ctx, &request.header, request.command, output) {
                Step::Close(consumed_bytes)
            } else {
                Step::Next(consumed_bytes)
            }
        }
        Ok(BinaryParsed::Incomplete { .. }) => Step::NeedMore,
        Err(error) => {
            ctx.metrics.incr(Counter::ProtocolErrors);
            if let Some((status, header)) = error.reply {
                if status == Status::TooLarge {
                    refuse_too_large(ctx, &header, rest);
                }
                encode_error(output, &header, status);
            }
            match error.action {
                ErrorAction::Close => Step::Close(0),
                ErrorAction::Skip { bytes } => {
                    *discard_bytes = bytes.saturating_sub(rest.len());
                    Step::Next(bytes.min(rest.len()))
                }
            }
        }
    }
}

/// A too-large set counts as memcached counts it and, as memcached does for `set`,
/// drops the old item so that a stale value never outlives a refused overwrite.
fn refuse_too_large(ctx: &ServerContext, header: &BinaryHeader, rest: &[u8]) {
    ctx.metrics.incr(Counter::StoreTooLarge);
    let opcode = header.opcode;
    let is_set =
        opcode == memcache::binary::opcode::SET || opcode == memcache::binary::opcode::SETQ;
    // The key follows the header and the extras; the parser refuses only once it is in.
    let key_bytes = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
    let key_start = memcache::binary::HEADER_BYTES + usize::from(rest[4]);
    if let (true, Some(key)) = (is_set, rest.get(key_start..key_start + key_bytes)) {
        let _ = ctx.engine.delete(key, DeleteOptions::default());
    }
}

/// Runs one request; whether the connection closes after its reply.
fn execute(
    ctx: &ServerContext,
    header: &BinaryHeader,
    command: BinaryCommand<'_>,
    output: &mut Vec<u8>,
) -> bool {
    let started = Instant::now();
    match command {
        BinaryCommand::Get {
            key,
            quiet,
            with_key,
            touch_exptime,
        } => {
            get(ctx, header, key, quiet, with_key, touch_exptime, output);
            let kind = match touch_exptime {
                Some(_) => GetKind::Gat,
                None => GetKind::Get,
            };
            record_get(ctx, kind, started);
            return false;
        }
        BinaryCommand::Touch { key, exptime } => {
            touch(ctx, header, key, exptime, output);
            record(ctx, CommandKind::Touch, started);
            return false;
        }
        BinaryCommand::Store {
            mode,
            key,
            value,
            client_flags,
            exptime,
            quiet,
        } => {
            let compare_cas = (header.cas != 0).then_some(header.cas);
            let write = StoreWrite {
                mode: storage_mode(mode, compare_cas.is_some()),
                compare_cas,
                key,
                value,
                client_flags,
                exptime: i64::from(exptime),
            };
            match store_counted(ctx, write) {
                Ok(meta) if !quiet => success(output, header, meta.cas, &[]),
                Ok(_) => {}
                Err(error) => encode_error(output, header, store_status(ctx, mode, error)),
            }
            record(ctx, CommandKind::Set, started);
            return false;
        }
        BinaryCommand::Delete { key, quiet } => {
            ctx.shared.prefix_stats.record_delete(key);
            watch_events::looked_up(ctx, key);
            let options = DeleteOptions {
                compare_cas: (header.cas != 0).then_some(header.cas),
                ..DeleteOptions::default()
            };
            match ctx.engine.delete(key, options) {
                Ok(()) => {
                    ctx.metrics.incr(Counter::DeleteHits);
                    if !quiet {
                        success(output, header, 0, &[]);
                    }
                }
                Err(CacheError::Exists) => encode_error(output, header, Status::KeyExists),
                Err(_) => {
                    ctx.metrics.incr(Counter::DeleteMisses);
                    encode_error(output, header, Status::KeyNotFound);
                }
            }
            record(ctx, CommandKind::Delete, started);
            return false;
        }
        BinaryCommand::Arithmetic {
            key,
            increment,
            delta,
            initial,
            exptime,
            quiet,
        } => {
            let arithmetic = Arithmetic {
                delta,
                decrement: !increment,
                compare_cas: (header.cas != 0).then_some(header.cas),
                vivify: (exptime != NO_VIVIFY_EXPTIME).then(|| {
                    let now = ttl::now_unix_secs(ctx);
                    (initial, ttl::expiry_from_exptime(i64::from(exptime), now))
                }),
                ..Arithmetic::default()
            };
            arithmetic_reply(ctx, header, key, increment, arithmetic, quiet, output);
            record(ctx, CommandKind::Arithmetic, started);
            return false;
        }
        BinaryCommand::Quit { quiet } => {
            if !quiet {
                success(output, header, 0, &[]);
            }
            return true;
        }
        BinaryCommand::Flush { exptime, quiet } => {
            flush(ctx, header, exptime, quiet, output);
            record(ctx, CommandKind::Flush, started);
            return false;
        }
        BinaryCommand::Noop => success(output, header, 0, &[]),
        BinaryCommand::Version => {
            success(output, header, 0, MEMCACHED_COMPAT_VERSION.as_bytes());
        }
        BinaryCommand::Stat { group } => {
            stat(ctx, header, group, output);
            return false;
        }
    }
    record(ctx, CommandKind::Other, started);
    false
}

fn success(output: &mut Vec<u8>, header: &BinaryHeader, cas: u64, value: &[u8]) {
    encode_response(output, header, Status::Success, cas, &[], &[], value);
}

/// memcached turns a set, add or replace that carries a CAS into a compare-and-swap
/// (`NREAD_CAS`): an add then fails on a missing key like the others.
fn storage_mode(mode: BinaryStoreMode, with_cas: bool) -> StoreMode {
    match mode {
        BinaryStoreMode::Set | BinaryStoreMode::Add | BinaryStoreMode::Replace if with_cas => {
            StoreMode::Set
        }
        BinaryStoreMode::Set => StoreMode::Set,
        BinaryStoreMode::Add => StoreMode::Add,
        BinaryStoreMode::Replace => StoreMode::Replace,
        BinaryStoreMode::Append => StoreMode::Append,
        BinaryStoreMode::Prepend => StoreMode::Prepend,
    }
}

/// memcached's status for a refused store: a refused add means the key exists, a
/// refused replace that it does not.
fn store_status(ctx: &ServerContext, mode: BinaryStoreMode, error: CacheError) -> Status {
    match error {
        CacheError::Exists => Status::KeyExists,
        CacheError::NotFound => Status::KeyNotFound,
        CacheError::NotStored => match mode {
            BinaryStoreMode::Add => Status::KeyExists,
            BinaryStoreMode::Replace => Status::KeyNotFound,
            _ => Status::NotStored,
        },
        CacheError::NonNumeric => Status::NonNumeric,
        CacheError::OutOfMemory => {
            ctx.metrics.incr(Counter::StoreNoMemory);
            Status::OutOfMemory
        }
        CacheError::ValueTooLarge { .. } | CacheError::KeyTooLong { .. } | CacheError::KeyEmpty => {
            ctx.metrics.incr(Counter::StoreTooLarge);
            Status::TooLarge
        }
    }
}

/// get, getq, getk, getkq, gat, gatq, gatk, gatkq: a hit is always answered, with the
/// flags as extras; a miss only by the loud forms (getk's carries the key).
fn get(
    ctx: &ServerContext,
    header: &BinaryHeader,
    key: &[u8],
    quiet: bool,
    with_key: bool,
    touch_exptime: Option<u32>,
    output: &mut Vec<u8>,
) {
    let reply_key: &[u8] = if with_key { key } else { &[] };
    let found_len = match touch_exptime {
        None => {
            let found = ctx.engine.get_with_header(key, output, |out, meta| {
                let body = ResponseBody {
                    extras: &meta.client_flags.to_be_bytes(),
                    key: reply_key,
                    value_len: meta.value_len,
                };
                encode_response_head(out, header, Status::Success, meta.cas, body);
            });
            match found {
                Ok(Some(meta)) => Some(meta.value_len),
                _ => None,
            }
        }
        Some(exptime) => {
            let value_start = output.len();
            let options = ReadOptions {
                touch: Some(ttl::expiry_from_exptime(
                    i64::from(exptime),
                    ttl::now_unix_secs(ctx),
                )),
                ..ReadOptions::default()
            };
            match ctx.engine.read(key, options, Some(output)) {
                Ok(Some(outcome)) => {
                    let meta = outcome.meta;
                    prepend_header(output, value_start, |out, value_len| {
                        let body = ResponseBody {
                            extras: &meta.client_flags.to_be_bytes(),
                            key: reply_key,
                            value_len,
                        };
                        encode_response_head(out, header, Status::Success, meta.cas, body);
                    });
                    Some(meta.value_len)
                }
                _ => {
                    output.truncate(value_start);
                    None
                }
            }
        }
    };
    watch_events::fetched(ctx, key, found_len);
    let hit = found_len.is_some();
    let kind = match touch_exptime {
        Some(_) => GetKind::Gat,
        None => GetKind::Get,
    };
    count_get(ctx, kind, hit);
    ctx.shared.prefix_stats.record_get(key, hit);
    if hit || quiet {
        return;
    }
    if with_key {
        encode_response(output, header, Status::KeyNotFound, 0, &[], key, &[]);
    } else {
        encode_error(output, header, Status::KeyNotFound);
    }
}

/// touch: the reply carries the item's flags and CAS, not its value.
fn touch(
    ctx: &ServerContext,
    header: &BinaryHeader,
    key: &[u8],
    exptime: u32,
    output: &mut Vec<u8>,
) {
    ctx.metrics.incr(Counter::CmdTouch);
    let expiry = ttl::expiry_from_exptime(i64::from(exptime), ttl::now_unix_secs(ctx));
    watch_events::looked_up(ctx, key);
    match ctx.engine.touch(key, expiry) {
        Ok(meta) => {
            ctx.metrics.incr(Counter::TouchHits);
            let flags = meta.client_flags.to_be_bytes();
            encode_response(output, header, Status::Success, meta.cas, &flags, &[], &[]);
        }
        Err(_) => {
            ctx.metrics.incr(Counter::TouchMisses);
            encode_error(output, header, Status::KeyNotFound);
        }
    }
}

/// increment / decrement: the reply is the new value as 8 big-endian bytes. A miss
/// creates the item with the initial value unless the exptime says not to.
fn arithmetic_reply(
    ctx: &ServerContext,
    header: &BinaryHeader,
    key: &[u8],
    increment: bool,
    arithmetic: Arithmetic,
    quiet: bool,
    output: &mut Vec<u8>,
) {
    let (hits, misses) = if increment {
        (Counter::IncrHits, Counter::IncrMisses)
    } else {
        (Counter::DecrHits, Counter::DecrMisses)
    };
    watch_events::looked_up(ctx, key);
    match ctx.engine.arithmetic(key, arithmetic) {
        Ok(outcome) => {
            if let (true, Some((_, expiry))) = (outcome.created, arithmetic.vivify) {
                watch_events::vivified(ctx, key, outcome.value, expiry);
            }
            // memcached counts neither a hit nor a miss for an item it created.
            if !outcome.created {
                ctx.metrics.incr(hits);
            }
            if !quiet {
                success(
                    output,
                    header,
                    outcome.meta.cas,
                    &outcome.value.to_be_bytes(),
                );
            }
        }
        Err(CacheError::NonNumeric) => {
            ctx.metrics.incr(hits);
            encode_error(output, header, Status::NonNumeric);
        }
        Err(CacheError::Exists) => encode_error(output, header, Status::KeyExists),
        Err(CacheError::NotFound) => {
            ctx.metrics.incr(misses);
            encode_error(output, header, Status::KeyNotFound);
        }
        Err(error) => {
            let status = store_status(ctx, BinaryStoreMode::Set, error);
            encode_error(output, header, status);
        }
    }
}

/// flush, flushq: refused under `-F` with memcached's `Auth failure.`.
fn flush(
    ctx: &ServerContext,
    header: &BinaryHeader,
    exptime: Option<u32>,
    quiet: bool,
    output: &mut Vec<u8>,
) {
    if !ctx.config.flush_enabled {
        encode_error(output, header, Status::AuthError);
        return;
    }
    ctx.metrics.incr(Counter::CmdFlush);
    super::classic::apply_flush(ctx, i64::from(exptime.unwrap_or(0)));
    if !quiet {
        success(output, header, 0, &[]);
    }
}

/// stat: the text protocol's `stats <group>` reframed, one packet per `STAT` line and
/// an empty packet to end, so both protocols report the same numbers. `detail dump` is
/// one packet named `detailed`; a group memcached does not know is `Not found`.
fn stat(ctx: &ServerContext, header: &BinaryHeader, group: &[u8], output: &mut Vec<u8>) {
    let mut line = b"stats".to_vec();
    if !group.is_empty() {
        line.push(b' ');
        line.extend_from_slice(group);
    }
    line.extend_from_slice(b"\r\n");
    let parsed = if group.iter().any(|&b| b == b'\r' || b == b'\n') {
        None
    } else {
        match memcache::parse(&line, &Limits::default()) {
            Ok(Parsed::Complete {
                request: Request::Stats(stats),
                ..
            }) => Some(stats),
            _ => None,
        }
    };
    let Some(stats) = parsed else {
        encode_error(output, header, Status::KeyNotFound);
        return;
    };
    let mut text = Vec::new();
    super::stats::stats(ctx, stats, &mut text);
    if group.trim_ascii() == b"detail dump" {
        encode_response(output, header, Status::Success, 0, &[], b"detailed", &text);
    } else {
        for line in text.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match line {
                b"" | b"END" | b"OK" | b"RESET" => {}
                _ => match line.strip_prefix(b"STAT ") {
                    Some(pair) => {
                        let split = pair.iter().position(|&b| b == b' ').unwrap_or(pair.len());
                        let (name, value) = pair.split_at(split);
                        let value = value.strip_prefix(b" ").unwrap_or(value);
                        encode_response(output, header, Status::Success, 0, &[], name, value);
                    }
                    None => {
                        // ERROR, or a usage line: a group memcached does not serve.
                        encode_error(output, header, Status::KeyNotFound);
                        return;
                    }
                },
            }
        }
    }
    encode_response(output, header, Status::Success, 0, &[], &[], &[]);
}
