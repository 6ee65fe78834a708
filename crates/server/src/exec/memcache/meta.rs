//! The small meta commands (mn, me); mg, ms/md and ma have their own files.

use std::time::Instant;

use tailcache_protocol::memcache::meta_encode::{self, MetaDebugInfo};
use tailcache_protocol::memcache::{MetaDebug, MAX_DECODED_KEY_BYTES};

use crate::context::ServerContext;
use crate::exec::{record, ttl};
use crate::observability::metrics::{CommandKind, Counter};

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
    match ctx.engine.get_meta(key).ok().flatten() {
        Some(meta) => {
            let info = MetaDebugInfo {
                exptime_secs: ttl::remaining_secs(meta.expiry, ttl::now_unix_secs(ctx)),
                last_access_secs: u64::from(
                    ttl::now_unix_secs(ctx).saturating_sub(meta.last_access_unix_secs),
                ),
                cas: meta.cas,
                fetched: meta.hit_before,
                class_id: 1,
                size_bytes: (key.len() + meta.value_len) as u64,
            };
            // memcached prints the key as the item was stored: base64 for `ms ... b`.
            let key = debug.key.echoed_as(meta.key_binary);
            meta_encode::encode_meta_debug(out, &key, &info);
        }
        None => out.extend_from_slice(b"EN\r\n"),
    }
    record(ctx, CommandKind::Other, started);
}
