//! The listeners a configuration asks for, bound before any thread starts,
//! with each protocol's reply for "too many connections" and "too large".

use std::net::SocketAddr;
use std::sync::Arc;

use tailcache_runtime::{
    AcceptMode, BindError, BoundListener, ListenAddr, ListenerSpec, TlsAcceptor,
};

use crate::context::{DataListenAddr, Protocol};
use crate::startup::cli::AcceptModeName;
use crate::startup::config::Config;

/// memcached's reply when the connection limit is reached.
pub const MEMCACHE_REJECT: &[u8] = b"ERROR Too many open connections\r\n";
/// Redis's reply when maxclients is reached.
const RESP_REJECT: &[u8] = b"-ERR max number of clients reached\r\n";
const HTTP_REJECT: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
const MEMCACHE_OVERFLOW: &[u8] = b"SERVER_ERROR request too large\r\n";
const RESP_OVERFLOW: &[u8] = b"-ERR Protocol error: request too large\r\n";
const HTTP_OVERFLOW: &[u8] =
    b"HTTP/1.1 413 Content Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// The runtime accept mode named in the config.
pub fn accept_mode(config: &Config) -> AcceptMode {
    match config.accept_mode {
        AcceptModeName::Reuseport => AcceptMode::ReusePort,
        AcceptModeName::Shared => AcceptMode::Shared,
    }
}

/// Binds every data listener of `config`, one socket per worker; those
/// that speak TLS take their sessions from `tls`.
pub fn bind_data(
    config: &Config,
    tls: Option<&Arc<TlsAcceptor>>,
) -> Result<Vec<(Protocol, BoundListener)>, String> {
    let addrs = config.data_addrs().map_err(|e| e.to_string())?;
    let mut bound = Vec::with_capacity(addrs.len());
    for data in addrs {
        let addr = match data.addr {
            DataListenAddr::Tcp(addr) => ListenAddr::Tcp(addr),
            DataListenAddr::Unix { path, mode } => ListenAddr::Unix { path, mode },
            DataListenAddr::Udp(addr) => ListenAddr::Udp(addr),
        };
        let (reject_reply, overflow_reply) = replies(data.protocol);
        let spec = ListenerSpec {
            addr,
            tag: data.protocol.tag(),
            reject_reply: reject_reply.to_vec(),
            overflow_reply: overflow_reply.to_vec(),
            backlog: config.listen_backlog,
            tls: if data.tls { tls.cloned() } else { None },
        };
        if data.tls && spec.tls.is_none() {
            return Err(format!(
                "{} listener: TLS asked but not loaded",
                data.protocol.name()
            ));
        }
        let listener = BoundListener::bind(spec, config.threads, accept_mode(config))
            .map_err(|e| describe(data.protocol, data.tls, &e))?;
        bound.push((data.protocol, listener));
    }
    Ok(bound)
}

/// Binds the admin endpoint for a single admin worker, over TLS with `tls`.
pub fn bind_admin(
    addr: SocketAddr,
    tls: Option<Arc<TlsAcceptor>>,
) -> Result<BoundListener, String> {
    let spec = ListenerSpec {
        addr: ListenAddr::Tcp(addr),
        tag: 0,
        reject_reply: HTTP_REJECT.to_vec(),
        overflow_reply: HTTP_OVERFLOW.to_vec(),
        backlog: tailcache_runtime::DEFAULT_LISTEN_BACKLOG,
        tls,
    };
    BoundListener::bind(spec, 1, AcceptMode::Shared).map_err(|e| format!("admin endpoint: {e}"))
}

fn replies(protocol: Protocol) -> (&'static [u8], &'static [u8]) {
    match protocol {
        Protocol::Memcache => (MEMCACHE_REJECT, MEMCACHE_OVERFLOW),
        Protocol::Resp => (RESP_REJECT, RESP_OVERFLOW),
        Protocol::Http => (HTTP_REJECT, HTTP_OVERFLOW),
    }
}

fn describe(protocol: Protocol, tls: bool, error: &BindError) -> String {
    let over = if tls { " (TLS)" } else { "" };
    format!("{}{over} listener: {error}", protocol.name())
}
