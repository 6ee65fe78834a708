//! A trivial in-process memcache-text responder on a loopback port: `get` answers
//! `END`, `set` answers `STORED`, `delete` answers `NOT_FOUND`. It does no work, so the
//! latency measured against it is the generator's own floor. With a [`Pause`] it stops
//! answering for a while at a fixed period, which is how the tests prove that open-loop
//! measurement sees a stall and closed-loop measurement hides it. With a rustls server
//! configuration it answers over TLS, which is how the tests load the generator's TLS.

use rustls::{ServerConfig, ServerConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the accept loop and connections look at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(20);
/// Longest command line the responder accepts before closing the connection.
const MAX_LINE_BYTES: usize = 4096;

/// A periodic server-wide stall: no reply leaves during `length` of every `period`.
#[derive(Clone, Copy, Debug)]
pub struct Pause {
    /// Time from one pause's start to the next.
    pub period: Duration,
    /// Length of each pause.
    pub length: Duration,
}

/// A running responder; stops (and joins its threads) when dropped.
#[derive(Debug)]
pub struct EchoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// Starts on 127.0.0.1 at a free port.
    pub fn start(pause: Option<Pause>) -> io::Result<Self> {
        Self::start_with(pause, None)
    }

    /// Starts on 127.0.0.1 at a free port, speaking TLS with `tls`.
    pub fn start_tls(pause: Option<Pause>, tls: Arc<ServerConfig>) -> io::Result<Self> {
        Self::start_with(pause, Some(tls))
    }

    fn start_with(pause: Option<Pause>, tls: Option<Arc<ServerConfig>>) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let epoch = Instant::now();
        let flag = stop.clone();
        let acceptor = std::thread::Builder::new()
            .name("echo-accept".into())
            .spawn(move || accept_loop(listener, flag, pause, epoch, tls))?;
        Ok(Self {
            addr,
            stop,
            acceptor: Some(acceptor),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    pause: Option<Pause>,
    epoch: Instant,
    tls: Option<Arc<ServerConfig>>,
) {
    let mut conns = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let flag = stop.clone();
                let tls = tls.clone();
                if let Ok(h) = std::thread::Builder::new()
                    .name("echo-conn".into())
                    .spawn(move || serve_socket(stream, flag, pause, epoch, tls))
                {
                    conns.push(h);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(_) => std::thread::sleep(STOP_CHECK),
        }
    }
    for h in conns {
        let _ = h.join();
    }
}

fn serve_socket(
    stream: TcpStream,
    stop: Arc<AtomicBool>,
    pause: Option<Pause>,
    epoch: Instant,
    tls: Option<Arc<ServerConfig>>,
) {
    if stream.set_nonblocking(false).is_err()
        || stream.set_nodelay(true).is_err()
        || stream.set_read_timeout(Some(STOP_CHECK)).is_err()
    {
        return;
    }
    match tls {
        None => serve(stream, stop, pause, epoch),
        Some(config) => {
            let Ok(session) = ServerConnection::new(config) else {
                return;
            };
            // The handshake happens inside the first reads; a read timeout there is
            // retried like any other.
            serve(StreamOwned::new(session, stream), stop, pause, epoch)
        }
    }
}

fn serve(
    mut stream: impl Read + Write,
    stop: Arc<AtomicBool>,
    pause: Option<Pause>,
    epoch: Instant,
) {
    let mut input = Vec::with_capacity(64 * 1024);
    let mut out = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => input.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return,
        }
        let Some(used) = answer_all(&input, &mut out) else {
            return;
        };
        input.drain(..used);
        if let Some(p) = pause {
            wait_out_pause(p, epoch);
        }
        if !out.is_empty() && stream.write_all(&out).is_err() {
            return;
        }
        out.clear();
    }
}

/// Sleeps until the current pause, if any, is over.
fn wait_out_pause(p: Pause, epoch: Instant) {
    let period_ns = p.period.as_nanos().max(1);
    let into_period_ns = epoch.elapsed().as_nanos() % period_ns;
    if into_period_ns < p.length.as_nanos() {
        std::thread::sleep(Duration::from_nanos(
            (p.length.as_nanos() - into_period_ns) as u64,
        ));
    }
}

/// Answers every complete command in `input`; returns bytes consumed, or `None` when
/// the input cannot be a command stream (the connection is then closed).
fn answer_all(input: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let mut pos = 0;
    loop {
        let rest = &input[pos..];
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            return (rest.len() <= MAX_LINE_BYTES).then_some(pos);
        };
        let line = rest[..nl].strip_suffix(b"\r").unwrap_or(&rest[..nl]);
        let mut words = line.split(|&b| b == b' ');
        let mut used = nl + 1;
        match words.next() {
            Some(b"get") | Some(b"gets") => out.extend_from_slice(b"END\r\n"),
            Some(b"set") => {
                let len: usize = std::str::from_utf8(words.nth(3)?).ok()?.parse().ok()?;
                if len > 1 << 20 {
                    return None;
                }
                if rest.len() < used + len + 2 {
                    return Some(pos);
                }
                used += len + 2;
                out.extend_from_slice(b"STORED\r\n");
            }
            Some(b"delete") => out.extend_from_slice(b"NOT_FOUND\r\n"),
            _ => out.extend_from_slice(b"ERROR\r\n"),
        }
        pos += used;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_each_command_once_whole() {
        let mut out = Vec::new();
        assert_eq!(
            answer_all(b"get a\r\nset b 0 0 2\r\nxy\r\ndelete c\r\nget", &mut out),
            Some(34)
        );
        assert_eq!(out, b"END\r\nSTORED\r\nNOT_FOUND\r\n");
        out.clear();
        assert_eq!(answer_all(b"set b 0 0 2\r\nx", &mut out), Some(0));
        assert!(out.is_empty());
        assert_eq!(answer_all(b"set b 0 0 zz\r\n", &mut out), None);
    }

    #[test]
    fn serves_over_tcp_and_stops() {
        let server = EchoServer::start(None).unwrap();
        let mut c = TcpStream::connect(server.addr()).unwrap();
        c.write_all(b"get k\r\n").unwrap();
        let mut buf = [0u8; 5];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"END\r\n");
        drop(c);
        drop(server);
    }
}
