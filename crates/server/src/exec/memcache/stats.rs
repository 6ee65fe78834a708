//! `stats` and its groups, with memcached's field names and order. Groups
//! about memcached's slab allocator report the segment store's nearest
//! equivalent, or only END where nothing corresponds.

use std::sync::atomic::Ordering;
use std::time::Instant;

use tailcache_protocol::memcache::classic_encode::{self, Reply};
use tailcache_protocol::memcache::{Stats, StatsGroup};

use super::stats_general as general;
use crate::context::ServerContext;
use crate::exec::record;
use crate::observability::metrics::{CommandKind, Counter};

/// memcached's `stats` counters that tailcache keeps, in memcached's order.
pub(in crate::exec) const GENERAL_COUNTERS: &[Counter] = &[
    Counter::CmdGet,
    Counter::CmdSet,
    Counter::CmdFlush,
    Counter::CmdTouch,
    Counter::CmdMeta,
    Counter::GetHits,
    Counter::GetMisses,
    Counter::GetExpired,
    Counter::GetFlushed,
    Counter::DeleteMisses,
    Counter::DeleteHits,
    Counter::IncrMisses,
    Counter::IncrHits,
    Counter::DecrMisses,
    Counter::DecrHits,
    Counter::CasMisses,
    Counter::CasHits,
    Counter::CasBadval,
    Counter::TouchHits,
    Counter::TouchMisses,
    Counter::StoreTooLarge,
    Counter::StoreNoMemory,
    Counter::AuthCmds,
    Counter::AuthErrors,
];

/// `stats [group]`.
pub fn stats(ctx: &ServerContext, stats: Stats<'_>, output: &mut Vec<u8>) {
    let started = Instant::now();
    match stats.group {
        StatsGroup::General => general::general(ctx, output),
        StatsGroup::Settings => settings(ctx, output),
        StatsGroup::Items => items(ctx, output),
        StatsGroup::Slabs => slabs(ctx, output),
        StatsGroup::Sizes => classic_encode::encode_reply(output, Reply::End),
        StatsGroup::Conns => conns(ctx, output),
        // memcached zeroes its counters; ours only ever grow (Prometheus reads
        // them), so the memcache view counts from here instead.
        StatsGroup::Reset => {
            reset(ctx);
            classic_encode::encode_reply(output, Reply::Reset)
        }
        StatsGroup::Detail => detail(ctx, stats.args, output),
        StatsGroup::Other(b"cachedump") => cachedump(ctx, stats.args, output),
        StatsGroup::Other(b"tailcache") => general::tailcache(ctx, output),
        StatsGroup::Other(_) => classic_encode::encode_reply(output, Reply::Error),
    }
    record(ctx, CommandKind::Stats, started);
}

/// `stats detail on|off|dump`: memcached's per-prefix statistics.
fn detail(ctx: &ServerContext, args: &[u8], out: &mut Vec<u8>) {
    let prefixes = &ctx.shared.prefix_stats;
    match args.trim_ascii() {
        b"on" | b"off" => {
            prefixes.set_enabled(args.trim_ascii() == b"on");
            classic_encode::encode_reply(out, Reply::Ok)
        }
        b"dump" => prefixes.dump(out),
        _ => classic_encode::encode_reply(out, Reply::StatsDetailUsage),
    }
}

/// The resettable counters as `stats` shows them: counted since the last
/// `stats reset`.
pub(in crate::exec) fn since_reset(
    ctx: &ServerContext,
    storage: &tailcache_storage::Stats,
) -> std::collections::HashMap<&'static [u8], u64> {
    ctx.shared.since_stats_reset(resettable(ctx, storage))
}

/// `stats reset` (and RESP's `CONFIG RESETSTAT`): the memcache view of the
/// counters starts again from zero.
pub fn reset(ctx: &ServerContext) {
    ctx.shared.reset_stats(resettable(ctx, &ctx.engine.stats()));
    ctx.shared.prefix_stats.clear();
}

/// The `stats` values memcached's `stats reset` zeroes, as they are now (counters
/// that only grow, before subtracting the last reset).
fn resettable(
    ctx: &ServerContext,
    storage: &tailcache_storage::Stats,
) -> Vec<(&'static [u8], u64)> {
    let conns = ctx.shared.connections();
    let totals = ctx.shared.totals();
    let crawl = ctx.shared.lru_crawl.counts();
    let mut values: Vec<(&'static [u8], u64)> = GENERAL_COUNTERS
        .iter()
        .map(|&counter| {
            let value = match counter {
                // The engine sees which reads met an expired or flushed item.
                Counter::GetExpired => storage.reads_expired,
                Counter::GetFlushed => storage.reads_flushed,
                _ => totals.get(counter),
            };
            (counter.name().as_bytes(), value)
        })
        .collect();
    values.extend([
        (&b"total_connections"[..], conns.total_accepted),
        (b"rejected_connections", conns.rejected),
        (b"idle_kicks", conns.idle_closed),
        (b"crawler_reclaimed", crawl.reclaimed),
        (b"crawler_items_checked", crawl.checked),
        (b"conn_yields", ctx.shared.conn_yields()),
        (b"bytes_read", totals.get(Counter::BytesRead)),
        (b"bytes_written", totals.get(Counter::BytesWritten)),
        (b"total_items", storage.sets),
        (b"expired_items", storage.expired_items),
        (b"reclaimed", reclaimed(storage)),
        (b"evictions", storage.evicted_items),
    ]);
    values
}

/// `rusage_user` / `rusage_system` of the whole process, as memcached reports.
pub(in crate::exec) fn rusage(out: &mut Vec<u8>) {
    use nix::sys::resource::{getrusage, UsageWho};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else {
        return;
    };
    for (name, time) in [
        (&b"rusage_user"[..], usage.user_time()),
        (b"rusage_system", usage.system_time()),
    ] {
        let micros = u32::try_from(time.tv_usec()).unwrap_or(0);
        classic_encode::encode_stat_seconds_micros(
            out,
            name,
            u64::try_from(time.tv_sec()).unwrap_or(0),
            micros,
        );
    }
}

fn settings(ctx: &ServerContext, out: &mut Vec<u8>) {
    let config = &ctx.config;
    classic_encode::encode_stat_u64(out, b"maxbytes", config.memory_limit_mib << 20);
    classic_encode::encode_stat_u64(out, b"maxconns", config.conn_limit as u64);
    classic_encode::encode_stat_i64(out, b"tcpport", i64::from(config.port));
    classic_encode::encode_stat_i64(out, b"udpport", i64::from(config.udp_port));
    let interfaces = config.listen.join(",");
    classic_encode::encode_stat(out, b"inter", interfaces.as_bytes());
    classic_encode::encode_stat_u64(out, b"verbosity", u64::from(ctx.shared.verbosity()));
    classic_encode::encode_stat(
        out,
        b"evictions",
        if config.eviction == crate::startup::cli::EvictionName::None {
            b"off"
        } else {
            b"on"
        },
    );
    let socket = config
        .unix_socket
        .as_ref()
        .map(|path| path.display().to_string());
    let socket = socket.as_deref().unwrap_or("NULL");
    classic_encode::encode_stat(out, b"domain_socket", socket.as_bytes());
    classic_encode::encode_stat(out, b"umask", config.unix_socket_mode.as_bytes());
    // No `shutdown` command, no SASL.
    classic_encode::encode_stat(
        out,
        b"shutdown_command",
        yes_no(config.shutdown_command_enabled),
    );
    classic_encode::encode_stat_u64(out, b"num_threads", config.threads as u64);
    let delimiter = [ctx.shared.prefix_stats.delimiter()];
    classic_encode::encode_stat(out, b"stat_key_prefix", &delimiter);
    let detail = ctx.shared.prefix_stats.enabled();
    classic_encode::encode_stat(out, b"detail_enabled", yes_no(detail));
    classic_encode::encode_stat_u64(out, b"reqs_per_event", config.turn_budget_requests as u64);
    classic_encode::encode_stat(out, b"cas_enabled", yes_no(config.cas_enabled));
    classic_encode::encode_stat_u64(out, b"tcp_backlog", config.listen_backlog as u64);
    let binding_protocol: &[u8] = match config.binding_protocol {
        crate::startup::cli::ProtocolName::Auto => b"auto-negotiate",
        crate::startup::cli::ProtocolName::Ascii => b"ascii",
        crate::startup::cli::ProtocolName::Binary => b"binary",
    };
    classic_encode::encode_stat(out, b"binding_protocol", binding_protocol);
    classic_encode::encode_stat(out, b"auth_enabled_sasl", b"no");
    // memcached names the -Y file here, or says no.
    let auth_file = config.access.auth_file.as_ref();
    let auth_file = auth_file.map(|path| path.to_string_lossy().into_owned());
    let auth_file = auth_file.as_deref().unwrap_or("no");
    classic_encode::encode_stat(out, b"auth_enabled_ascii", auth_file.as_bytes());
    classic_encode::encode_stat_u64(out, b"item_size_max", config.max_item_size_bytes);
    // Over -c, a connection is refused with a reply at once.
    classic_encode::encode_stat(out, b"maxconns_fast", b"yes");
    // -o hashpower is not used: the index is sized from -m and
    // --expected-item-size (`stats tailcache`).
    classic_encode::encode_stat_u64(out, b"hashpower_init", 0);
    let crawler = ctx.shared.lru_crawler_enabled.load(Ordering::Relaxed);
    classic_encode::encode_stat(out, b"lru_crawler", yes_no(crawler));
    classic_encode::encode_stat(out, b"flush_enabled", yes_no(config.flush_enabled));
    classic_encode::encode_stat(out, b"dump_enabled", yes_no(config.dump_enabled));
    classic_encode::encode_stat(out, b"lru_maintainer_thread", yes_no(config.evict_ahead));
    classic_encode::encode_stat_u64(out, b"idle_timeout", config.idle_timeout_secs);
    classic_encode::encode_stat(out, b"track_sizes", b"no");
    classic_encode::encode_stat(out, b"inline_ascii_response", b"no");
    tls_settings(&config.tls, out);
    // As memcached: the -e file, only when there is one.
    if let Some(path) = &config.heap_file {
        classic_encode::encode_stat(out, b"memory_file", path.to_string_lossy().as_bytes());
    }
    classic_encode::encode_reply(out, Reply::End);
}

/// memcached's `reclaimed`: dead items whose memory was taken back, expired
/// or flushed, whether by a write over them, a read that met them, or
/// background reclaim.
fn reclaimed(storage: &tailcache_storage::Stats) -> u64 {
    storage.expired_items + storage.flushed_items
}

/// `stats conns`: each listening socket and open data connection, as
/// memcached lists them (`FD:addr`, `FD:listen_addr`, `FD:state`,
/// `FD:secs_since_last_cmd`).
fn conns(ctx: &ServerContext, out: &mut Vec<u8>) {
    let now = ctx.engine.now_unix_secs();
    let started = u32::try_from(ctx.shared.started_unix_secs()).unwrap_or(now);
    for row in ctx.shared.conns.rows(now, started) {
        let mut stat = |field: &str, value: &[u8]| {
            classic_encode::encode_stat(out, format!("{}:{field}", row.fd).as_bytes(), value);
        };
        stat("addr", row.addr.as_bytes());
        if let Some(listen_addr) = &row.listen_addr {
            stat("listen_addr", listen_addr.as_bytes());
        }
        stat("state", row.state.as_bytes());
        stat(
            "secs_since_last_cmd",
            row.secs_since_last_cmd.to_string().as_bytes(),
        );
    }
    classic_encode::encode_reply(out, Reply::End);
}

/// memcached's TLS settings lines (a TLS-enabled build prints them always).
fn tls_settings(tls: &crate::security::tls::TlsSettings, out: &mut Vec<u8>) {
    let path = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map_or_else(|| "NULL".to_owned(), |p| p.display().to_string())
    };
    classic_encode::encode_stat(out, b"ssl_enabled", yes_no(tls.any_listener()));
    classic_encode::encode_stat(out, b"ssl_chain_cert", path(&tls.cert).as_bytes());
    classic_encode::encode_stat(out, b"ssl_key", path(&tls.key).as_bytes());
    let verify_mode: u64 = match tls.verify_mode {
        crate::security::tls::TlsVerifyMode::None => 0,
        crate::security::tls::TlsVerifyMode::Request => 1,
        crate::security::tls::TlsVerifyMode::Require => 2,
    };
    classic_encode::encode_stat_u64(out, b"ssl_verify_mode", verify_mode);
    // Keys are read as PEM (1) whatever -o ssl_keyformat says (it warns).
    classic_encode::encode_stat_u64(out, b"ssl_keyformat", 1);
    // rustls's own cipher suites: memcached's "NULL" means "the library's default".
    classic_encode::encode_stat(out, b"ssl_ciphers", b"NULL");
    classic_encode::encode_stat(out, b"ssl_ca_cert", path(&tls.ca).as_bytes());
    let wbuf_bytes = u64::from(tls.write_buffer_kib) * 1024;
    classic_encode::encode_stat_u64(out, b"ssl_wbuf_size", wbuf_bytes);
    classic_encode::encode_stat(out, b"ssl_session_cache", yes_no(tls.session_cache));
    classic_encode::encode_stat(out, b"ssl_kernel_tls", b"no");
    let min_version: &[u8] = match tls.min_version {
        crate::security::tls::TlsMinVersion::Tls12 => b"tlsv1.2",
        crate::security::tls::TlsMinVersion::Tls13 => b"tlsv1.3",
    };
    classic_encode::encode_stat(out, b"ssl_min_version", min_version);
}

fn yes_no(value: bool) -> &'static [u8] {
    if value {
        b"yes"
    } else {
        b"no"
    }
}

/// `stats items`: the segment store has one item class; report it as class 1.
fn items(ctx: &ServerContext, out: &mut Vec<u8>) {
    let storage = ctx.engine.stats();
    if storage.items > 0 {
        classic_encode::encode_stat_u64(out, b"items:1:number", storage.items);
        classic_encode::encode_stat_u64(out, b"items:1:evicted", storage.evicted_items);
        classic_encode::encode_stat_u64(out, b"items:1:reclaimed", reclaimed(&storage));
        let counted = since_reset(ctx, &storage);
        for (name, counter) in [
            (&b"items:1:crawler_reclaimed"[..], &b"crawler_reclaimed"[..]),
            (b"items:1:crawler_items_checked", b"crawler_items_checked"),
        ] {
            classic_encode::encode_stat_u64(out, name, counted.get(counter).copied().unwrap_or(0));
        }
    }
    classic_encode::encode_reply(out, Reply::End);
}

/// memcached's cap on a `stats cachedump` reply.
const CACHEDUMP_MAX_BYTES: usize = 2 << 20;
/// memcached's slab class ids are below this.
const SLAB_CLASS_LIMIT: u32 = 64;
/// Index buckets a cachedump lists between checks of its limits.
const CACHEDUMP_BUCKETS_PER_STEP: usize = 1024;

/// `stats cachedump <class> <limit>`: `ITEM <key> [<bytes> b; <expiry> s]` lines, as
/// memcached. Everything is in class 1 here (as `stats items` says); other classes are
/// empty. At most `limit` items (0: no limit) and 2 MiB, as memcached; items stored
/// with a binary key are left out, as memcached leaves them out.
fn cachedump(ctx: &ServerContext, args: &[u8], out: &mut Vec<u8>) {
    if !ctx.config.dump_enabled {
        out.extend_from_slice(b"CLIENT_ERROR stats cachedump not allowed\r\n");
        return;
    }
    let mut tokens = args.split(|&b| b == b' ').filter(|token| !token.is_empty());
    let (Some(class), Some(limit)) = (tokens.next(), tokens.next()) else {
        out.extend_from_slice(b"CLIENT_ERROR bad command line\r\n");
        return;
    };
    let number = |token: &[u8]| std::str::from_utf8(token).ok()?.parse::<u32>().ok();
    let (Some(class), Some(limit)) = (number(class), number(limit)) else {
        out.extend_from_slice(b"CLIENT_ERROR bad command line format\r\n");
        return;
    };
    if class >= SLAB_CLASS_LIMIT {
        out.extend_from_slice(b"CLIENT_ERROR Illegal slab id\r\n");
        return;
    }
    let start = out.len();
    let mut shown = 0u32;
    let mut full = false;
    let mut cursor = tailcache_storage::DumpCursor::default();
    while class == 1 && !full && (limit == 0 || shown < limit) {
        let done = ctx
            .engine
            .dump_step(&mut cursor, CACHEDUMP_BUCKETS_PER_STEP, |item| {
                if full || (limit != 0 && shown >= limit) || item.meta.key_binary {
                    return;
                }
                let expiry = match item.meta.expiry {
                    tailcache_storage::Expiry::Never => 0,
                    tailcache_storage::Expiry::At(unix_secs) => u64::from(unix_secs),
                };
                let tail = format!(" [{} b; {expiry} s]\r\n", item.meta.value_len);
                let line_len = b"ITEM ".len() + item.key.len() + tail.len();
                if out.len() - start + line_len + b"END\r\n".len() > CACHEDUMP_MAX_BYTES {
                    full = true;
                    return;
                }
                out.extend_from_slice(b"ITEM ");
                out.extend_from_slice(item.key);
                out.extend_from_slice(tail.as_bytes());
                shown += 1;
            });
        if done {
            break;
        }
    }
    classic_encode::encode_reply(out, Reply::End);
}

/// `stats slabs`: segments are tailcache's slabs. Class 1 is listed once anything was
/// stored, as memcached lists a class once it has a page, emptied or not.
fn slabs(ctx: &ServerContext, out: &mut Vec<u8>) {
    let storage = ctx.engine.stats();
    if storage.segments_used > 0 || storage.sets > 0 {
        classic_encode::encode_stat_u64(out, b"1:chunk_size", storage.segment_size_bytes);
        classic_encode::encode_stat_u64(out, b"1:total_pages", storage.segments_used);
        classic_encode::encode_stat_u64(out, b"1:used_chunks", storage.items);
    }
    classic_encode::encode_stat_u64(out, b"active_slabs", u64::from(storage.segments_used > 0));
    classic_encode::encode_stat_u64(out, b"total_malloced", storage.reserved_bytes);
    classic_encode::encode_reply(out, Reply::End);
}
