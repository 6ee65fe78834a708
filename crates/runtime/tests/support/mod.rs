//! A line service the runtime's end-to-end tests share.

#![allow(dead_code)] // Each test file uses a different part.

use std::net::SocketAddr;
use std::sync::Arc;

use tailcache_runtime::{
    AcceptMode, BoundListener, ListenAddr, ListenerSpec, LocalAddr, Processed, Service,
    ServiceFactory, TlsAcceptor,
};

/// What a listener answers before closing: a connection over the limit, and a
/// request over the read buffer.
pub struct Replies<'a> {
    /// To a connection refused at the limit.
    pub reject: &'a [u8],
    /// To a request that outgrows the read buffer.
    pub overflow: &'a [u8],
}

/// Binds a TCP listener on a free loopback port for `workers` workers (TLS
/// when an acceptor is given); returns it and its address.
pub fn bind_loopback(
    workers: usize,
    accept_mode: AcceptMode,
    replies: Replies<'_>,
    tls: Option<Arc<TlsAcceptor>>,
) -> (BoundListener, SocketAddr) {
    let spec = ListenerSpec {
        addr: ListenAddr::Tcp("127.0.0.1:0".parse().unwrap()),
        tag: 0,
        reject_reply: replies.reject.to_vec(),
        overflow_reply: replies.overflow.to_vec(),
        backlog: tailcache_runtime::DEFAULT_LISTEN_BACKLOG,
        tls,
    };
    let bound = BoundListener::bind(spec, workers, accept_mode).unwrap();
    let LocalAddr::Tcp(addr) = bound.local_addr().clone() else {
        unreachable!("a TCP listener has a TCP address")
    };
    (bound, addr)
}

/// Echoes each `\n`-terminated line; `big N` replies N bytes of `x` (no newline).
pub struct Lines;

impl Service for Lines {
    type Conn = ();

    fn new_conn(&mut self, _tag: usize) {}

    fn process(&mut self, _conn: &mut (), input: &[u8], output: &mut Vec<u8>) -> Processed {
        let Some(end) = input.iter().position(|&b| b == b'\n') else {
            return Processed::default();
        };
        let line = &input[..end];
        match line.strip_prefix(b"big ") {
            Some(n) => {
                let n: usize = std::str::from_utf8(n).unwrap().trim().parse().unwrap();
                output.resize(output.len() + n, b'x');
            }
            None => output.extend_from_slice(&input[..=end]),
        }
        Processed {
            consumed: end + 1,
            close_after_flush: false,
        }
    }
}

/// Makes [`Lines`]; panics instead when `panic_on_start`.
pub struct LinesFactory {
    /// The worker fails as it starts (to test supervision).
    pub panic_on_start: bool,
}

impl ServiceFactory for LinesFactory {
    type Service = Lines;

    fn new_worker(&self, _index: usize) -> Lines {
        assert!(!self.panic_on_start, "the test asked the worker to fail");
        Lines
    }
}
