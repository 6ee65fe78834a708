//! `CONFIG GET` and `CONFIG RESETSTAT`: the Redis parameters tools read at
//! start (redis-benchmark asks for `save` and `appendonly`, exporters for
//! `maxmemory`), answered from tailcache's own settings.

use tailcache_protocol::resp::{encode, glob_matches, Args, ProtocolVersion};

use crate::context::ServerContext;

/// Appends `CONFIG GET`'s reply: every known parameter some pattern matches,
/// each once, as a map (RESP3) or a flat name, value array (RESP2).
pub fn config_get(
    ctx: &ServerContext,
    patterns: Args<'_>,
    out: &mut Vec<u8>,
    version: ProtocolVersion,
) {
    let matching: Vec<(&str, String)> = parameters(ctx)
        .into_iter()
        .filter(|(name, _)| {
            patterns
                .into_iter()
                .any(|pattern| glob_matches(pattern, name.as_bytes()))
        })
        .collect();
    match version {
        ProtocolVersion::Resp3 => encode::map_header(out, matching.len(), version),
        ProtocolVersion::Resp2 => encode::array_header(out, matching.len() * 2),
    }
    for (name, value) in matching {
        encode::bulk(out, name.as_bytes());
        encode::bulk(out, value.as_bytes());
    }
}

/// The parameters tailcache can state truthfully, with Redis's names.
/// Secrets (`requirepass`) are never listed.
fn parameters(ctx: &ServerContext) -> Vec<(&'static str, String)> {
    let config = &ctx.config;
    let storage = ctx.engine.stats();
    let port = |port: Option<u16>| port.unwrap_or(0).to_string();
    vec![
        ("maxmemory", storage.limit_bytes.to_string()),
        // tailcache's own eviction names, as INFO shows them.
        (
            "maxmemory-policy",
            format!("{:?}", config.eviction).to_lowercase(),
        ),
        ("maxclients", config.conn_limit.to_string()),
        ("timeout", config.idle_timeout_secs.to_string()),
        ("port", port(config.resp_port)),
        ("tls-port", port(config.tls.resp_port)),
        ("bind", config.listen.join(" ")),
        ("databases", "1".to_owned()),
        // No persistence: a cache (warm restarts use --heap-file).
        ("save", String::new()),
        ("appendonly", "no".to_owned()),
        ("proto-max-bulk-len", config.max_item_size_bytes.to_string()),
    ]
}

/// `CONFIG RESETSTAT`: what `stats reset` does on the memcache port.
pub fn config_reset_stat(ctx: &ServerContext, out: &mut Vec<u8>) {
    crate::exec::memcache::stats::reset(ctx);
    encode::ok(out);
}
