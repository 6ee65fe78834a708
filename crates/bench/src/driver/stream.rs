//! A connection's byte stream, plain or TLS: the non-blocking one the event loop polls
//! and the blocking one prefill uses. Both connect (and, for TLS, handshake) before
//! they are returned, so handshakes never fall inside a measured request.

use crate::tls::TlsClient;
use rustls::{ClientConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// A non-blocking stream for mio: reads give plaintext, writes take plaintext.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(mio::net::TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream>),
}

/// rustls over a non-blocking socket.
#[derive(Debug)]
pub struct TlsStream {
    socket: mio::net::TcpStream,
    session: ClientConnection,
}

/// Connects within `timeout` with no-delay set: the blocking socket, handshaken when
/// `tls` is given.
fn connect_tcp(addr: SocketAddr, timeout: Duration) -> io::Result<std::net::TcpStream> {
    let socket = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    socket.set_nodelay(true)?;
    Ok(socket)
}

impl Stream {
    /// Connects (and handshakes) blocking, then turns the socket non-blocking.
    pub fn connect(
        addr: SocketAddr,
        timeout: Duration,
        tls: Option<&TlsClient>,
    ) -> io::Result<Self> {
        let mut socket = connect_tcp(addr, timeout)?;
        let session = tls.map(|t| t.handshake(&mut socket)).transpose()?;
        socket.set_nonblocking(true)?;
        let socket = mio::net::TcpStream::from_std(socket);
        Ok(match session {
            None => Self::Plain(socket),
            Some(session) => Self::Tls(Box::new(TlsStream { socket, session })),
        })
    }

    /// The socket, for registering with the poll.
    pub fn socket_mut(&mut self) -> &mut mio::net::TcpStream {
        match self {
            Self::Plain(s) => s,
            Self::Tls(t) => &mut t.socket,
        }
    }

    /// Reads plaintext; `WouldBlock` only once the socket itself has nothing more.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls(t) => t.read(buf),
        }
    }

    /// Takes plaintext; `WouldBlock` when neither the socket nor TLS's buffer has room.
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Tls(t) => t.write(buf),
        }
    }

    /// Sends what TLS holds encrypted but the socket has not taken yet (a plain
    /// stream holds nothing); `WouldBlock` when some is left for the next writable event.
    pub fn send_pending(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(_) => Ok(()),
            Self::Tls(t) => t.send_pending(),
        }
    }
}

impl TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.session.reader().read(buf) {
                // Ok(0) on a non-empty buffer is the server's close_notify.
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // No plaintext left: take records from the socket until it is empty, or
            // until some plaintext comes out.
            match self.session.read_tls(&mut self.socket) {
                Ok(0) => return Ok(0),
                Ok(_) => {
                    if let Err(e) = self.session.process_new_packets() {
                        // The alert rustls queued tells the server why; best effort.
                        let _ = self.send_pending();
                        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                    }
                    // Records may need an answer (key updates, alerts); one the socket
                    // does not take now leaves on the next writable event.
                    match self.send_pending() {
                        Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                        _ => {}
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Room in rustls's bounded buffer first, so it takes as much as it can.
        let earlier = self.send_pending();
        let taken = self.session.writer().write(buf)?;
        let sent = if taken > 0 {
            self.send_pending()
        } else {
            earlier
        };
        match sent {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            // Nothing taken: the buffer is full behind a full socket, and the
            // writable event that follows will call again.
            Err(e) if taken == 0 => Err(e),
            // Unreachable with an empty rustls buffer, but never a false disconnect.
            Ok(()) if taken == 0 => Err(io::ErrorKind::WouldBlock.into()),
            _ => Ok(taken),
        }
    }

    fn send_pending(&mut self) -> io::Result<()> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut self.socket) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// A blocking stream with a read timeout, for prefill.
#[derive(Debug)]
pub enum BlockingStream {
    /// Plain TCP.
    Plain(std::net::TcpStream),
    /// TLS over TCP.
    Tls(Box<StreamOwned<ClientConnection, std::net::TcpStream>>),
}

impl BlockingStream {
    /// Connects (and handshakes); reads then wait at most `read_timeout`.
    pub fn connect(
        addr: SocketAddr,
        timeout: Duration,
        read_timeout: Duration,
        tls: Option<&TlsClient>,
    ) -> io::Result<Self> {
        let mut socket = connect_tcp(addr, timeout)?;
        let session = tls.map(|t| t.handshake(&mut socket)).transpose()?;
        socket.set_read_timeout(Some(read_timeout))?;
        Ok(match session {
            None => Self::Plain(socket),
            Some(session) => Self::Tls(Box::new(StreamOwned::new(session, socket))),
        })
    }
}

impl Read for BlockingStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls(t) => t.read(buf),
        }
    }
}

impl Write for BlockingStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            Self::Tls(t) => t.flush(),
        }
    }
}
