//! ms and md: meta set (modes, compare-and-set, invalidation) and meta
//! delete (compare, mark stale, drop the value).

use std::time::Instant;

use tailcache_protocol::memcache::encode;
use tailcache_protocol::memcache::meta_encode::{self, MetaItem, MetaStatus};
use tailcache_protocol::memcache::{
    MetaCommand, MetaDelete, MetaFlags, MetaSet, SetMode, MAX_DECODED_KEY_BYTES,
};
use tailcache_storage::{CacheError, ItemMeta, MetaBitsUpdate, StoreMode, StoreOptions};

use super::memcache_classic::store_error_reply;
use super::record;
use crate::context::ServerContext;
use crate::metrics::{CommandKind, Counter};

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
        if flags.invalidate()
            && ctx
                .engine
                .get_with(key, |_, m| m.cas)
                .ok()
                .flatten()
                .is_some_and(|cas| expected < cas)
        {
            mode = StoreMode::Set;
            options.stale = true;
        }
    }
    let result = ctx.engine.store(mode, key, set.value, options);
    let (status, item) = match result {
        Ok(cas) => (
            MetaStatus::Hd,
            MetaItem {
                cas: Some(cas),
                ..MetaItem::default()
            },
        ),
        Err(CacheError::NotStored) => (MetaStatus::Ns, MetaItem::default()),
        Err(CacheError::Exists) => {
            // memcached tells a losing writer the cas that beat it.
            let current = flags
                .return_cas()
                .then(|| ctx.engine.get_with(key, |_, m| m.cas).ok().flatten())
                .flatten();
            (
                MetaStatus::Ex,
                MetaItem {
                    cas: current,
                    ..MetaItem::default()
                },
            )
        }
        Err(CacheError::NotFound) => (MetaStatus::Nf, MetaItem::default()),
        Err(error) => {
            if mode == StoreMode::Set {
                let _ = ctx.engine.delete(key, None);
            }
            encode::encode_reply(out, store_error_reply(ctx, error));
            return record(ctx, CommandKind::Set, started);
        }
    };
    meta_encode::encode_meta_status(out, MetaCommand::Set, status, &set.key, flags, &item);
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
    ctx.metrics.incr(if status == MetaStatus::Hd {
        Counter::DeleteHits
    } else {
        Counter::DeleteMisses
    });
    meta_encode::encode_meta_status(
        out,
        MetaCommand::Delete,
        status,
        &delete.key,
        flags,
        &MetaItem::default(),
    );
    record(ctx, CommandKind::Delete, started);
}

fn remove_or_invalidate(
    ctx: &ServerContext,
    key: &[u8],
    meta: &ItemMeta,
    flags: &MetaFlags<'_>,
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
        ctx.engine
            .store(StoreMode::Cas(meta.cas), key, b"", options)
            .is_ok()
    } else {
        ctx.engine.delete(key, Some(meta.cas)).is_ok()
    };
    if done {
        MetaStatus::Hd
    } else {
        MetaStatus::Ex
    }
}
