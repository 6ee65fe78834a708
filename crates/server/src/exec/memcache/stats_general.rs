//! `stats` with memcached 1.6.18's names in memcached's order, so tools that
//! read it (exporters, collectors, memcached's own tests) find every field;
//! and `stats tailcache`, the figures of the segment store that memcached has
//! no name for.
//!
//! A field about a part of memcached that tailcache does not have (slab
//! rebalancing, LRU segments, watchers, extstore) reads 0, which is true:
//! none of that ever happens here. docs/compatibility.md lists them.

use tailcache_protocol::memcache::classic_encode::{self, Reply};

use super::classic::MEMCACHED_COMPAT_VERSION;
use super::stats::{rusage, since_reset, GENERAL_COUNTERS};
use crate::context::ServerContext;
use crate::exec::ttl;
use crate::startup::fd_limit::reserved_fds;
use tailcache_runtime::TaskGroup;

/// memcached's slab-rebalancing fields: no slab classes, nothing moves.
const SLAB_REASSIGN_FIELDS: &[&[u8]] = &[
    b"slab_reassign_rescues",
    b"slab_reassign_chunk_rescues",
    b"slab_reassign_evictions_nomem",
    b"slab_reassign_inline_reclaim",
    b"slab_reassign_busy_items",
    b"slab_reassign_busy_deletes",
    b"slab_reassign_running",
    b"slabs_moved",
];

/// memcached's per-worker log buffer fields: lines go straight to the
/// watchers' buffers here, so no worker buffer drops or writes any.
const LOGGER_FIELDS: &[&[u8]] = &[
    b"malloc_fails",
    b"log_worker_dropped",
    b"log_worker_written",
];

/// memcached's segmented-LRU fields (hot, warm and cold queues): items live
/// in segments here and never move between queues.
const LRU_MOVE_FIELDS: &[&[u8]] = &[b"moves_to_cold", b"moves_to_warm", b"moves_within_lru"];

/// `stats`: memcached's fields, each with tailcache's value.
pub fn general(ctx: &ServerContext, out: &mut Vec<u8>) {
    let shared = &ctx.shared;
    let conns = shared.connections();
    let storage = ctx.engine.stats();
    let counted = since_reset(ctx, &storage);
    let since = |name: &[u8]| counted.get(name).copied().unwrap_or(0);
    let zero = |out: &mut Vec<u8>, name: &[u8]| classic_encode::encode_stat_u64(out, name, 0);
    classic_encode::encode_stat_u64(out, b"pid", u64::from(std::process::id()));
    classic_encode::encode_stat_u64(out, b"uptime", shared.uptime_secs());
    classic_encode::encode_stat_u64(out, b"time", u64::from(ttl::now_unix_secs(ctx)));
    classic_encode::encode_stat(out, b"version", MEMCACHED_COMPAT_VERSION.as_bytes());
    // memcached's event library's version; tailcache's loop is mio.
    classic_encode::encode_stat(out, b"libevent", b"none");
    classic_encode::encode_stat_u64(out, b"pointer_size", usize::BITS.into());
    rusage(out);
    classic_encode::encode_stat_u64(out, b"max_connections", ctx.config.conn_limit as u64);
    classic_encode::encode_stat_u64(out, b"curr_connections", conns.current as u64);
    for name in [&b"total_connections"[..], b"rejected_connections"] {
        classic_encode::encode_stat_u64(out, name, since(name));
    }
    classic_encode::encode_stat_u64(out, b"connection_structures", conns.current as u64);
    // Replies are written from the connection's buffer, never from pooled
    // response objects, and a read buffer is never refused.
    for name in [
        &b"response_obj_oom"[..],
        b"response_obj_count",
        b"response_obj_bytes",
    ] {
        zero(out, name);
    }
    let buffer_bytes = shared
        .runtime_figures()
        .map_or(0, |figures| figures.buffers.total_bytes() as u64);
    classic_encode::encode_stat_u64(out, b"read_buf_count", conns.current as u64);
    classic_encode::encode_stat_u64(out, b"read_buf_bytes", buffer_bytes);
    zero(out, b"read_buf_bytes_free");
    zero(out, b"read_buf_oom");
    classic_encode::encode_stat_u64(out, b"reserved_fds", reserved_fds(shared.threads()));
    for &counter in GENERAL_COUNTERS {
        let name = counter.name().as_bytes();
        classic_encode::encode_stat_u64(out, name, since(name));
    }
    // As memcached: present only when -o idle_timeout is set.
    if ctx.config.idle_timeout_secs > 0 {
        classic_encode::encode_stat_u64(out, b"idle_kicks", since(b"idle_kicks"));
    }
    for name in [&b"bytes_read"[..], b"bytes_written"] {
        classic_encode::encode_stat_u64(out, name, since(name));
    }
    classic_encode::encode_stat_u64(out, b"limit_maxbytes", storage.limit_bytes);
    // Over -c a connection is refused with a reply (rejected_connections);
    // the listeners themselves are never disabled.
    classic_encode::encode_stat_u64(out, b"accepting_conns", 1);
    zero(out, b"listen_disabled_num");
    zero(out, b"time_in_listen_disabled_us");
    classic_encode::encode_stat_u64(out, b"threads", shared.threads() as u64);
    // Turns that ended on the -R budget with requests still waiting.
    classic_encode::encode_stat_u64(out, b"conn_yields", since(b"conn_yields"));
    // The index is sized once, at start: its slots, as a power of two, stand
    // for memcached's hash table size, and it never expands.
    let power = storage.index_slots.max(1).ilog2();
    classic_encode::encode_stat_u64(out, b"hash_power_level", u64::from(power));
    classic_encode::encode_stat_u64(out, b"hash_bytes", storage.index_bytes);
    zero(out, b"hash_is_expanding");
    for name in SLAB_REASSIGN_FIELDS {
        zero(out, name);
    }
    let crawler = shared
        .lru_crawler_enabled
        .load(std::sync::atomic::Ordering::Relaxed);
    let crawl = shared.lru_crawl.counts();
    if crawler {
        classic_encode::encode_stat_u64(out, b"lru_crawler_running", u64::from(crawl.running));
        classic_encode::encode_stat_u64(out, b"lru_crawler_starts", crawl.starts);
    }
    // memcached's LRU maintainer is tailcache's eviction ahead of need; as
    // memcached, its fields are listed only while it runs. The figure is the
    // background maintenance steps run.
    let maintainer = ctx.config.evict_ahead;
    if maintainer {
        let maintenance_steps = shared.runtime_figures().map_or(0, |figures| {
            figures.scheduler.group(TaskGroup::Maintenance).tasks_run
        });
        classic_encode::encode_stat_u64(out, b"lru_maintainer_juggles", maintenance_steps);
    }
    for name in LOGGER_FIELDS {
        zero(out, name);
    }
    let (skipped_lines, sent_lines) = shared.log_watchers.line_counts();
    classic_encode::encode_stat_u64(out, b"log_watcher_skipped", skipped_lines);
    classic_encode::encode_stat_u64(out, b"log_watcher_sent", sent_lines);
    classic_encode::encode_stat_u64(out, b"log_watchers", shared.log_watchers.count() as u64);
    tls_stats(ctx, out);
    zero(out, b"unexpected_napi_ids");
    zero(out, b"round_robin_fallback");
    classic_encode::encode_stat_u64(out, b"bytes", storage.bytes_used);
    classic_encode::encode_stat_u64(out, b"curr_items", storage.items);
    classic_encode::encode_stat_u64(out, b"total_items", since(b"total_items"));
    zero(out, b"slab_global_page_pool");
    // Whether an item was ever read is not kept per item.
    zero(out, b"expired_unfetched");
    zero(out, b"evicted_unfetched");
    if maintainer {
        zero(out, b"evicted_active");
    }
    classic_encode::encode_stat_u64(out, b"evictions", since(b"evictions"));
    // Dead items (expired or flushed) whose memory was taken back.
    classic_encode::encode_stat_u64(out, b"reclaimed", since(b"reclaimed"));
    for name in [&b"crawler_reclaimed"[..], b"crawler_items_checked"] {
        classic_encode::encode_stat_u64(out, name, since(name));
    }
    zero(out, b"lrutail_reflocked");
    if maintainer {
        for name in LRU_MOVE_FIELDS {
            zero(out, name);
        }
        // A write that had to free memory itself: background eviction fell behind.
        classic_encode::encode_stat_u64(out, b"direct_reclaims", storage.inline_evictions);
        zero(out, b"lru_bumps_dropped");
    }
    classic_encode::encode_reply(out, Reply::End);
}

/// memcached's TLS fields, present only with TLS on (and the session cache).
fn tls_stats(ctx: &ServerContext, out: &mut Vec<u8>) {
    let Some(tls) = ctx.shared.tls() else {
        return;
    };
    if let Some(sessions) = tls.new_sessions() {
        classic_encode::encode_stat_u64(out, b"ssl_new_sessions", sessions);
    }
    let errors = tls.counters().handshake_errors();
    classic_encode::encode_stat_u64(out, b"ssl_handshake_errors", errors);
    let age_secs = tls.secs_since_refresh();
    classic_encode::encode_stat_u64(out, b"time_since_server_cert_refresh", age_secs);
}

/// `stats tailcache`: the segment store's own figures.
pub fn tailcache(ctx: &ServerContext, out: &mut Vec<u8>) {
    let storage = ctx.engine.stats();
    let counted = since_reset(ctx, &storage);
    let since = |name: &[u8]| counted.get(name).copied().unwrap_or(0);
    classic_encode::encode_stat(
        out,
        b"eviction_policy",
        format!("{:?}", ctx.config.eviction)
            .to_lowercase()
            .as_bytes(),
    );
    classic_encode::encode_stat_u64(
        out,
        b"expected_item_size",
        ctx.config.expected_item_size_bytes,
    );
    classic_encode::encode_stat_u64(out, b"expired_items", since(b"expired_items"));
    classic_encode::encode_stat_u64(out, b"segment_size_bytes", storage.segment_size_bytes);
    classic_encode::encode_stat_u64(out, b"segments_free", storage.segments_free);
    classic_encode::encode_stat_u64(out, b"segments_used", storage.segments_used);
    classic_encode::encode_stat_u64(out, b"segments_evicted", storage.evicted_segments);
    classic_encode::encode_stat_u64(out, b"segments_expired", storage.expired_segments);
    classic_encode::encode_stat_u64(
        out,
        b"segments_reserve_target",
        storage.segments_reserve_target,
    );
    classic_encode::encode_stat_u64(out, b"evictions_inline", storage.inline_evictions);
    classic_encode::encode_stat_u64(out, b"index_evictions", storage.index_evictions);
    let dropped = ctx.shared.prefix_stats.dropped();
    classic_encode::encode_stat_u64(out, b"prefixes_dropped", dropped);
    let holds = ctx.engine.lock_holds();
    classic_encode::encode_stat_u64(out, b"lock_hold_ns_p9999", holds.quantile_ns(0.9999));
    classic_encode::encode_stat_u64(out, b"lock_hold_ns_max", holds.max_ns);
    classic_encode::encode_reply(out, Reply::End);
}
