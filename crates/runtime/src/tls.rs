//! TLS on a non-blocking socket: rustls between the session's buffers and
//! the TCP stream, with a server configuration that can be replaced while
//! connections stay open (certificate reload).

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use mio::net::TcpStream;
use rustls::{ServerConfig, ServerConnection};

/// Where new TLS connections get their configuration; replacing it changes
/// only connections accepted afterwards (open ones keep the session they
/// negotiated), which is how certificates reload without dropping anyone.
pub struct TlsAcceptor {
    current: RwLock<Arc<ServerConfig>>,
    counters: Arc<TlsCounters>,
    write_buffer_bytes: usize,
}

/// Handshake outcomes over every connection of one acceptor.
#[derive(Debug, Default)]
pub struct TlsCounters {
    handshakes: AtomicU64,
    handshake_errors: AtomicU64,
}

impl TlsCounters {
    /// Handshakes completed.
    pub fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::Relaxed)
    }

    /// Connections that failed before their handshake completed (bad
    /// certificate, plaintext or garbage on a TLS port, a version refused).
    pub fn handshake_errors(&self) -> u64 {
        self.handshake_errors.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor").finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// An acceptor handing out `config`.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Self {
            current: RwLock::new(config),
            counters: Arc::default(),
            write_buffer_bytes: DEFAULT_WRITE_BUFFER_BYTES,
        }
    }

    /// Sets how much plaintext a connection's TLS layer holds before it must
    /// be sent (memcached's `ssl_wbuf_size`); at least one byte.
    pub fn with_write_buffer_bytes(mut self, bytes: usize) -> Self {
        self.write_buffer_bytes = bytes.max(1);
        self
    }

    /// Handshake counts of the connections this acceptor started.
    pub fn counters(&self) -> &TlsCounters {
        &self.counters
    }

    /// Connections accepted from now on use `config`.
    pub fn replace(&self, config: Arc<ServerConfig>) {
        // A poisoned lock only means a reader panicked while cloning an Arc.
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// The configuration new connections get now.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn accept(&self, socket: TcpStream) -> io::Result<TlsStream> {
        let mut conn = ServerConnection::new(self.current()).map_err(io::Error::other)?;
        conn.set_buffer_limit(Some(self.write_buffer_bytes));
        Ok(TlsStream {
            conn,
            socket,
            counters: self.counters.clone(),
            handshake_counted: false,
            raw_bytes_since_plaintext: 0,
            write_buffer_bytes: self.write_buffer_bytes,
        })
    }
}

/// Plaintext rustls holds before it must be encrypted and sent, unless set:
/// bounds a TLS connection's hidden output beside the session's own buffer
/// (memcached's `ssl_wbuf_size` default).
const DEFAULT_WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// A server-side TLS connection over a non-blocking TCP socket.
///
/// It keeps the contract the session relies on for plain sockets: `read`
/// returns fewer bytes than asked only once the socket itself said
/// `WouldBlock` (so an edge-triggered poll reports the next bytes), and
/// encrypted output that the socket did not take is reported by
/// [`TlsStream::buffered_output_bytes`] so that the worker watches for
/// writability until [`TlsStream::flush_buffered`] has sent it.
pub(crate) struct TlsStream {
    conn: ServerConnection,
    socket: TcpStream,
    counters: Arc<TlsCounters>,
    /// Its handshake's outcome has been counted.
    handshake_counted: bool,
    /// Bytes taken from the socket since the last plaintext or the end of
    /// the handshake: a record still arriving (or one that carried none).
    raw_bytes_since_plaintext: usize,
    write_buffer_bytes: usize,
}

impl TlsStream {
    pub(crate) fn socket(&self) -> &TcpStream {
        &self.socket
    }

    pub(crate) fn socket_mut(&mut self) -> &mut TcpStream {
        &mut self.socket
    }

    /// Whether input is part-way: a handshake not finished, or record bytes
    /// that have not yet given plaintext. A client that sends a TLS record
    /// a byte at a time is then as stalled as one that sends a request so.
    pub(crate) fn has_partial_input(&self) -> bool {
        self.conn.is_handshaking() || self.raw_bytes_since_plaintext > 0
    }

    /// Encrypted bytes waiting for room in the socket.
    pub(crate) fn buffered_output_bytes(&self) -> usize {
        if self.conn.wants_write() {
            // rustls does not expose the exact count; any positive number
            // makes the session wait for writability.
            1
        } else {
            0
        }
    }

    /// Sends encrypted output until none is left or the socket is full
    /// (`WouldBlock`).
    pub(crate) fn flush_buffered(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.socket) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends a close_notify alert (best effort) before the socket closes.
    pub(crate) fn send_close_notify(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush_buffered();
    }

    /// Moves records from the socket into rustls; `Ok(false)` at end of stream.
    fn read_records(&mut self) -> io::Result<bool> {
        loop {
            match self.conn.read_tls(&mut self.socket) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.raw_bytes_since_plaintext += n;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if let Err(error) = self.conn.process_new_packets() {
            if !self.handshake_counted {
                self.handshake_counted = true;
                self.counters
                    .handshake_errors
                    .fetch_add(1, Ordering::Relaxed);
            }
            // Tell the peer why (the alert rustls queued), then fail the read.
            let _ = self.flush_buffered();
            return Err(io::Error::new(io::ErrorKind::InvalidData, error));
        }
        if !self.handshake_counted && !self.conn.is_handshaking() {
            self.handshake_counted = true;
            self.counters.handshakes.fetch_add(1, Ordering::Relaxed);
            self.raw_bytes_since_plaintext = 0;
        }
        // Handshake replies go out now, not only when the session next flushes.
        match self.flush_buffered() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(true),
        }
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            match self.conn.reader().read(&mut buf[filled..]) {
                Ok(n) => {
                    filled += n;
                    if n > 0 {
                        self.raw_bytes_since_plaintext = 0;
                    }
                    if n == 0 {
                        // close_notify received: a clean end of stream.
                        return Ok(filled);
                    }
                    if filled == buf.len() {
                        return Ok(filled);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed the socket without close_notify.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(filled),
                Err(e) => return Err(e),
            }
            // Plaintext used up: take more records, until the socket itself
            // has nothing, so that a short read means an empty socket.
            match self.read_records() {
                Ok(true) => {}
                Ok(false) => return Ok(filled),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && filled > 0 => return Ok(filled),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Older records first: rustls holds at most one buffer limit's worth.
        self.flush_buffered()?;
        let accepted = self
            .conn
            .writer()
            .write(&buf[..buf.len().min(self.write_buffer_bytes)])?;
        if accepted == 0 && !buf.is_empty() {
            // The handshake has not finished and its buffer is full.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        match self.flush_buffered() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            // What the socket did not take is counted as buffered output.
            _ => Ok(accepted),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buffered()
    }
}
