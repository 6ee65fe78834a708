//! RESP key commands against the engine: strings with Redis's semantics on
//! top of memcached's item model (a RESP value is an item with flags 0).

use tailcache_protocol::resp::ServerError;
use tailcache_protocol::resp::{
    encode, DataCommand, ExpireCondition, ExpireTime, GetExOption, ProtocolVersion, Set,
    SetCondition, TimeUnit,
};
use tailcache_storage::{CacheError, Expiry, ItemMeta, ReadOptions, StoreMode, StoreOptions};

use super::counter::incr_by;
use crate::context::ServerContext;
use crate::exec::memcache::classic::MAX_GET_REPLY_BYTES;
use crate::exec::{delete_counted, prepend_header, ttl};
use crate::observability::metrics::{CommandKind, Counter};

/// Runs a key command; returns the histogram it belongs to.
pub fn execute(
    ctx: &ServerContext,
    command: DataCommand<'_>,
    out: &mut Vec<u8>,
    version: ProtocolVersion,
) -> CommandKind {
    match command {
        DataCommand::Get { key } => {
            get(ctx, key, out, version);
            CommandKind::Get
        }
        DataCommand::MGet { keys } => {
            let reply_start = out.len();
            encode::array_header(out, keys.len());
            for key in keys {
                get(ctx, key, out, version);
                if out.len() - reply_start > MAX_GET_REPLY_BYTES {
                    out.truncate(reply_start);
                    encode::error(out, b"ERR reply too large: ask for fewer keys at once");
                    break;
                }
            }
            CommandKind::Get
        }
        DataCommand::Set(set) => {
            execute_set(ctx, &set, out, version);
            CommandKind::Set
        }
        DataCommand::MSet { pairs } => {
            let mut failed = None;
            for (key, value) in pairs {
                ctx.metrics.incr(Counter::CmdSet);
                if let Err(error) =
                    ctx.engine
                        .store(StoreMode::Set, key, value, StoreOptions::default())
                {
                    failed = Some(error);
                }
            }
            match failed {
                None => encode::ok(out),
                Some(error) => storage_error(error).encode(out),
            }
            CommandKind::Set
        }
        DataCommand::Del { keys } => {
            let deleted = keys.filter(|key| delete_counted(ctx, key)).count();
            encode::integer(out, deleted as i64);
            CommandKind::Delete
        }
        DataCommand::Exists { keys } => {
            let found = keys.filter(|key| peek(ctx, key).is_some()).count();
            encode::integer(out, found as i64);
            CommandKind::Get
        }
        DataCommand::IncrBy { key, delta } => {
            match incr_by(ctx, key, delta) {
                Ok(value) => encode::integer(out, value),
                Err(error) => error.encode(out),
            }
            CommandKind::Arithmetic
        }
        DataCommand::Append { key, value } => {
            append(ctx, key, value, out);
            CommandKind::Set
        }
        DataCommand::Strlen { key } => {
            encode::integer(out, peek(ctx, key).map_or(0, |meta| meta.value_len as i64));
            CommandKind::Get
        }
        DataCommand::GetDel { key } => {
            get(ctx, key, out, version);
            delete_counted(ctx, key);
            CommandKind::Delete
        }
        DataCommand::GetEx { key, option } => {
            get_ex(ctx, key, option, out, version);
            CommandKind::GetAndTouch
        }
        DataCommand::Expire {
            key,
            time,
            condition,
        } => {
            expire(ctx, key, time, condition, out);
            CommandKind::Touch
        }
        DataCommand::Ttl { key, unit } => {
            ttl_reply(ctx, key, unit, out);
            CommandKind::Get
        }
        DataCommand::Persist { key } => {
            let persisted = peek(ctx, key).is_some_and(|meta| {
                meta.expiry != Expiry::Never && ctx.engine.touch(key, Expiry::Never).is_ok()
            });
            encode::integer(out, i64::from(persisted));
            CommandKind::Touch
        }
        DataCommand::Type { key } => {
            encode::simple_string(
                out,
                if peek(ctx, key).is_some() {
                    b"string"
                } else {
                    b"none"
                },
            );
            CommandKind::Get
        }
        DataCommand::DbSize => {
            encode::integer(
                out,
                i64::try_from(ctx.engine.item_count()).unwrap_or(i64::MAX),
            );
            CommandKind::Stats
        }
        DataCommand::Flush { .. } => {
            ctx.metrics.incr(Counter::CmdFlush);
            if ctx.config.flush_enabled {
                ctx.engine.flush_all();
                encode::ok(out);
            } else {
                // -F refuses every way of emptying the cache.
                encode::error(out, b"ERR flush is disabled on this server (-F)");
            }
            CommandKind::Flush
        }
    }
}

/// Why a RESP command failed in the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// An error Redis itself would send.
    Server(ServerError),
    /// A key the engine cannot hold (empty: Redis allows it, memcached's
    /// item model does not).
    Key(CacheError),
}

impl Failure {
    /// Appends the error reply.
    pub fn encode(self, out: &mut Vec<u8>) {
        match self {
            Failure::Server(error) => error.encode(out),
            Failure::Key(CacheError::KeyEmpty) => {
                encode::error(out, b"ERR empty keys are not supported")
            }
            Failure::Key(_) => encode::error(out, b"ERR key too long"),
        }
    }
}

/// The RESP error for a failed write.
pub fn storage_error(error: CacheError) -> Failure {
    match error {
        CacheError::KeyEmpty | CacheError::KeyTooLong { .. } => Failure::Key(error),
        CacheError::ValueTooLarge { .. } => Failure::Server(ServerError::StringTooLong),
        CacheError::NonNumeric => Failure::Server(ServerError::ValueNotInteger),
        _ => Failure::Server(ServerError::OutOfMemory),
    }
}

/// The value of `key` as a bulk (copied straight from the engine), or null.
pub fn get(ctx: &ServerContext, key: &[u8], out: &mut Vec<u8>, version: ProtocolVersion) {
    ctx.metrics.incr(Counter::CmdGet);
    let found = ctx.engine.get_with_header(key, out, |out, meta| {
        encode::bulk_header(out, meta.value_len);
    });
    if matches!(found, Ok(Some(_))) {
        encode::bulk_end(out);
        ctx.metrics.incr(Counter::GetHits);
    } else {
        ctx.metrics.incr(Counter::GetMisses);
        encode::null(out, version);
    }
}

/// Metadata of a live item (not counted as a read of it).
pub fn peek(ctx: &ServerContext, key: &[u8]) -> Option<ItemMeta> {
    ctx.engine.get_meta(key).ok().flatten()
}

fn execute_set(ctx: &ServerContext, set: &Set<'_>, out: &mut Vec<u8>, version: ProtocolVersion) {
    ctx.metrics.incr(Counter::CmdSet);
    let now_ms = ttl::now_unix_ms(ctx);
    let expiry = match set.expiry.map(|expiry| expiry.to_unix_millis(now_ms)) {
        None => Expiry::Never,
        Some(Some(deadline_ms)) => ttl::expiry_from_unix_ms(deadline_ms, now_ms),
        Some(None) => return ServerError::InvalidExpireTime { command: "set" }.encode(out),
    };
    let mode = match set.condition {
        SetCondition::Always => StoreMode::Set,
        SetCondition::IfAbsent => StoreMode::Add,
        SetCondition::IfPresent => StoreMode::Replace,
    };
    let options = StoreOptions {
        expiry,
        keep_ttl: set.keep_ttl,
        ..StoreOptions::default()
    };
    let reply_start = out.len();
    if set.get {
        get(ctx, set.key, out, version);
    }
    match ctx.engine.store(mode, set.key, set.value, options) {
        Ok(_) if !set.get => encode::ok(out),
        Ok(_) => {}
        Err(CacheError::NotStored) if !set.get => encode::null(out, version),
        Err(CacheError::NotStored) => {}
        Err(error) => {
            out.truncate(reply_start);
            storage_error(error).encode(out);
        }
    }
}

fn append(ctx: &ServerContext, key: &[u8], value: &[u8], out: &mut Vec<u8>) {
    ctx.metrics.incr(Counter::CmdSet);
    // Append to a present key, create an absent one; a race between the
    // two is retried a bounded number of times.
    for _ in 0..8 {
        let result = match ctx
            .engine
            .store(StoreMode::Append, key, value, StoreOptions::default())
        {
            Err(CacheError::NotStored) => {
                ctx.engine
                    .store(StoreMode::Add, key, value, StoreOptions::default())
            }
            other => other,
        };
        match result {
            Ok(_) => {
                let len = peek(ctx, key).map_or(value.len(), |meta| meta.value_len);
                return encode::integer(out, len as i64);
            }
            Err(CacheError::NotStored) => continue,
            Err(error) => return storage_error(error).encode(out),
        }
    }
    ServerError::OutOfMemory.encode(out);
}

fn get_ex(
    ctx: &ServerContext,
    key: &[u8],
    option: Option<GetExOption>,
    out: &mut Vec<u8>,
    version: ProtocolVersion,
) {
    let now_ms = ttl::now_unix_ms(ctx);
    let touch = match option {
        None => return get(ctx, key, out, version),
        Some(GetExOption::Persist) => Expiry::Never,
        Some(GetExOption::Expire(expiry)) => match expiry.to_unix_millis(now_ms) {
            Some(deadline_ms) => ttl::expiry_from_unix_ms(deadline_ms, now_ms),
            None => return ServerError::InvalidExpireTime { command: "getex" }.encode(out),
        },
    };
    ctx.metrics.incr(Counter::CmdGet);
    ctx.metrics.incr(Counter::CmdTouch);
    let value_start = out.len();
    let options = ReadOptions {
        touch: Some(touch),
        ..ReadOptions::default()
    };
    match ctx.engine.read(key, options, Some(out)) {
        Ok(Some(_)) => {
            ctx.metrics.incr(Counter::GetHits);
            // The value is already in place; its header moves in front of it.
            prepend_header(out, value_start, encode::bulk_header);
            encode::bulk_end(out);
        }
        _ => {
            ctx.metrics.incr(Counter::GetMisses);
            out.truncate(value_start);
            encode::null(out, version);
        }
    }
}

fn expire(
    ctx: &ServerContext,
    key: &[u8],
    time: ExpireTime,
    condition: ExpireCondition,
    out: &mut Vec<u8>,
) {
    let now_ms = ttl::now_unix_ms(ctx);
    let Some(deadline_ms) = time.to_unix_millis(now_ms) else {
        let command = time.command_name();
        return ServerError::InvalidExpireTime { command }.encode(out);
    };
    let Some(meta) = peek(ctx, key) else {
        return encode::integer(out, 0);
    };
    // No expiry counts as infinitely far away for GT and LT.
    let current_ms = match meta.expiry {
        Expiry::Never => None,
        Expiry::At(at) => Some(i64::from(at) * 1000),
    };
    let allowed = (!condition.nx || current_ms.is_none())
        && (!condition.xx || current_ms.is_some())
        && (!condition.gt || current_ms.is_some_and(|current| deadline_ms > current))
        && (!condition.lt || current_ms.is_none_or(|current| deadline_ms < current));
    if !allowed {
        return encode::integer(out, 0);
    }
    // A deadline already passed removes the key (the touch sees to it).
    let done = ctx
        .engine
        .touch(key, ttl::expiry_from_unix_ms(deadline_ms, now_ms))
        .is_ok();
    encode::integer(out, i64::from(done));
}

fn ttl_reply(ctx: &ServerContext, key: &[u8], unit: TimeUnit, out: &mut Vec<u8>) {
    let reply = match peek(ctx, key) {
        None => -2,
        Some(ItemMeta {
            expiry: Expiry::Never,
            ..
        }) => -1,
        Some(ItemMeta {
            expiry: Expiry::At(at),
            ..
        }) => {
            let remaining_ms = (i64::from(at) * 1000 - ttl::now_unix_ms(ctx)).max(0);
            match unit {
                TimeUnit::Millis => remaining_ms,
                // Expiry is kept in whole seconds, rounded up when set; rounding
                // down here reports what the client asked for.
                TimeUnit::Seconds => remaining_ms / 1000,
            }
        }
    };
    encode::integer(out, reply);
}
