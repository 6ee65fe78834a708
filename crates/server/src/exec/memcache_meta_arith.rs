//! ma: meta arithmetic, with vivify (`N`/`J`), compare (`C`), touch (`T`) and `v`,
//! one engine step: compare, apply, create and touch never race another client.

use std::time::Instant;

use tailcache_protocol::memcache::encode;
use tailcache_protocol::memcache::meta_encode::{self, MetaItem, MetaStatus};
use tailcache_protocol::memcache::{
    ArithMode, MetaArithmetic, MetaCommand, MetaFlags, MAX_DECODED_KEY_BYTES,
};
use tailcache_protocol::number::Decimal;
use tailcache_storage::{ArithOutcome, Arithmetic, CacheError};

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
    let now = ttl::now_unix_secs(ctx);
    let expiry = |exptime| ttl::expiry_from_exptime(exptime, now);
    let touch = flags.exptime().map(expiry);
    // On a created counter, N and T both set the TTL; the later flag wins.
    let vivify = flags.vivify_exptime().map(expiry).map(|vivify| {
        let touch_last = flags.letters().filter(|&l| l == b'N' || l == b'T').last() == Some(b'T');
        let expiry = match touch {
            Some(touch) if touch_last => touch,
            _ => vivify,
        };
        (arith.initial_value, expiry)
    });
    let request = Arithmetic {
        delta: arith.delta,
        decrement: !increment,
        compare_cas: flags.compare_cas(),
        vivify,
        touch,
        new_cas: flags.new_cas(),
    };
    let result = ctx.engine.arithmetic(key, request);
    let (hits, misses) = if increment {
        (Counter::IncrHits, Counter::IncrMisses)
    } else {
        (Counter::DecrHits, Counter::DecrMisses)
    };
    match result {
        Ok(ArithOutcome { created: false, .. })
        | Err(CacheError::Exists | CacheError::NonNumeric) => ctx.metrics.incr(hits),
        Err(CacheError::NotFound) => ctx.metrics.incr(misses),
        _ => {}
    }
    let outcome = match result {
        Ok(outcome) => outcome,
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
    let item = reply_flags(flags, &outcome, now);
    if flags.return_value() {
        let decimal = Decimal::from_u64(outcome.value);
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

/// `c` and `t` after an ma. A `t` before `T` (or before `N` on a created counter)
/// reports the TTL before it changed, as memcached reads the flags in order.
fn reply_flags(flags: &MetaFlags<'_>, outcome: &ArithOutcome, now: u32) -> MetaItem {
    let full = item_flags(&outcome.meta, now);
    let changed_by = |letter| letter == b'T' || (letter == b'N' && outcome.created);
    let t_sees_change = flags
        .letters()
        .take_while(|&letter| letter != b't')
        .any(changed_by);
    let ttl_remaining_secs = if t_sees_change {
        full.ttl_remaining_secs
    } else {
        Some(ttl::remaining_secs(outcome.expiry_before, now))
    };
    MetaItem {
        cas: full.cas,
        ttl_remaining_secs,
        ..MetaItem::default()
    }
}
