//! The classic memcache commands against the engine: storage commands,
//! retrieval, delete, incr/decr, touch, flush_all, version, verbosity.

use std::time::Instant;

use tailcache_protocol::memcache::classic_encode::{self, Reply};
use tailcache_protocol::memcache::{
    DebugTime, Delete, FlushAll, Get, GetKind, Incr, ShutdownMode, Store, StoreMode as WireMode,
    Touch, Verbosity,
};
use tailcache_storage::{
    Arithmetic, CacheError, DeleteOptions, ReadOptions, StoreMode, StoreOptions,
};

use super::conn::Flow;
use crate::context::ServerContext;
use crate::exec::{delete_counted, prepend_header, record, ttl, watch_events};
use crate::observability::metrics::{CommandKind, Counter};

/// tailcache's own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version `version` and `stats` report: the memcached release whose replies
/// tailcache matches byte for byte, then tailcache's own. Clients and tools parse the
/// leading `major.minor.patch` to decide what the server supports (libmemcached's
/// memccapable expects pre-1.3 behaviour from anything that looks older), so it must
/// read as a memcached version.
pub const MEMCACHED_COMPAT_VERSION: &str = concat!("1.6.18-tailcache-", env!("CARGO_PKG_VERSION"));

/// Largest reply one RESP MGET may build (see `resp::commands`). A memcache
/// multiget is not bounded: it is streamed in pieces (see [`get_some`]).
pub const MAX_GET_REPLY_BYTES: usize = 64 << 20;

/// set / add / replace / append / prepend / cas.
pub fn store(ctx: &ServerContext, store: &Store<'_>, output: &mut Vec<u8>) {
    let started = Instant::now();
    let (mode, compare_cas) = storage_mode(store.mode);
    let write = StoreWrite {
        mode,
        compare_cas,
        key: store.key,
        value: store.value,
        client_flags: store.client_flags,
        exptime: store.exptime,
    };
    let reply = match store_counted(ctx, write) {
        Ok(_) => Reply::Stored,
        Err(error) => store_error_reply(ctx, error),
    };
    if !store.noreply {
        classic_encode::encode_reply(output, reply);
    }
    record(ctx, CommandKind::Set, started);
}

/// A storage command as the text and binary protocols both give it.
#[derive(Debug, Clone, Copy)]
pub struct StoreWrite<'a> {
    /// How the value combines with the item.
    pub mode: StoreMode,
    /// Store only over this version (`cas`, or a binary request's CAS).
    pub compare_cas: Option<u64>,
    /// The key.
    pub key: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// Client flags.
    pub client_flags: u32,
    /// memcached's exptime.
    pub exptime: i64,
}

/// Runs a storage command as memcached does, counting it (`cmd_set`, the CAS
/// counters, per-prefix sets); returns the new item's metadata.
pub fn store_counted(
    ctx: &ServerContext,
    write: StoreWrite<'_>,
) -> Result<tailcache_storage::ItemMeta, CacheError> {
    ctx.metrics.incr(Counter::CmdSet);
    ctx.shared.prefix_stats.record_set(write.key);
    watch_events::looked_up(ctx, write.key);
    let options = StoreOptions {
        client_flags: write.client_flags,
        expiry: ttl::expiry_from_exptime(write.exptime, ttl::now_unix_secs(ctx)),
        compare_cas: write.compare_cas,
        ..StoreOptions::default()
    };
    let result = match write.compare_cas {
        // memcached -C refuses every cas: nothing can prove the item unchanged.
        Some(_) if !ctx.config.cas_enabled => match ctx.engine.get_meta(write.key) {
            Ok(Some(_)) => Err(CacheError::Exists),
            _ => Err(CacheError::NotFound),
        },
        _ => ctx
            .engine
            .store(write.mode, write.key, write.value, options),
    };
    watch_events::stored(
        ctx,
        write.key,
        (write.mode, write.compare_cas),
        &result,
        options.expiry,
        write.value.len(),
    );
    if write.compare_cas.is_some() {
        ctx.metrics.incr(match result {
            Ok(_) => Counter::CasHits,
            Err(CacheError::Exists) => Counter::CasBadval,
            Err(_) => Counter::CasMisses,
        });
    }
    if result.is_err() && write.mode == StoreMode::Set && write.compare_cas.is_none() {
        // memcached unlinks the old item when a set fails, so a stale value
        // never outlives a refused overwrite.
        let _ = ctx.engine.delete(write.key, DeleteOptions::default());
    }
    result
}

/// The engine's store mode and compare-CAS for a wire store mode (memcached's `cas`
/// is a set over that version).
pub fn storage_mode(mode: WireMode) -> (StoreMode, Option<u64>) {
    match mode {
        WireMode::Set => (StoreMode::Set, None),
        WireMode::Add => (StoreMode::Add, None),
        WireMode::Replace => (StoreMode::Replace, None),
        WireMode::Append => (StoreMode::Append, None),
        WireMode::Prepend => (StoreMode::Prepend, None),
        WireMode::Cas(cas) => (StoreMode::Set, Some(cas)),
    }
}

/// The classic reply to a failed write, counting refusals.
pub fn store_error_reply(ctx: &ServerContext, error: CacheError) -> Reply {
    match error {
        CacheError::NotStored => Reply::NotStored,
        CacheError::Exists => Reply::Exists,
        CacheError::NotFound => Reply::NotFound,
        CacheError::NonNumeric => Reply::NonNumericValue,
        CacheError::OutOfMemory => {
            ctx.metrics.incr(Counter::StoreNoMemory);
            Reply::OutOfMemory
        }
        CacheError::ValueTooLarge { .. } | CacheError::KeyTooLong { .. } | CacheError::KeyEmpty => {
            ctx.metrics.incr(Counter::StoreTooLarge);
            Reply::ObjectTooLarge
        }
    }
}

/// get / gets / gat / gats: one VALUE block per hit, then END. Values are
/// copied from the engine straight into `output`. The whole reply is built
/// here; a connection streams a long multiget with [`get_some`] instead.
pub fn get(ctx: &ServerContext, get: Get<'_>, output: &mut Vec<u8>) {
    let started = Instant::now();
    let served = get_some(
        ctx,
        get.kind,
        get.touch_exptime,
        get.keys,
        output,
        GetSlice::UNBOUNDED,
    );
    debug_assert!(
        served.rest_after.is_none(),
        "an unbounded get serves every key"
    );
    record_get(ctx, get.kind, started);
}

/// Where one call of [`get_some`] stops, with keys left.
#[derive(Debug, Clone, Copy)]
pub struct GetSlice {
    /// Stop once `output` holds at least this many bytes.
    pub stop_bytes: usize,
    /// Stop after this many keys (at least one is always served).
    pub max_keys: usize,
}

impl GetSlice {
    /// Serve every key.
    pub const UNBOUNDED: GetSlice = GetSlice {
        stop_bytes: usize::MAX,
        max_keys: usize::MAX,
    };
}

/// What one call of [`get_some`] served.
#[derive(Debug, Clone, Copy)]
pub struct GetServed<'a> {
    /// The last key served when keys are left; `None` once `END` is written.
    pub rest_after: Option<&'a [u8]>,
    /// Keys served by this call.
    pub keys: usize,
}

/// Serves the keys of a get/gets/gat/gats in order, as memcached does
/// (no limit on their number), until `slice` says stop with keys left: then
/// says the last key served, and the caller goes on from the key after it
/// in a later turn (so a multiget of any size needs only bounded memory, and
/// other clients are served between its slices). At least one key is served
/// per call, so the reply always progresses.
pub fn get_some<'a>(
    ctx: &ServerContext,
    kind: GetKind,
    touch_exptime: Option<i64>,
    keys: impl Iterator<Item = &'a [u8]>,
    output: &mut Vec<u8>,
    slice: GetSlice,
) -> GetServed<'a> {
    let with_cas = kind.returns_cas();
    let mut keys = keys.peekable();
    let mut served = 0;
    while let Some(key) = keys.next() {
        let hit = match touch_exptime {
            Some(exptime) => get_and_touch_one(ctx, key, exptime, with_cas, output),
            None => get_one(ctx, key, with_cas, output),
        };
        count_get(ctx, kind, hit);
        ctx.shared.prefix_stats.record_get(key, hit);
        served += 1;
        let stop = output.len() >= slice.stop_bytes || served >= slice.max_keys;
        if stop && keys.peek().is_some() {
            return GetServed {
                rest_after: Some(key),
                keys: served,
            };
        }
    }
    classic_encode::encode_reply(output, Reply::End);
    GetServed {
        rest_after: None,
        keys: served,
    }
}

/// Records the latency of a whole get/gets/gat/gats, from its first key to its `END`.
pub fn record_get(ctx: &ServerContext, kind: GetKind, started: Instant) {
    let kind = match kind {
        GetKind::Get | GetKind::Gets => CommandKind::Get,
        GetKind::Gat | GetKind::Gats => CommandKind::GetAndTouch,
    };
    record(ctx, kind, started);
}

/// Counts one key of a get: memcached counts gat/gats keys as touches only, get/gets keys as gets.
pub fn count_get(ctx: &ServerContext, kind: GetKind, hit: bool) {
    let counter = match (kind, hit) {
        (GetKind::Gat | GetKind::Gats, true) => Counter::TouchHits,
        (GetKind::Gat | GetKind::Gats, false) => Counter::TouchMisses,
        (GetKind::Get | GetKind::Gets, true) => Counter::GetHits,
        (GetKind::Get | GetKind::Gets, false) => Counter::GetMisses,
    };
    ctx.metrics.incr(match kind {
        GetKind::Gat | GetKind::Gats => Counter::CmdTouch,
        GetKind::Get | GetKind::Gets => Counter::CmdGet,
    });
    ctx.metrics.incr(counter);
}

fn get_one(ctx: &ServerContext, key: &[u8], with_cas: bool, output: &mut Vec<u8>) -> bool {
    // The header is written from the item's metadata, then the value is copied
    // straight from the engine after it.
    let found = ctx.engine.get_with_header(key, output, |out, meta| {
        let cas = with_cas.then_some(meta.cas);
        classic_encode::encode_value_header(out, key, meta.client_flags, meta.value_len, cas);
    });
    let value_len = match found {
        Ok(Some(meta)) => Some(meta.value_len),
        _ => None,
    };
    watch_events::fetched(ctx, key, value_len);
    let hit = value_len.is_some();
    if hit {
        classic_encode::encode_data_trailer(output);
    }
    hit
}

fn get_and_touch_one(
    ctx: &ServerContext,
    key: &[u8],
    exptime: i64,
    with_cas: bool,
    output: &mut Vec<u8>,
) -> bool {
    let value_start = output.len();
    let options = ReadOptions {
        touch: Some(ttl::expiry_from_exptime(exptime, ttl::now_unix_secs(ctx))),
        ..ReadOptions::default()
    };
    let Ok(Some(outcome)) = ctx.engine.read(key, options, Some(output)) else {
        output.truncate(value_start);
        watch_events::fetched(ctx, key, None);
        return false;
    };
    let meta = outcome.meta;
    watch_events::fetched(ctx, key, Some(meta.value_len));
    // The engine copies the value first; the header goes in front of it,
    // moved in place rather than through a second buffer.
    let cas = with_cas.then_some(meta.cas);
    prepend_header(output, value_start, |out, value_len| {
        classic_encode::encode_value_header(out, key, meta.client_flags, value_len, cas);
    });
    classic_encode::encode_data_trailer(output);
    true
}

/// delete.
pub fn delete(ctx: &ServerContext, delete: &Delete<'_>, output: &mut Vec<u8>) {
    let started = Instant::now();
    ctx.shared.prefix_stats.record_delete(delete.key);
    watch_events::looked_up(ctx, delete.key);
    let reply = if delete_counted(ctx, delete.key) {
        Reply::Deleted
    } else {
        Reply::NotFound
    };
    if !delete.noreply {
        classic_encode::encode_reply(output, reply);
    }
    record(ctx, CommandKind::Delete, started);
}

/// incr / decr.
pub fn incr(ctx: &ServerContext, incr: &Incr<'_>, output: &mut Vec<u8>) {
    let started = Instant::now();
    let arithmetic = Arithmetic {
        delta: incr.delta,
        decrement: !incr.increment,
        ..Arithmetic::default()
    };
    watch_events::looked_up(ctx, incr.key);
    let result = ctx
        .engine
        .arithmetic(incr.key, arithmetic)
        .map(|outcome| outcome.value);
    let (hits, misses) = if incr.increment {
        (Counter::IncrHits, Counter::IncrMisses)
    } else {
        (Counter::DecrHits, Counter::DecrMisses)
    };
    match result {
        Ok(_) | Err(CacheError::NonNumeric) => ctx.metrics.incr(hits),
        Err(_) => ctx.metrics.incr(misses),
    }
    if !incr.noreply {
        match result {
            Ok(value) => classic_encode::encode_number(output, value),
            Err(error) => classic_encode::encode_reply(output, store_error_reply(ctx, error)),
        }
    }
    record(ctx, CommandKind::Arithmetic, started);
}

/// touch.
pub fn touch(ctx: &ServerContext, touch: &Touch<'_>, output: &mut Vec<u8>) {
    let started = Instant::now();
    ctx.metrics.incr(Counter::CmdTouch);
    let expiry = ttl::expiry_from_exptime(touch.exptime, ttl::now_unix_secs(ctx));
    watch_events::looked_up(ctx, touch.key);
    let reply = match ctx.engine.touch(touch.key, expiry) {
        Ok(_) => {
            ctx.metrics.incr(Counter::TouchHits);
            Reply::Touched
        }
        Err(CacheError::NotFound) => {
            ctx.metrics.incr(Counter::TouchMisses);
            Reply::NotFound
        }
        Err(error) => store_error_reply(ctx, error),
    };
    if !touch.noreply {
        classic_encode::encode_reply(output, reply);
    }
    record(ctx, CommandKind::Touch, started);
}

/// Flushes as memcached does for a `flush_all <delay>` (text or binary). Without CAS
/// (`-C`) memcached's flush takes everything stored up to the end of its second, even
/// what is stored after it in that second; its `flush-all.t` checks that, so tailcache
/// does the same there, and is exact otherwise.
pub fn apply_flush(ctx: &ServerContext, delay_secs: i64) {
    let now_unix_secs = ttl::now_unix_secs(ctx);
    let at = ttl::flush_at(delay_secs, now_unix_secs);
    if !ctx.config.cas_enabled {
        ctx.engine.flush_through_second(at.unwrap_or(now_unix_secs));
        return;
    }
    match at {
        None => ctx.engine.flush_all(),
        Some(at) => ctx.engine.flush_all_at(at),
    }
}

/// flush_all [delay].
pub fn flush_all(ctx: &ServerContext, flush: FlushAll, output: &mut Vec<u8>) {
    let started = Instant::now();
    ctx.metrics.incr(Counter::CmdFlush);
    if !ctx.config.flush_enabled {
        // -F: counted, then refused, as memcached does.
        if !flush.noreply {
            output.extend_from_slice(b"CLIENT_ERROR flush_all not allowed\r\n");
        }
        record(ctx, CommandKind::Flush, started);
        return;
    }
    apply_flush(ctx, flush.delay_secs);
    if !flush.noreply {
        classic_encode::encode_reply(output, Reply::Ok);
    }
    record(ctx, CommandKind::Flush, started);
}

/// version.
pub fn version(ctx: &ServerContext, output: &mut Vec<u8>) {
    let started = Instant::now();
    classic_encode::encode_version(output, MEMCACHED_COMPAT_VERSION.as_bytes());
    record(ctx, CommandKind::Other, started);
}

/// `shutdown [graceful]`, as memcached: refused unless `-A` enabled it;
/// otherwise the connection closes and the process signals itself (SIGINT,
/// or SIGUSR1 for graceful), so the stop is the one a signal starts: requests
/// in flight finish and the heap file is saved.
pub fn shutdown(ctx: &ServerContext, mode: ShutdownMode, output: &mut Vec<u8>) -> Flow {
    let started = Instant::now();
    let signal = match mode {
        _ if !ctx.config.shutdown_command_enabled => {
            output.extend_from_slice(b"ERROR: shutdown not enabled\r\n");
            None
        }
        ShutdownMode::Now => Some(nix::sys::signal::Signal::SIGINT),
        ShutdownMode::Graceful => Some(nix::sys::signal::Signal::SIGUSR1),
        ShutdownMode::Invalid => {
            output.extend_from_slice(b"CLIENT_ERROR invalid shutdown mode\r\n");
            None
        }
    };
    record(ctx, CommandKind::Other, started);
    let Some(signal) = signal else {
        return Flow::Continue;
    };
    tracing::warn!(?mode, "shutdown command received; stopping");
    if let Err(e) = nix::sys::signal::kill(nix::unistd::Pid::this(), signal) {
        tracing::error!(error = %e, "cannot signal the server to stop");
    }
    Flow::Close
}

/// `debugtime`, as memcached's debug build: moves or pauses the engine's clock
/// (every expiry and every protocol reads it). Without --debug-commands it is
/// unknown, `ERROR`, as in memcached's release build.
pub fn debugtime(ctx: &ServerContext, debug: DebugTime, output: &mut Vec<u8>) {
    let started = Instant::now();
    let Some(clock) = ctx.shared.debug_clock() else {
        classic_encode::encode_reply(output, Reply::Error);
        return;
    };
    match debug {
        DebugTime::Pause => clock.pause(),
        DebugTime::Resume => clock.resume(),
        DebugTime::ShiftSecs(secs) => clock.shift_secs(secs),
        DebugTime::Invalid => {
            classic_encode::encode_reply(output, Reply::Error);
            return;
        }
    }
    classic_encode::encode_reply(output, Reply::Ok);
    record(ctx, CommandKind::Other, started);
}

/// refresh_certs: reloads the TLS certificates as SIGHUP does; memcached's
/// error text when it fails or no listener speaks TLS.
pub fn refresh_certs(ctx: &ServerContext, noreply: bool, output: &mut Vec<u8>) {
    let started = Instant::now();
    let result = match ctx.shared.tls() {
        Some(tls) => tls.reload(),
        None => Err("Error TLS not enabled".to_owned()),
    };
    if !noreply {
        match result {
            Ok(()) => output.extend_from_slice(b"OK\r\n"),
            Err(message) => {
                // One line, whatever the file's error said.
                output.extend(
                    message
                        .bytes()
                        .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
                );
                output.extend_from_slice(b"\r\n");
            }
        }
    }
    record(ctx, CommandKind::Other, started);
}

/// verbosity: kept for `stats settings`; logging itself is set at start.
pub fn verbosity(ctx: &ServerContext, verbosity: Verbosity, output: &mut Vec<u8>) {
    let started = Instant::now();
    ctx.shared
        .set_verbosity(u8::try_from(verbosity.level).unwrap_or(u8::MAX));
    if !verbosity.noreply {
        classic_encode::encode_reply(output, Reply::Ok);
    }
    record(ctx, CommandKind::Other, started);
}
