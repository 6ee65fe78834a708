//! mg: meta get, with touch (`T`), vivify on miss (`N`), recache (`R`), no bump
//! (`u`) and the stale/win flags, decided by the engine in one step so that of many
//! clients racing on one key exactly one wins.

use std::time::Instant;

use tailcache_protocol::memcache::classic_encode;
use tailcache_protocol::memcache::meta_encode::{self, MetaItem, MetaStatus};
use tailcache_protocol::memcache::{MetaCommand, MetaFlags, MetaGet, MAX_DECODED_KEY_BYTES};
use tailcache_storage::{Expiry, ReadOptions, ReadOutcome};

use super::meta_flags::item_flags;
use crate::context::ServerContext;
use crate::exec::{prepend_header, record, ttl, watch_events};
use crate::observability::metrics::{CommandKind, Counter};

/// mg: a hit answers `VA` (with `v`) or `HD`, a miss `EN` (or vivifies with `N`).
pub fn meta_get(ctx: &ServerContext, get: &MetaGet<'_>, out: &mut Vec<u8>) {
    let started = Instant::now();
    ctx.metrics.incr(Counter::CmdMeta);
    let mut scratch = [0u8; MAX_DECODED_KEY_BYTES];
    let key = get.key.bytes(&mut scratch);
    let flags = &get.flags;
    let now = ttl::now_unix_secs(ctx);
    if flags.opaque_too_long() {
        return opaque_too_long(ctx, key, flags, now, out, started);
    }
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
            watch_events::fetched(ctx, key, None);
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
    watch_events::fetched(ctx, key, Some(outcome.meta.value_len));
    let item = reply_flags(flags, &outcome, now);
    // A hit's `k` shows the key as the item was stored (base64 for `ms ... b`),
    // whatever this request said; a miss echoes the request's form.
    let key = get.key.echoed_as(outcome.meta.key_binary);
    // `C` with `v`: the value only if the client's copy is out of date.
    let unchanged = flags.compare_cas() == Some(outcome.meta.cas);
    if flags.return_value() && !unchanged {
        // The value was copied first; its header moves in front in place.
        prepend_header(out, value_start, |out, value_len| {
            meta_encode::encode_meta_value_header(out, value_len, &key, flags, &item);
        });
        classic_encode::encode_data_trailer(out);
    } else {
        out.truncate(value_start);
        meta_encode::encode_meta_status(out, MetaCommand::Get, MetaStatus::Hd, &key, flags, &item);
    }
    record(ctx, CommandKind::Get, started);
}

/// An mg whose opaque is too long. memcached finds that only while writing the reply:
/// the item was read (and created by `N`, touched by `T`, when those flags came before
/// the `O`), but given no win token; the reply is the error. It was bumped (marked hit,
/// its access time set) only when no flag made memcached delay the bump to the end of
/// the command (`N`, `T`, `R`, `l`, `h`, anywhere in the flags) and there was no `u`.
fn opaque_too_long(
    ctx: &ServerContext,
    key: &[u8],
    flags: &MetaFlags<'_>,
    now: u32,
    out: &mut Vec<u8>,
    started: Instant,
) {
    let expiry = |exptime| ttl::expiry_from_exptime(exptime, now);
    let touch = flags
        .exptime()
        .filter(|_| flags.before_opaque(b'T'))
        .map(expiry);
    let vivify = flags.vivify_exptime().map(|exptime| {
        let applied = |letter| flags.before_opaque(letter);
        let last = flags
            .letters()
            .take_while(|&l| l != b'O')
            .filter(|&l| l == b'N' || l == b'T')
            .last();
        match (last, touch) {
            (Some(b'T'), Some(touch)) => touch,
            _ if applied(b'N') => expiry(exptime),
            // Created by the read, its TTL not yet set when memcached stopped.
            _ => Expiry::Never,
        }
    });
    let options = ReadOptions {
        touch,
        vivify_on_miss: vivify,
        recache_before_unix_secs: None,
        recache_after_touch: false,
        win_tokens: false,
        no_bump: flags.no_bump()
            || flags
                .letters()
                .any(|letter| matches!(letter, b'N' | b'T' | b'R' | b'l' | b'h')),
    };
    let _ = ctx.engine.read(key, options, None);
    out.extend_from_slice(b"CLIENT_ERROR opaque token too long\r\n");
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
        // memcached applies the flags in order: R after T sees the new TTL.
        recache_after_touch: flags
            .letters()
            .position(|l| l == b'T')
            .zip(flags.letters().position(|l| l == b'R'))
            .is_some_and(|(t, r)| t < r),
        win_tokens: true,
        no_bump: flags.no_bump(),
    }
}

/// The return flags of a hit. memcached applies `T` (and `N` on a created item) and
/// prints `t` in the order the flags came, so `t` shows the TTL as of its place.
fn reply_flags(flags: &MetaFlags<'_>, outcome: &ReadOutcome, now: u32) -> MetaItem {
    let mut item = item_flags(&outcome.meta, now);
    let expiry = |exptime| ttl::expiry_from_exptime(exptime, now);
    let mut current = if outcome.created {
        Expiry::Never
    } else {
        outcome.expiry_before
    };
    for letter in flags.letters() {
        match letter {
            b'T' => current = flags.exptime().map_or(current, expiry),
            b'N' if outcome.created => current = flags.vivify_exptime().map_or(current, expiry),
            b't' => {
                item.ttl_remaining_secs = Some(ttl::remaining_secs(current, now));
                break;
            }
            _ => {}
        }
    }
    item.won = outcome.won;
    item.stale = outcome.meta.stale;
    item.win_token_sent = outcome.token_already_sent;
    item
}
