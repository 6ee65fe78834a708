//! mg: meta get, with touch (`T`), vivify on miss (`N`), recache (`R`)
//! and the stale/win flags.

use std::time::Instant;

use tailcache_protocol::memcache::encode;
use tailcache_protocol::memcache::meta_encode::{self, MetaItem, MetaStatus};
use tailcache_protocol::memcache::{MetaCommand, MetaGet, MAX_DECODED_KEY_BYTES};
use tailcache_storage::{ItemMeta, MetaBitsUpdate, StoreMode, StoreOptions};

use super::memcache_meta_flags::{item_flags, set_recache_flags};
use super::{prepend_header, record, ttl};
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
            match flags
                .vivify_exptime()
                .and_then(|exptime| vivify(ctx, key, exptime))
            {
                Some(meta) => (meta, true),
                None => {
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
    let mut item = item_flags(&meta, now);
    set_recache_flags(&mut item, &meta, recache_due, vivified);
    if item.won && !vivified {
        let claim = MetaBitsUpdate {
            win_token_issued: Some(true),
            ..MetaBitsUpdate::default()
        };
        let _ = ctx.engine.update_meta_bits(key, claim);
    }
    if flags.return_value() {
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
    // memcached counts the vivifying read as a fetch (later `h` says 1).
    let _ = ctx.engine.get_with(key, |_, _| ());
    Some(ItemMeta { cas, ..meta })
}
