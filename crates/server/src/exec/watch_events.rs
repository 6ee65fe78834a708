//! What command execution tells `watch` connections: memcached logs a key
//! lookup (`item_get`) wherever it looks an item up, storage commands
//! included, and each storage command's outcome (`item_store`).

use tailcache_protocol::memcache::WatchTopics;
use tailcache_storage::{CacheError, Expiry, ItemMeta, StoreMode};

use crate::context::ServerContext;
use crate::observability::log_watchers::{FetchStatus, StoreCommand, StoreStatus};

/// A lookup that found an item with a value of `value_len` bytes, or nothing.
pub fn fetched(ctx: &ServerContext, key: &[u8], value_len: Option<usize>) {
    let status = match value_len {
        Some(value_len) => FetchStatus::Found { value_len },
        None => FetchStatus::NotFound,
    };
    ctx.shared.log_watchers.fetched(key, status, ctx.conn_fd());
}

/// The lookup a command makes before it acts (a store, delete, incr, touch):
/// read only while someone watches fetches.
pub fn looked_up(ctx: &ServerContext, key: &[u8]) {
    if !ctx.shared.log_watchers.wants(WatchTopics::FETCHERS) {
        return;
    }
    let found = ctx.engine.get_meta(key).ok().flatten();
    fetched(ctx, key, found.map(|meta| meta.value_len));
}

/// A storage command's outcome; `sent_len` is the value's length as sent (memcached
/// reports a stored append or prepend with the whole new value's length).
pub fn stored(
    ctx: &ServerContext,
    key: &[u8],
    (mode, compare_cas): (StoreMode, Option<u64>),
    result: &Result<ItemMeta, CacheError>,
    expiry: Expiry,
    sent_len: usize,
) {
    let watchers = &ctx.shared.log_watchers;
    if !watchers.wants(WatchTopics::MUTATIONS) {
        return;
    }
    let command = match (mode, compare_cas) {
        (_, Some(_)) => StoreCommand::Cas,
        (StoreMode::Set, None) => StoreCommand::Set,
        (StoreMode::Add, None) => StoreCommand::Add,
        (StoreMode::Replace, None) => StoreCommand::Replace,
        (StoreMode::Append, None) => StoreCommand::Append,
        (StoreMode::Prepend, None) => StoreCommand::Prepend,
    };
    let status = match result {
        Ok(_) => StoreStatus::Stored,
        Err(CacheError::NotStored) => StoreStatus::NotStored,
        Err(CacheError::Exists) => StoreStatus::Exists,
        Err(CacheError::NotFound) => StoreStatus::NotFound,
        Err(CacheError::OutOfMemory) => StoreStatus::NoMemory,
        Err(_) => StoreStatus::TooLarge,
    };
    // An append or prepend keeps the item's expiry and reports its whole value.
    let (value_len, expiry) = match result {
        Ok(meta) => (meta.value_len, meta.expiry),
        Err(_) => (sent_len, expiry),
    };
    let now = u64::from(super::ttl::now_unix_secs(ctx));
    watchers.stored(key, status, command, expiry, value_len, now, ctx.conn_fd());
}

/// An `ma` that created its counter: memcached looks the key up again and adds it.
pub fn vivified(ctx: &ServerContext, key: &[u8], value: u64, expiry: Expiry) {
    fetched(ctx, key, None);
    let meta = ItemMeta {
        value_len: value.to_string().len(),
        ..ItemMeta::default()
    };
    stored(ctx, key, (StoreMode::Add, None), &Ok(meta), expiry, 0);
}
