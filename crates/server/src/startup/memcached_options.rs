//! memcached's `-o` options: the ones that apply, and the tuning options
//! of memcached's own allocator, LRU, hash table, extstore and TLS that have
//! no meaning here (accepted, one warning each).

use crate::startup::config::{Config, ConfigError};

/// Options whose memcached meaning is what tailcache always does: accepted
/// without a warning.
const ALWAYS_SO: &[&str] = &[
    // A connection over -c gets "ERROR Too many open connections" and is closed.
    "maxconns_fast",
    // "enables options which will be default in future. currently: nothing".
    "modern",
    // Removed in memcached 1.6; accepted by it without effect.
    "inline_ascii_resp",
    "no_inline_ascii_resp",
];

/// memcached `-o` options about its slab allocator, LRU threads, hash table,
/// logging buffers, seccomp and extstore (`ext_*`); tailcache has none of
/// these. TLS's `ssl_*` options are read by [`crate::security::tls::TlsSettings`].
const IGNORED: &[&str] = &[
    "no_maxconns_fast",
    "hashpower",
    "no_hashexpand",
    "tail_repair_time",
    "hash_algorithm",
    "lru_crawler_sleep",
    "lru_crawler_tocrawl",
    "hot_lru_pct",
    "warm_lru_pct",
    "hot_max_factor",
    "warm_max_factor",
    "temporary_ttl",
    "slab_reassign",
    "no_slab_reassign",
    "slab_automove",
    "no_slab_automove",
    "slab_automove_ratio",
    "slab_automove_window",
    "slab_automove_freeratio",
    "slab_chunk_max",
    "slab_sizes",
    "no_chunked_items",
    "track_sizes",
    "worker_logbuf_size",
    "no_drop_privileges",
    "drop_privileges",
    "relaxed_privileges",
    "sock_cookie_id",
    "proxy_uring",
];

/// Applies `-o name[=value]` options to `config`; each option without
/// effect adds one line to `warnings`.
pub fn apply_memcached_options(
    config: &mut Config,
    options: &[String],
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    for option in options {
        let option = option.trim();
        if option.is_empty() {
            continue;
        }
        let (name, value) = option.split_once('=').unwrap_or((option, ""));
        match name {
            "idle_timeout" => {
                config.idle_timeout_secs = value.parse().map_err(|_| {
                    ConfigError::invalid(
                        "-o idle_timeout",
                        format!("'{value}' is not a number of seconds"),
                    )
                })?;
            }
            // memcached's global limits (MB) on response objects and read
            // buffers; here one budget covers both kinds of buffer, so the
            // two add up. memcached's default, 0, is no limit.
            "resp_obj_mem_limit" | "read_buf_mem_limit" => {
                let mib: u64 = value.parse().map_err(|_| {
                    ConfigError::invalid(
                        format!("-o {name}"),
                        format!("'{value}' is not a number of megabytes"),
                    )
                })?;
                config.connection_buffer_budget_mib =
                    config.connection_buffer_budget_mib.saturating_add(mib);
            }
            "watcher_logbuf_size" => {
                let kib: u64 = value.parse().map_err(|_| {
                    ConfigError::invalid(
                        "-o watcher_logbuf_size",
                        format!("'{value}' is not a number of kilobytes"),
                    )
                })?;
                config.watcher_buffer_kib = kib;
            }
            "lru_crawler" => config.lru_crawler_enabled = true,
            "no_lru_crawler" => config.lru_crawler_enabled = false,
            // memcached's LRU maintainer thread is what frees memory ahead of
            // writes; without it, writes evict inline (as here).
            "lru_maintainer" => config.evict_ahead = true,
            "no_lru_maintainer" => config.evict_ahead = false,
            "no_modern" => {
                // memcached 1.4's defaults: of them only "no crawler" and "no
                // maintainer" mean anything here.
                config.lru_crawler_enabled = false;
                config.evict_ahead = false;
                warnings.push(
                    "-o no_modern starts lru_crawler disabled and evicts inline; its other 1.4 defaults have no effect in tailcache"
                        .to_owned(),
                );
            }
            "proxy_config" => {
                return Err(ConfigError::unserved(
                    "-o proxy_config",
                    "memcached's proxy mode is not served by tailcache",
                ));
            }
            _ if name.starts_with("ssl_") => {
                match config.tls.apply_memcached_option(name, value, warnings) {
                    Some(result) => result?,
                    None => {
                        return Err(ConfigError::invalid(
                            format!("-o {name}"),
                            "unknown extended option",
                        ))
                    }
                }
            }
            _ if ALWAYS_SO.contains(&name) => {}
            _ if IGNORED.contains(&name) || name.starts_with("ext_") => {
                warnings.push(format!("-o {name} has no effect in tailcache; ignored"));
            }
            _ => {
                return Err(ConfigError::invalid(
                    format!("-o {name}"),
                    "unknown extended option",
                ));
            }
        }
    }
    Ok(())
}
