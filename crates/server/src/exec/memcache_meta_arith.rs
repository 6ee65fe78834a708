//! ma: meta arithmetic, with vivify (`N`/`J`), compare (`C`) and `v`.

use std::time::Instant;

use tailcache_protocol::memcache::encode;
use tailcache_protocol::memcache::meta_encode::{self, MetaItem, MetaStatus};
use tailcache_protocol::memcache::{
    ArithMode, MetaArithmetic, MetaCommand, MetaFlags, MAX_DECODED_KEY_BYTES,
};
use tailcache_protocol::number::Decimal;
use tailcache_storage::{CacheError, StoreMode, StoreOptions};

use super::memcache_classic::store_error_reply;
use super::memcache_meta_flags::item_flags;
use super::{record, ttl};
use crate::context::ServerContext;
use crate::metrics::{CommandKind, Counter};

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
        Some(meta) if flags.compare_cas().is_some_and(|cas| cas != meta.cas) => {
            Err(CacheError::Exists)
        }
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
    ctx.metrics
        .incr(if current.is_some() { hits } else { misses });
    let number = match result {
        Ok(number) => number,
        Err(error) => {
            let status = match error {
                CacheError::NotFound => MetaStatus::Nf,
                CacheError::Exists => MetaStatus::Ex,
                CacheError::NotStored => MetaStatus::Ns,
                other => {
                    encode::encode_reply(out, store_error_reply(ctx, other));
                    return record(ctx, CommandKind::Arithmetic, started);
                }
            };
            meta_encode::encode_meta_status(
                out,
                MetaCommand::Arithmetic,
                status,
                &arith.key,
                flags,
                &MetaItem::default(),
            );
            return record(ctx, CommandKind::Arithmetic, started);
        }
    };
    if let (Some(exptime), Some(_)) = (flags.exptime(), current) {
        let _ = ctx.engine.touch(key, exptime);
    }
    let item = arithmetic_item(ctx, key, flags);
    if flags.return_value() {
        let decimal = Decimal::from_u64(number);
        let digits = decimal.as_bytes();
        meta_encode::encode_meta_value_header(out, digits.len(), &arith.key, flags, &item);
        out.extend_from_slice(digits);
        encode::encode_data_trailer(out);
    } else {
        meta_encode::encode_meta_status(
            out,
            MetaCommand::Arithmetic,
            MetaStatus::Hd,
            &arith.key,
            flags,
            &item,
        );
    }
    record(ctx, CommandKind::Arithmetic, started);
}

/// `c` and `t` after an ma; only read back when asked for.
fn arithmetic_item(ctx: &ServerContext, key: &[u8], flags: &MetaFlags<'_>) -> MetaItem {
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
fn create_counter(
    ctx: &ServerContext,
    key: &[u8],
    initial: u64,
    exptime: i64,
) -> Result<u64, CacheError> {
    let options = StoreOptions {
        exptime,
        ..StoreOptions::default()
    };
    ctx.engine
        .store(
            StoreMode::Add,
            key,
            Decimal::from_u64(initial).as_bytes(),
            options,
        )
        .map(|_| initial)
}
