//! The meta commands (mg ms md ma mn me) against the engine.

use std::time::Instant;

use tailcache_protocol::memcache::encode::{self, Reply};
use tailcache_protocol::memcache::meta_encode::{self, MetaDebugInfo, MetaItem, MetaStatus};
use tailcache_protocol::memcache::{
    ArithMode, MetaArithmetic, MetaCommand, MetaDebug, MetaDelete, MetaGet, MetaSet, SetMode,
    MAX_DECODED_KEY_BYTES,
};
use tailcache_storage::{CacheError, ItemMeta, MetaBitsUpdate, StoreMode, StoreOptions};

use super::memcache_classic::store_error_reply;
use super::memcache_meta_flags::{encode_status, encode_value_header, item_flags, Recache};
use super::{record, ttl};
use crate::context::ServerContext;
use crate::metrics::{CommandKind, Counter};

/// mg: a hit answers `VA` (with `v`) or `HD`, a miss `EN` (or vivifies with `N`).
pub fn meta_get(ctx: &ServerContext, get: &MetaGet<'_>, out: &mut Vec<u8>) {
    let started = Instant::now();
    ctx.metrics.incr(Counter::CmdMeta);
    ctx.metrics.incr(Counter::CmdGet);
    let mut scratch = [0u8; MAX_DECODED_KEY_BYTES];
    let key = get.key.bytes(&mut scratch);
    let flags = &get.flags;
    let value_start = out.len();
    let found = match flags.exptime() {
        Some(exptime) => ctx.engine.get_and_touch_into(key, exptime, out),
        None => ctx.engine.get_into(key, out),
    };
    let now = ttl::now_unix_secs();
    let (meta, vivified) = match found {
        Ok(Some(meta)) => (meta, false),
        _ => {
            out.truncate(value_start);
            ctx.metrics.incr(Counter::GetMisses);
            match flags.vivify_exptime().and_then(|exptime| vivify(ctx, key, exptime)) {
                Some(meta) => (meta, true),
                None => {
                    let miss = MetaItem::default();
                    encode_status(out, MetaCommand::Get, MetaStatus::En, &get.key, flags, &miss, Recache::default());
                    return record(ctx, CommandKind::Get, started);
                }
            }
        }
    };
    if !vivified {
        ctx.metrics.incr(Counter::GetHits);
    }
    let remaining = ttl::remaining_secs(meta.expiry_unix_secs, now);
    let recache_due = flags
        .recache_below_secs()
        .is_some_and(|below| remaining >= 0 && remaining < below);
    let recache = Recache::for_hit(&meta, recache_due, vivified);
    if recache.won && !vivified {
        let claim = MetaBitsUpdate {
            win_token_issued: Some(true),
            ..MetaBitsUpdate::default()
        };
        let _ = ctx.engine.update_meta_bits(key, claim);
    }
    let item = item_flags(&meta, now);
    if flags.return_value() {
        // The value was copied first; its header moves in front in place.
        encode_value_header(out, meta.value_len, &get.key, flags, &item, recache);
        let header_len = out.len() - value_start - meta.value_len;
        out[value_start..].rotate_right(header_len);
        encode::encode_data_trailer(out);
    } else {
        out.truncate(value_start);
        encode_status(out, MetaCommand::Get, MetaStatus::Hd, &get.key, flags, &item, recache);
    }
    record(ctx, CommandKind::Get, started);
}

/// Creates an empty item for a missed `mg ... N<ttl>`; its creator wins the
/// right to fill it.
fn vivify(ctx: &ServerContext, key: &[u8], exptime: i64) -> Option<ItemMeta> {
    let options = StoreOptions {
        exptime,
        ..StoreOptions::default()
    };
    let cas = ctx.engine.store(StoreMode::Add, key, b"", options).ok()?;
    let claim = MetaBitsUpdate {
        win_token_issued: Some(true),
        ..MetaBitsUpdate::default()
    };
    let meta = ctx.engine.update_meta_bits(key, claim).ok()?;
    Some(ItemMeta { cas, ..meta })
}

/// ms: `HD` stored, `NS` not stored, `EX` cas mismatch, `NF` cas on a miss.
pub fn meta_set(ctx: &ServerContext, set: &MetaSet<'_>, out: &mut Vec<u8>) {
    let started = Instant::now();
    ctx.metrics.incr(Counter::CmdMeta);
    ctx.metrics.incr(Counter::CmdSet);
    let mut scratch = [0u8; MAX_DECODED_KEY_BYTES];
    let key = set.key.bytes(&mut scratch);
    let flags = &set.flags;
    let mut options = StoreOptions {
        client_flags: flags.client_flags().unwrap_or(0),
        exptime: flags.exptime().unwrap_or(0),
        new_cas: flags.new_cas(),
        ..StoreOptions::default()
    };
    let mut mode = match set.mode {
        SetMode::Set => StoreMode::Set,
        SetMode::Add => StoreMode::Add,
        SetMode::Replace => StoreMode::Replace,
        SetMode::Append => StoreMode::Append,
        SetMode::Prepend => StoreMode::Prepend,
    };
    if let Some(expected) = flags.compare_cas() {
        mode = StoreMode::Cas(expected);
        // With I, a write carrying an older cas still lands, marked stale.
        if flags.invalidate() && ctx.engine.get_with(key, |_, m| m.cas).ok().flatten().is_some_and(|cas| expected < cas) {
            mode = StoreMode::Set;
            options.stale = true;
        }
    }
    let result = ctx.engine.store(mode, key, set.value, options);
    let (status, item) = match result {
        Ok(cas) => (MetaStatus::Hd, MetaItem { cas: Some(cas), ..MetaItem::default() }),
        Err(CacheError::NotStored) => (MetaStatus::Ns, MetaItem::default()),
        Err(CacheError::Exists) => (MetaStatus::Ex, MetaItem::default()),
        Err(CacheError::NotFound) => (MetaStatus::Nf, MetaItem::default()),
        Err(error) => {
            if mode == StoreMode::Set {
                let _ = ctx.engine.delete(key, None);
            }
            encode::encode_reply(out, store_error_reply(ctx, error));
            return record(ctx, CommandKind::Set, started);
        }
    };
    encode_status(out, MetaCommand::Set, status, &set.key, flags, &item, Recache::default());
    record(ctx, CommandKind::Set, started);
}

/// md: `HD` deleted (or marked stale with `I`), `NF` missing, `EX` cas mismatch.
pub fn meta_delete(ctx: &ServerContext, delete: &MetaDelete<'_>, out: &mut Vec<u8>) {
    let started = Instant::now();
    ctx.metrics.incr(Counter::CmdMeta);
    let mut scratch = [0u8; MAX_DECODED_KEY_BYTES];
    let key = delete.key.bytes(&mut scratch);
    let flags = &delete.flags;
    let current = ctx.engine.get_with(key, |_, meta| *meta).ok().flatten();
    let status = match current {
        None => MetaStatus::Nf,
        Some(meta) if flags.compare_cas().is_some_and(|cas| cas != meta.cas) => MetaStatus::Ex,
        Some(meta) => remove_or_invalidate(ctx, key, &meta, flags),
    };
    ctx.metrics.incr(if status == MetaStatus::Hd { Counter::DeleteHits } else { Counter::DeleteMisses });
    encode_status(out, MetaCommand::Delete, status, &delete.key, flags, &MetaItem::default(), Recache::default());
    record(ctx, CommandKind::Delete, started);
}

fn remove_or_invalidate(
    ctx: &ServerContext,
    key: &[u8],
    meta: &ItemMeta,
    flags: &tailcache_protocol::memcache::MetaFlags<'_>,
) -> MetaStatus {
    let done = if flags.invalidate() {
        // Stale items are served (with X) until someone recaches them; the
        // next reader wins the token again.
        let update = MetaBitsUpdate {
            stale: Some(true),
            win_token_issued: Some(false),
        };
        let marked = ctx.engine.update_meta_bits(key, update).is_ok();
        if let Some(exptime) = flags.exptime() {
            let _ = ctx.engine.touch(key, exptime);
        }
        marked
    } else if flags.remove_value() {
        let options = StoreOptions {
            client_flags: meta.client_flags,
            keep_ttl: true,
            ..StoreOptions::default()
        };
        ctx.engine.store(StoreMode::Cas(meta.cas), key, b"", options).is_ok()
    } else {
        ctx.engine.delete(key, Some(meta.cas)).is_ok()
    };
    if done {
        MetaStatus::Hd
    } else {
        MetaStatus::Ex
    }
}

/// ma: `HD` (or `VA` with the number for `v`), `NF` missing, `EX` cas mismatch.
pub fn meta_arithmetic(ctx: &ServerContext, arith: &MetaArithmetic<'_>, out: &mut Vec<u8>) {
    let started = Instant::now();
    ctx.metrics.incr(Counter::CmdMeta);
    let mut scratch = [0u8; MAX_DECODED_KEY_BYTES];
    let key = arith.key.bytes(&mut scratch);
    let flags = &arith.flags;
    let increment = arith.mode == ArithMode::Increment;
    let current = ctx.engine.get_with(key, |_, meta| *meta).ok().flatten();
    let result = match current {
        Some(meta) if flags.compare_cas().is_some_and(|cas| cas != meta.cas) => Err(CacheError::Exists),
        Some(_) if increment => ctx.engine.incr(key, arith.delta),
        Some(_) => ctx.engine.decr(key, arith.delta),
        None => match flags.vivify_exptime() {
            Some(exptime) => create_counter(ctx, key, arith.initial_value, exptime),
            None => Err(CacheError::NotFound),
        },
    };
    let (hits, misses) = if increment {
        (Counter::IncrHits, Counter::IncrMisses)
    } else {
        (Counter::DecrHits, Counter::DecrMisses)
    };
    ctx.metrics.incr(if current.is_some() { hits } else { misses });
    let number = match result {
        Ok(number) => number,
        Err(error) => {
            let status = match error {
                CacheError::NotFound => MetaStatus::Nf,
                CacheError::Exists => MetaStatus::Ex,
                CacheError::NotStored => MetaStatus::Ns,
                other => {
                    encode::encode_reply(out, arithmetic_error_reply(ctx, other));
                    return record(ctx, CommandKind::Arithmetic, started);
                }
            };
            encode_status(out, MetaCommand::Arithmetic, status, &arith.key, flags, &MetaItem::default(), Recache::default());
            return record(ctx, CommandKind::Arithmetic, started);
        }
    };
    if let (Some(exptime), Some(_)) = (flags.exptime(), current) {
        let _ = ctx.engine.touch(key, exptime);
    }
    let item = arithmetic_item(ctx, key, flags);
    if flags.return_value() {
        let mut digits = Vec::with_capacity(20);
        encode::encode_number(&mut digits, number);
        let digits = &digits[..digits.len() - 2];
        encode_value_header(out, digits.len(), &arith.key, flags, &item, Recache::default());
        out.extend_from_slice(digits);
        encode::encode_data_trailer(out);
    } else {
        encode_status(out, MetaCommand::Arithmetic, MetaStatus::Hd, &arith.key, flags, &item, Recache::default());
    }
    record(ctx, CommandKind::Arithmetic, started);
}

fn arithmetic_error_reply(ctx: &ServerContext, error: CacheError) -> Reply {
    store_error_reply(ctx, error)
}

/// `c` and `t` after an ma; only read back when asked for.
fn arithmetic_item(
    ctx: &ServerContext,
    key: &[u8],
    flags: &tailcache_protocol::memcache::MetaFlags<'_>,
) -> MetaItem {
    if !(flags.return_cas() || flags.return_ttl()) {
        return MetaItem::default();
    }
    let Some(meta) = ctx.engine.get_with(key, |_, meta| *meta).ok().flatten() else {
        return MetaItem::default();
    };
    let full = item_flags(&meta, ttl::now_unix_secs());
    MetaItem {
        cas: full.cas,
        ttl_remaining_secs: full.ttl_remaining_secs,
        ..MetaItem::default()
    }
}

/// An ma miss with `N`: the counter starts at `J` (the delta is not applied).
fn create_counter(ctx: &ServerContext, key: &[u8], initial: u64, exptime: i64) -> Result<u64, CacheError> {
    let mut digits = Vec::with_capacity(22);
    encode::encode_number(&mut digits, initial);
    let options = StoreOptions {
        exptime,
        ..StoreOptions::default()
    };
    ctx.engine
        .store(StoreMode::Add, key, &digits[..digits.len() - 2], options)
        .map(|_| initial)
}

/// mn: `MN`, the end marker of a quiet pipeline.
pub fn meta_noop(ctx: &ServerContext, out: &mut Vec<u8>) {
    let started = Instant::now();
    ctx.metrics.incr(Counter::CmdMeta);
    meta_encode::encode_meta_noop(out);
    record(ctx, CommandKind::Other, started);
}

/// me: an item's internals, or `EN`.
pub fn meta_debug(ctx: &ServerContext, debug: &MetaDebug<'_>, out: &mut Vec<u8>) {
    let started = Instant::now();
    ctx.metrics.incr(Counter::CmdMeta);
    let mut scratch = [0u8; MAX_DECODED_KEY_BYTES];
    let key = debug.key.bytes(&mut scratch);
    match ctx.engine.get_with(key, |_, meta| *meta).ok().flatten() {
        Some(meta) => {
            let info = MetaDebugInfo {
                exptime_secs: ttl::remaining_secs(meta.expiry_unix_secs, ttl::now_unix_secs()),
                last_access_secs: 0,
                cas: meta.cas,
                fetched: meta.hit_before,
                class_id: 1,
                size_bytes: (key.len() + meta.value_len) as u64,
            };
            meta_encode::encode_meta_debug(out, &debug.key, &info);
        }
        None => out.extend_from_slice(b"EN\r\n"),
    }
    record(ctx, CommandKind::Other, started);
}
