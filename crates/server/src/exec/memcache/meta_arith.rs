//! ma: meta arithmetic, with vivify (`N`/`J`), compare (`C`), touch (`T`) and `v`,
//! one engine step: compare, apply, create and touch never race another client.

use std::time::Instant;

use tailcache_protocol::memcache::classic_encode;
use tailcache_protocol::memcache::meta_encode::{self, MetaItem, MetaStatus};
use tailcache_protocol::memcache::{
    ArithMode, MetaArithmetic, MetaCommand, MetaFlags, MAX_DECODED_KEY_BYTES,
};
use tailcache_protocol::number::Decimal;
use tailcache_storage::{ArithOutcome, Arithmetic, CacheError, Expiry};

use super::classic::store_error_reply;
use super::meta_flags::item_flags;
use crate::context::ServerContext;
use crate::exec::{record, ttl, watch_events};
use crate::observability::metrics::{CommandKind, Counter};

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
    // memcached stops at an over-long opaque while writing the reply, after the
    // arithmetic: only the T and N flags sent before the O were applied.
    let opaque_too_long = flags.opaque_too_long();
    let applied = |letter| !opaque_too_long || flags.before_opaque(letter);
    let touch = flags.exptime().filter(|_| applied(b'T')).map(expiry);
    // On a created counter, N and T both set the TTL; the later flag wins (a counter
    // created before memcached reached its N never expires).
    let vivify = flags.vivify_exptime().map(|vivify| {
        let last = flags
            .letters()
            .take_while(|&l| !opaque_too_long || l != b'O')
            .filter(|&l| l == b'N' || l == b'T')
            .last();
        let expiry = match (last, touch) {
            (Some(b'T'), Some(touch)) => touch,
            (Some(b'N'), _) => expiry(vivify),
            _ => Expiry::Never,
        };
        (arith.initial_value, expiry)
    });
    let request = Arithmetic {
        delta: arith.delta,
        decrement: !increment,
        // memcached's ma compares only a non-zero cas.
        compare_cas: flags.compare_cas().filter(|&cas| cas != 0),
        vivify,
        touch,
        new_cas: flags.new_cas(),
    };
    // The engine refuses an empty value as non-numeric before it compares the cas,
    // and reports the expiry before a touch (for a `t` before `T`), as memcached.
    watch_events::looked_up(ctx, key);
    let result = ctx.engine.arithmetic(key, request);
    if let (Ok(outcome), Some((_, expiry))) = (&result, vivify) {
        if outcome.created {
            watch_events::vivified(ctx, key, outcome.value, expiry);
        }
    }
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
        Ok(_) if opaque_too_long => {
            out.extend_from_slice(b"CLIENT_ERROR opaque token too long\r\n");
            return record(ctx, CommandKind::Arithmetic, started);
        }
        Ok(outcome) => outcome,
        Err(CacheError::NotFound | CacheError::Exists | CacheError::NotStored)
            if opaque_too_long =>
        {
            out.extend_from_slice(b"CLIENT_ERROR opaque token too long\r\n");
            return record(ctx, CommandKind::Arithmetic, started);
        }
        Err(error) => {
            let status = match error {
                CacheError::NotFound => MetaStatus::Nf,
                CacheError::Exists => MetaStatus::Ex,
                CacheError::NotStored => MetaStatus::Ns,
                other => {
                    classic_encode::encode_reply(out, store_error_reply(ctx, other));
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
    if flags.quiet() && !outcome.created {
        // memcached's `q` hides the whole reply of a changed counter, `VA` too; not
        // that of a counter just created by N.
    } else if flags.return_value() {
        let decimal = Decimal::from_u64(outcome.value);
        let digits = decimal.as_bytes();
        meta_encode::encode_meta_value_header(out, digits.len(), &arith.key, flags, &item);
        out.extend_from_slice(digits);
        classic_encode::encode_data_trailer(out);
    } else {
        out.extend_from_slice(b"HD");
        meta_encode::encode_return_flags(out, &arith.key, flags, &item);
        out.extend_from_slice(b"\r\n");
    }
    record(ctx, CommandKind::Arithmetic, started);
}

/// `c` and `t` after an ma. memcached applies `T` (and `N` on a created counter) and
/// prints `t` in the order the flags came, so `t` shows the TTL as of its place.
fn reply_flags(flags: &MetaFlags<'_>, outcome: &ArithOutcome, now: u32) -> MetaItem {
    let full = item_flags(&outcome.meta, now);
    let expiry = |exptime| ttl::expiry_from_exptime(exptime, now);
    let mut current = if outcome.created {
        Expiry::Never
    } else {
        outcome.expiry_before
    };
    let mut ttl_remaining_secs = None;
    for letter in flags.letters() {
        match letter {
            b'T' => current = flags.exptime().map_or(current, expiry),
            b'N' if outcome.created => current = flags.vivify_exptime().map_or(current, expiry),
            b't' => {
                ttl_remaining_secs = Some(ttl::remaining_secs(current, now));
                break;
            }
            _ => {}
        }
    }
    MetaItem {
        cas: full.cas,
        ttl_remaining_secs,
        ..MetaItem::default()
    }
}
