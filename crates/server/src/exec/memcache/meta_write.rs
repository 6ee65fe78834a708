//! ms and md: meta set (modes, compare-and-set, invalidation) and meta delete
//! (compare, mark stale, drop the value), each one engine step.

use std::time::Instant;

use tailcache_protocol::memcache::classic_encode;
use tailcache_protocol::memcache::meta_encode::{self, MetaItem, MetaStatus};
use tailcache_protocol::memcache::{
    MetaCommand, MetaDelete, MetaSet, SetMode, MAX_DECODED_KEY_BYTES,
};
use tailcache_storage::{CacheError, DeleteOptions, StoreMode, StoreOptions};

use super::classic::store_error_reply;
use crate::context::ServerContext;
use crate::exec::{record, ttl, watch_events};
use crate::observability::metrics::{CommandKind, Counter};

/// ms: `HD` stored, `NS` not stored, `EX` cas mismatch, `NF` cas on a miss.
pub fn meta_set(ctx: &ServerContext, set: &MetaSet<'_>, out: &mut Vec<u8>) {
    let started = Instant::now();
    ctx.metrics.incr(Counter::CmdMeta);
    ctx.metrics.incr(Counter::CmdSet);
    let mut scratch = [0u8; MAX_DECODED_KEY_BYTES];
    let key = set.key.bytes(&mut scratch);
    let flags = &set.flags;
    let now = ttl::now_unix_secs(ctx);
    let mode = match set.mode {
        SetMode::Set => StoreMode::Set,
        SetMode::Add => StoreMode::Add,
        SetMode::Replace => StoreMode::Replace,
        SetMode::Append => StoreMode::Append,
        SetMode::Prepend => StoreMode::Prepend,
    };
    let options = StoreOptions {
        client_flags: flags.client_flags().unwrap_or(0),
        expiry: ttl::expiry_from_exptime(flags.exptime().unwrap_or(0), now),
        compare_cas: compare_cas(set.mode, flags.compare_cas()),
        // With I, a write carrying an older cas still lands, marked stale (memcached
        // applies it only in cas mode: set or replace with C).
        // A C0 is no cas at all there: memcached answers EX, never a stale store.
        stale_if_older: flags.invalidate()
            && matches!(mode, StoreMode::Set | StoreMode::Replace)
            && flags.compare_cas() != Some(0),
        new_cas: flags.new_cas(),
        // The item remembers a base64 key, so `mg k` and `me` print it so (the
        // engine leaves the mark off an append or prepend, as memcached).
        key_binary: flags.base64_key(),
        // memcached 1.6.18 parses N on ms but never vivifies: an append or prepend
        // to a missing key is not stored.
        ..StoreOptions::default()
    };
    watch_events::looked_up(ctx, key);
    let result = ctx.engine.store(mode, key, set.value, options);
    watch_events::stored(
        ctx,
        key,
        (mode, options.compare_cas),
        &result,
        options.expiry,
        set.value.len(),
    );
    // memcached answers `c` with the new cas, or 0 when nothing was stored.
    let cas_reply = |cas| MetaItem {
        cas: Some(cas),
        ..MetaItem::default()
    };
    let (status, item) = match result {
        Ok(stored) => (MetaStatus::Hd, cas_reply(stored.cas)),
        Err(CacheError::NotStored) => (MetaStatus::Ns, cas_reply(0)),
        Err(CacheError::Exists) => (MetaStatus::Ex, cas_reply(0)),
        Err(CacheError::NotFound) => (MetaStatus::Nf, cas_reply(0)),
        Err(error) => {
            // memcached unlinks the key when an ms cannot be stored, so a stale value
            // never outlives a refused overwrite.
            let _ = ctx.engine.delete(key, DeleteOptions::default());
            classic_encode::encode_reply(out, store_error_reply(ctx, error));
            return record(ctx, CommandKind::Set, started);
        }
    };
    meta_encode::encode_meta_status(out, MetaCommand::Set, status, &set.key, flags, &item);
    record(ctx, CommandKind::Set, started);
}

/// The cas an ms compares, as memcached's `do_store_item`: set and replace with `C` are
/// a cas command (`C0` matches nothing: EX, or NF on a miss); add ignores `C`; append
/// and prepend compare a non-zero `C` only.
fn compare_cas(mode: SetMode, cas: Option<u64>) -> Option<u64> {
    match mode {
        SetMode::Set | SetMode::Replace => cas,
        SetMode::Add => None,
        SetMode::Append | SetMode::Prepend => cas.filter(|&cas| cas != 0),
    }
}

/// md: `HD` deleted (or marked stale with `I`, emptied with `x`), `NF` missing, `EX`
/// cas mismatch.
pub fn meta_delete(ctx: &ServerContext, delete: &MetaDelete<'_>, out: &mut Vec<u8>) {
    let started = Instant::now();
    ctx.metrics.incr(Counter::CmdMeta);
    let mut scratch = [0u8; MAX_DECODED_KEY_BYTES];
    let key = delete.key.bytes(&mut scratch);
    let flags = &delete.flags;
    let now = ttl::now_unix_secs(ctx);
    let options = DeleteOptions {
        compare_cas: flags.compare_cas(),
        invalidate: flags.invalidate(),
        // T updates the TTL only together with I.
        invalidate_expiry: flags
            .exptime()
            .filter(|_| flags.invalidate())
            .map(|exptime| ttl::expiry_from_exptime(exptime, now)),
        drop_value: flags.remove_value(),
        new_cas: flags.new_cas(),
    };
    watch_events::looked_up(ctx, key);
    let status = match ctx.engine.delete(key, options) {
        Ok(()) => MetaStatus::Hd,
        Err(CacheError::Exists) => MetaStatus::Ex,
        Err(_) => MetaStatus::Nf,
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
