//! `INFO` and `HELLO` replies: what redis-cli and redis-py read at connect.

use tailcache_protocol::resp::{encode, encode_hello_reply, Args, HelloReply, ProtocolVersion};

use crate::context::ServerContext;
use crate::exec::memcache::classic::VERSION;
use crate::observability::metrics::Counter;

/// The Redis version tailcache presents: clients pick features from it.
const REDIS_COMPAT_VERSION: &[u8] = b"7.0.0";

/// `HELLO`: the server map, as redis-server 7 sends it.
pub fn hello(out: &mut Vec<u8>, client_id: u64, version: ProtocolVersion) {
    let reply = HelloReply {
        server_name: b"redis",
        server_version: REDIS_COMPAT_VERSION,
        client_id: i64::try_from(client_id).unwrap_or(i64::MAX),
    };
    encode_hello_reply(out, &reply, version);
}

/// `INFO [section ...]`: server, clients, memory, stats and keyspace.
pub fn info(ctx: &ServerContext, sections: Args<'_>, out: &mut Vec<u8>, version: ProtocolVersion) {
    let wants = |name: &str| {
        sections.len() == 0
            || sections.into_iter().any(|s| {
                s.eq_ignore_ascii_case(name.as_bytes())
                    || s.eq_ignore_ascii_case(b"all")
                    || s.eq_ignore_ascii_case(b"everything")
                    || s.eq_ignore_ascii_case(b"default")
            })
    };
    let mut text = String::new();
    let shared = &ctx.shared;
    if wants("server") {
        text.push_str(&format!(
            "# Server\r\nredis_version:{}\r\ntailcache_version:{VERSION}\r\nredis_mode:standalone\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\n\r\n",
            String::from_utf8_lossy(REDIS_COMPAT_VERSION),
            std::process::id(),
            ctx.config.resp_port.unwrap_or(0),
            shared.uptime_secs(),
        ));
    }
    if wants("clients") {
        text.push_str(&format!(
            "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\n\r\n",
            shared.connections().current,
            ctx.config.conn_limit
        ));
    }
    let storage = ctx.engine.stats();
    if wants("memory") {
        text.push_str(&format!(
            "# Memory\r\nused_memory:{}\r\nmaxmemory:{}\r\nmaxmemory_policy:{}\r\n\r\n",
            storage.bytes_used,
            storage.limit_bytes,
            format!("{:?}", ctx.config.eviction).to_lowercase()
        ));
    }
    if wants("stats") {
        let totals = shared.totals();
        text.push_str(&format!(
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\nevicted_keys:{}\r\nexpired_keys:{}\r\n\r\n",
            shared.connections().total_accepted,
            totals.get(Counter::Requests),
            totals.get(Counter::GetHits),
            totals.get(Counter::GetMisses),
            storage.evicted_items,
            storage.expired_items,
        ));
    }
    if wants("keyspace") && storage.items > 0 {
        text.push_str(&format!("# Keyspace\r\ndb0:keys={}\r\n", storage.items));
    }
    encode::verbatim_text(out, text.trim_end().as_bytes(), version);
}
