//! The reply to HELLO, whose exact shape clients read (redis-py takes `proto` from it).

use super::command::ProtocolVersion;
use super::encode;

/// What a HELLO reply reports about the server and the connection.
#[derive(Debug, Clone, Copy)]
pub struct HelloReply<'a> {
    /// `server` (Redis sends `redis`; some tools check it).
    pub server_name: &'a [u8],
    /// `version`, the Redis version tailcache answers as.
    pub server_version: &'a [u8],
    /// The connection's id (as CLIENT ID).
    pub client_id: i64,
}

/// Appends the HELLO reply in the connection's (new) protocol version: a map of
/// `server`, `version`, `proto`, `id`, `mode` (`standalone`), `role` (`master`) and
/// `modules` (empty), as redis-server 7 sends it.
pub fn encode_hello_reply(out: &mut Vec<u8>, reply: &HelloReply<'_>, version: ProtocolVersion) {
    encode::map_header(out, 7, version);
    encode::bulk(out, b"server");
    encode::bulk(out, reply.server_name);
    encode::bulk(out, b"version");
    encode::bulk(out, reply.server_version);
    encode::bulk(out, b"proto");
    encode::integer(
        out,
        if version == ProtocolVersion::Resp3 {
            3
        } else {
            2
        },
    );
    encode::bulk(out, b"id");
    encode::integer(out, reply.client_id);
    encode::bulk(out, b"mode");
    encode::bulk(out, b"standalone");
    encode::bulk(out, b"role");
    encode::bulk(out, b"master");
    encode::bulk(out, b"modules");
    encode::array_header(out, 0);
}
