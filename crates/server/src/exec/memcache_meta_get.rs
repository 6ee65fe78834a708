//! mg: meta get, with touch (`T`), vivify on miss (`N`), recache (`R`), no bump
//! (`u`) and the stale/win flags, decided by the engine in one step so that of many
//! clients racing on one key exactly one wins.

use std::time::Instant;

use tailcache_protocol::memcache::encode;
use tailcache_protocol::memcache::meta_encode::{self, MetaItem, MetaStatus};
use tailcache_protocol::memcache::{MetaCommand, MetaFlags, MetaGet, MAX_DECODED_KEY_BYTES};
use tailcache_storage::{Expiry, ReadOptions, ReadOutcome};

use super::memcache_meta_flags::item_flags;
use super::{prepend_header, record, ttl};
use crate::context::ServerContext;
use crate::metrics::{CommandKind, Counter};

/// mg: a hit answers `VA` (with `v`) or `HD`, a miss `EN` (or vivifies with `N`).
pub fn meta_get(ctx: &ServerContext, get: &MetaGet<'_>, out: &mut Vec<u8>) {
    let started = Instant::now();
    ctx.metrics.incr(Counter::CmdMeta);
    let mut scratch = [0u8; MAX_DECODED_KEY_BYTES];
    let key = get.key.bytes(&mut scratch);
    let flags = &get.flags;
    let now = ttl::now_unix_secs(ctx);
    let options = read_options(flags, now);
    let touching = options.touch.is_some();
    ctx.metrics.incr(if touching {
        Counter::CmdTouch
    } else {
        Counter::CmdGet
    });
    let value_start = out.len();
    let copy_into = flags.return_value().then_some(&mut *out);
    let outcome = match ctx.engine.read(key, options, copy_into) {
        Ok(Some(outcome)) => outcome,
        _ => {
            out.truncate(value_start);
            ctx.metrics.incr(if touching {
                Counter::TouchMisses
            } else {
                Counter::GetMisses
            });
            let miss = MetaItem::default();
            meta_encode::encode_meta_status(
                out,
                MetaCommand::Get,
                MetaStatus::En,
                &get.key,
                flags,
                &miss,
            );
            return record(ctx, CommandKind::Get, started);
        }
    };
    // memcached counts a vivified miss as a hit: the command found (made) an item.
    ctx.metrics.incr(if touching {
        Counter::TouchHits
    } else {
        Counter::GetHits
    });
    let item = reply_flags(flags, &outcome, now);
    // `C` with `v`: the value only if the client's copy is out of date.
    let unchanged = flags.compare_cas() == Some(outcome.meta.cas);
    if flags.return_value() && !unchanged {
        // The value was copied first; its header moves in front in place.
        prepend_header(out, value_start, |out, value_len| {
            meta_encode::encode_meta_value_header(out, value_len, &get.key, flags, &item);
        });
        encode::encode_data_trailer(out);
    } else {
        out.truncate(value_start);
        meta_encode::encode_meta_status(
            out,
            MetaCommand::Get,
            MetaStatus::Hd,
            &get.key,
            flags,
            &item,
        );
    }
    record(ctx, CommandKind::Get, started);
}

/// The engine read an mg asks for. When `N` and `T` both set a created item's TTL,
/// the later flag wins, as memcached applies them in order.
fn read_options(flags: &MetaFlags<'_>, now: u32) -> ReadOptions {
    let expiry = |exptime| ttl::expiry_from_exptime(exptime, now);
    let touch = flags.exptime().map(expiry);
    let vivify = flags.vivify_exptime().map(expiry).map(|vivify| {
        let touch_last = flags.letters().filter(|&l| l == b'N' || l == b'T').last() == Some(b'T');
        match touch {
            Some(touch) if touch_last => touch,
            _ => vivify,
        }
    });
    // memcached wins the recache when the item's expiry is before now + R.
    let recache_before =
        flags
            .recache_below_secs()
            .filter(|&secs| secs > 0)
            .map(|secs| match expiry(secs) {
                Expiry::At(at) => at,
                Expiry::Never => u32::MAX,
            });
    ReadOptions {
        touch,
        vivify_on_miss: vivify,
        recache_before_unix_secs: recache_before,
        win_tokens: true,
        no_bump: flags.no_bump(),
    }
}

/// The return flags of a hit. A `t` before `T` (or before `N` on a created item)
/// reports the TTL as it was, as memcached reads the flags in order.
fn reply_flags(flags: &MetaFlags<'_>, outcome: &ReadOutcome, now: u32) -> MetaItem {
    let mut item = item_flags(&outcome.meta, now);
    let changed_by = |letter| letter == b'T' || (letter == b'N' && outcome.created);
    let t_sees_change = flags
        .letters()
        .take_while(|&letter| letter != b't')
        .any(changed_by);
    if !t_sees_change {
        let before = if outcome.created {
            Expiry::Never
        } else {
            outcome.expiry_before
        };
        item.ttl_remaining_secs = Some(ttl::remaining_secs(before, now));
    }
    item.won = outcome.won;
    item.stale = outcome.meta.stale;
    item.win_token_sent = outcome.token_already_sent;
    item
}
