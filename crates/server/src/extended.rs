//! memcached's `-o` options: the ones that apply, and the tuning options
//! of memcached's own allocator that have no meaning here (accepted, logged).

use crate::config::{Config, ConfigError};

/// memcached `-o` options about its slab allocator, LRU threads or hash
/// table; tailcache's storage has none of these, so they are ignored.
const IGNORED: &[&str] = &[
    "maxconns_fast",
    "no_maxconns_fast",
    "hashpower",
    "tail_repair_time",
    "hash_algorithm",
    "lru_crawler",
    "no_lru_crawler",
    "lru_crawler_sleep",
    "lru_crawler_tocrawl",
    "lru_maintainer",
    "no_lru_maintainer",
    "hot_lru_pct",
    "warm_lru_pct",
    "hot_max_factor",
    "warm_max_factor",
    "temporary_ttl",
    "slab_reassign",
    "slab_automove",
    "slab_automove_ratio",
    "slab_automove_window",
    "slab_chunk_max",
    "slab_sizes",
    "track_sizes",
    "no_inline_ascii_resp",
    "inline_ascii_resp",
    "modern",
    "no_modern",
    "no_hashexpand",
    "watcher_logbuf_size",
    "worker_logbuf_size",
    "resp_obj_mem_limit",
    "read_buf_mem_limit",
    "no_drop_privileges",
    "drop_privileges",
];

/// Applies `-o name[=value]` options to `config`.
pub fn apply_extended(config: &mut Config, options: &[String]) -> Result<(), ConfigError> {
    for option in options {
        let option = option.trim();
        if option.is_empty() {
            continue;
        }
        let (name, value) = option.split_once('=').unwrap_or((option, ""));
        match name {
            "idle_timeout" => {
                config.idle_timeout_secs = value.parse().map_err(|_| {
                    ConfigError::new(
                        "-o idle_timeout",
                        format!("'{value}' is not a number of seconds"),
                    )
                })?;
            }
            _ if name.starts_with("ssl") => {
                return Err(ConfigError::new(
                    format!("-o {name}"),
                    "TLS is not supported yet",
                ));
            }
            _ if IGNORED.contains(&name) || name.starts_with("ext_") => {
                // Logging is not set up yet while flags are read.
                eprintln!("tailcache: warning: -o {name} has no effect in tailcache; ignored");
            }
            _ => {
                return Err(ConfigError::new(
                    format!("-o {name}"),
                    "unknown extended option",
                ));
            }
        }
    }
    Ok(())
}
