//! One connected socket, TCP, TLS over TCP, or unix, behind a single type.

use std::io::{self, Read, Write};

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

use crate::tls::TlsStream;

/// An accepted connection.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<TlsStream>),
}

/// Reads of unread input before a close: bounds the work one close can cost.
const LINGER_READS: usize = 16;

impl Stream {
    /// The descriptor and peer address in `stats conns` form; a unix client
    /// is shown as the listener's path (`listener`), as memcached shows it.
    pub(crate) fn origin(&self, listener: &std::sync::Arc<str>) -> crate::service::ConnOrigin {
        use std::os::fd::AsRawFd;
        let (fd, peer) = match self {
            Stream::Tcp(s) => (s.as_raw_fd(), s.peer_addr().ok()),
            Stream::Unix(s) => (s.as_raw_fd(), None),
            Stream::Tls(s) => (s.socket().as_raw_fd(), s.socket().peer_addr().ok()),
        };
        crate::service::ConnOrigin {
            fd,
            peer: peer.map_or_else(|| listener.to_string(), |addr| format!("tcp:{addr}")),
            listener: listener.clone(),
        }
    }

    /// Shuts down the sending side.
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Stream::Tls(s) => {
                s.send_close_notify();
                s.socket().shutdown(std::net::Shutdown::Write)
            }
        }
    }

    /// Output the stream itself holds (encrypted TLS records the socket
    /// has not taken yet); plain sockets hold none.
    pub(crate) fn buffered_output_bytes(&self) -> usize {
        match self {
            Stream::Tls(s) => s.buffered_output_bytes(),
            Stream::Tcp(_) | Stream::Unix(_) => 0,
        }
    }

    /// Whether the stream itself holds part of the peer's input (a TLS
    /// handshake or record still arriving); plain sockets never do.
    pub(crate) fn has_partial_input(&self) -> bool {
        match self {
            Stream::Tls(s) => s.has_partial_input(),
            Stream::Tcp(_) | Stream::Unix(_) => false,
        }
    }

    /// Sends what [`Stream::buffered_output_bytes`] counts; `WouldBlock`
    /// when the socket is full.
    pub(crate) fn flush_buffered(&mut self) -> io::Result<()> {
        match self {
            Stream::Tls(s) => s.flush_buffered(),
            Stream::Tcp(_) | Stream::Unix(_) => Ok(()),
        }
    }

    /// Reads raw bytes from the socket underneath (no TLS): for draining
    /// before a close, where the bytes are thrown away anyway.
    fn read_raw(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Tls(s) => s.socket_mut().read(buf),
        }
    }

    /// Half-closes and drains what the peer already sent, so that closing
    /// does not reset the connection and destroy the last reply in flight.
    pub(crate) fn linger_close(&mut self) {
        let _ = self.shutdown_write();
        let mut scratch = [0u8; 4096];
        for _ in 0..LINGER_READS {
            match self.read_raw(&mut scratch) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
            Stream::Tls(s) => s.socket_mut().register(r, t, i),
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
            Stream::Tls(s) => s.socket_mut().reregister(r, t, i),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
            Stream::Tls(s) => s.socket_mut().deregister(r),
        }
    }
}
