//! Listening sockets: bound before any worker starts (so a bad address is an
//! error before anything runs), then split one per worker.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;

use mio::net::{TcpListener, UdpSocket, UnixListener};
use socket2::{Domain, Protocol, Socket, Type};

use crate::config::AcceptMode;
use crate::tls::TlsAcceptor;

/// Kernel accept queue length by default, as memcached's `-b 1024`.
pub const DEFAULT_LISTEN_BACKLOG: i32 = 1024;

/// Where to listen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// A TCP address; port 0 lets the system pick one.
    Tcp(SocketAddr),
    /// A unix stream socket at `path`, with file `mode` (e.g. 0o700).
    Unix {
        /// Socket file path; an existing socket file there is replaced.
        path: PathBuf,
        /// Permission bits of the socket file.
        mode: u32,
    },
    /// A UDP address: each datagram is one request, answered in datagrams
    /// framed as memcached frames them (see `worker/datagram.rs`).
    Udp(SocketAddr),
}

/// One listener the caller asks for.
#[derive(Clone, Debug)]
pub struct ListenerSpec {
    /// Address to bind.
    pub addr: ListenAddr,
    /// Passed to [`crate::Service::new_conn`] for connections from here.
    pub tag: usize,
    /// Written to a connection refused by the connection limit, then closed.
    pub reject_reply: Vec<u8>,
    /// Written before closing a connection whose request outgrew the read buffer.
    pub overflow_reply: Vec<u8>,
    /// Connections the kernel queues before they are accepted (TCP; memcached `-b`).
    pub backlog: i32,
    /// Speak TLS on this listener's connections (TCP only); `None` is plain.
    pub tls: Option<Arc<TlsAcceptor>>,
}

/// The address a listener actually got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalAddr {
    /// Bound TCP address (with the real port when 0 was asked).
    Tcp(SocketAddr),
    /// Bound unix socket path.
    Unix(PathBuf),
    /// Bound UDP address.
    Udp(SocketAddr),
}

impl fmt::Display for LocalAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalAddr::Tcp(addr) => write!(f, "{addr}"),
            LocalAddr::Unix(path) => write!(f, "unix:{}", path.display()),
            LocalAddr::Udp(addr) => write!(f, "udp:{addr}"),
        }
    }
}

/// A listener that could not be bound.
#[derive(Debug)]
pub struct BindError {
    /// The address as the user would write it.
    pub addr: String,
    /// What the system said.
    pub source: io::Error,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot listen on {}: {}", self.addr, self.source)
    }
}

impl std::error::Error for BindError {}

/// A bound listener: one socket per worker.
pub struct BoundListener {
    spec: ListenerSpec,
    local: LocalAddr,
    sockets: Vec<PerWorkerSocket>,
}

pub(crate) enum PerWorkerSocket {
    Tcp(TcpListener),
    Unix(UnixListener),
    Udp(UdpSocket),
}

/// A listener as one worker sees it.
pub(crate) struct WorkerListener {
    pub(crate) socket: PerWorkerSocket,
    pub(crate) tag: usize,
    pub(crate) reject_reply: Arc<[u8]>,
    pub(crate) overflow_reply: Arc<[u8]>,
    pub(crate) tls: Option<Arc<TlsAcceptor>>,
    /// The bound address in `stats conns` form (`tcp:ADDR:PORT`, `unix:PATH`).
    pub(crate) shown: Arc<str>,
}

impl LocalAddr {
    /// memcached's form in `stats conns`: `tcp:ADDR:PORT`, `unix:PATH` or `udp:ADDR:PORT`.
    pub fn conn_form(&self) -> String {
        match self {
            LocalAddr::Tcp(addr) => format!("tcp:{addr}"),
            LocalAddr::Unix(path) => format!("unix:{}", path.display()),
            LocalAddr::Udp(addr) => format!("udp:{addr}"),
        }
    }
}

impl BoundListener {
    /// Binds `spec` with one socket for each of `workers`.
    pub fn bind(spec: ListenerSpec, workers: usize, mode: AcceptMode) -> Result<Self, BindError> {
        let shown = match &spec.addr {
            ListenAddr::Tcp(addr) => addr.to_string(),
            ListenAddr::Unix { path, .. } => path.display().to_string(),
            ListenAddr::Udp(addr) => format!("udp:{addr}"),
        };
        let wrap = |source| BindError {
            addr: shown.clone(),
            source,
        };
        if spec.tls.is_some() && !matches!(spec.addr, ListenAddr::Tcp(_)) {
            return Err(wrap(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TLS is served on TCP listeners only",
            )));
        }
        let (local, sockets) = match &spec.addr {
            ListenAddr::Tcp(addr) => {
                bind_tcp(*addr, workers.max(1), mode, spec.backlog).map_err(wrap)?
            }
            ListenAddr::Unix { path, mode } => {
                bind_unix(path, *mode, workers.max(1)).map_err(wrap)?
            }
            ListenAddr::Udp(addr) => bind_udp(*addr, workers.max(1), mode).map_err(wrap)?,
        };
        Ok(Self {
            spec,
            local,
            sockets,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> &LocalAddr {
        &self.local
    }

    /// Whether its connections speak TLS.
    pub fn speaks_tls(&self) -> bool {
        self.spec.tls.is_some()
    }

    /// The caller's tag for this listener.
    pub fn tag(&self) -> usize {
        self.spec.tag
    }

    /// The listening sockets' descriptors (one per worker, or one shared).
    pub fn raw_fds(&self) -> Vec<i32> {
        use std::os::fd::AsRawFd;
        self.sockets
            .iter()
            .map(|socket| match socket {
                PerWorkerSocket::Tcp(listener) => listener.as_raw_fd(),
                PerWorkerSocket::Unix(listener) => listener.as_raw_fd(),
                PerWorkerSocket::Udp(socket) => socket.as_raw_fd(),
            })
            .collect()
    }

    pub(crate) fn into_worker_listeners(self) -> Vec<WorkerListener> {
        let shown: Arc<str> = self.local.conn_form().into();
        let reject_reply: Arc<[u8]> = self.spec.reject_reply.into();
        let overflow_reply: Arc<[u8]> = self.spec.overflow_reply.into();
        self.sockets
            .into_iter()
            .map(|socket| WorkerListener {
                socket,
                tag: self.spec.tag,
                reject_reply: reject_reply.clone(),
                overflow_reply: overflow_reply.clone(),
                tls: self.spec.tls.clone(),
                shown: shown.clone(),
            })
            .collect()
    }
}

fn bind_tcp(
    addr: SocketAddr,
    workers: usize,
    mode: AcceptMode,
    backlog: i32,
) -> io::Result<(LocalAddr, Vec<PerWorkerSocket>)> {
    let (local, sockets) = bind_per_worker(addr, workers, mode, |addr, reuse_port| {
        tcp_socket(addr, reuse_port, backlog)
    })?;
    let sockets = sockets
        .into_iter()
        .map(|s| PerWorkerSocket::Tcp(TcpListener::from_std(s.into())))
        .collect();
    Ok((LocalAddr::Tcp(local), sockets))
}

/// One socket per worker on the same address: with `SO_REUSEPORT` each its own
/// (the same real port even when port 0 was asked), else clones of one.
fn bind_per_worker(
    addr: SocketAddr,
    workers: usize,
    mode: AcceptMode,
    open: impl Fn(SocketAddr, bool) -> io::Result<Socket>,
) -> io::Result<(SocketAddr, Vec<Socket>)> {
    let reuse_port = mode == AcceptMode::ReusePort;
    let first = open(addr, reuse_port)?;
    let local = first
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("bound socket has no inet address"))?;
    let mut sockets = vec![first];
    for _ in 1..workers {
        let next = if reuse_port {
            open(local, true)?
        } else {
            sockets[0].try_clone()?
        };
        sockets.push(next);
    }
    Ok((local, sockets))
}

fn tcp_socket(addr: SocketAddr, reuse_port: bool, backlog: i32) -> io::Result<Socket> {
    let socket = bound_socket(addr, reuse_port, Type::STREAM, Protocol::TCP)?;
    socket.listen(backlog)?;
    Ok(socket)
}

/// A non-blocking socket bound to `addr` (IPv6 only for an IPv6 address, so that
/// `::` and `0.0.0.0` can be bound side by side).
fn bound_socket(
    addr: SocketAddr,
    reuse_port: bool,
    kind: Type,
    protocol: Protocol,
) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

#[cfg(test)]
impl PerWorkerSocket {
    fn local_tcp(&self) -> Option<SocketAddr> {
        match self {
            PerWorkerSocket::Tcp(l) => l.local_addr().ok(),
            PerWorkerSocket::Unix(_) | PerWorkerSocket::Udp(_) => None,
        }
    }
}

/// One UDP socket per worker on the same port (the kernel spreads datagrams
/// over them), or one shared by all.
fn bind_udp(
    addr: SocketAddr,
    workers: usize,
    mode: AcceptMode,
) -> io::Result<(LocalAddr, Vec<PerWorkerSocket>)> {
    let (local, sockets) = bind_per_worker(addr, workers, mode, udp_socket)?;
    let sockets = sockets
        .into_iter()
        .map(|s| PerWorkerSocket::Udp(UdpSocket::from_std(s.into())))
        .collect();
    Ok((LocalAddr::Udp(local), sockets))
}

fn udp_socket(addr: SocketAddr, reuse_port: bool) -> io::Result<Socket> {
    bound_socket(addr, reuse_port, Type::DGRAM, Protocol::UDP)
}

fn bind_unix(
    path: &PathBuf,
    mode: u32,
    workers: usize,
) -> io::Result<(LocalAddr, Vec<PerWorkerSocket>)> {
    // Replace a socket left by an earlier run, as memcached does; never
    // delete a regular file someone put there.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)?;
        }
    }
    let listener = bind_unix_with_mode(path, mode)?;
    // Bits beyond 0o777 (which a socket's umask cannot grant) still apply.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    listener.set_nonblocking(true)?;
    let mut sockets = Vec::with_capacity(workers);
    for _ in 1..workers {
        sockets.push(PerWorkerSocket::Unix(UnixListener::from_std(
            listener.try_clone()?,
        )));
    }
    sockets.push(PerWorkerSocket::Unix(UnixListener::from_std(listener)));
    Ok((LocalAddr::Unix(path.clone()), sockets))
}

/// Binds a unix socket whose file has `mode` from the moment it exists:
/// the umask is narrowed around `bind` (a socket file is created with 0o777
/// less the umask), so no client can connect in a window where the file has
/// the umask's looser permissions. The umask is process-wide; listeners are
/// bound before any worker starts, and nothing else in the process creates
/// files meanwhile.
fn bind_unix_with_mode(path: &PathBuf, mode: u32) -> io::Result<std::os::unix::net::UnixListener> {
    use nix::sys::stat::{umask, Mode};
    let mask = Mode::from_bits_truncate((!mode & 0o777) as nix::libc::mode_t);
    let previous = umask(mask);
    let bound = std::os::unix::net::UnixListener::bind(path);
    umask(previous);
    bound
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tests that bind unix sockets run one at a time: the umask they
    /// change is the process's.
    static UNIX_BIND: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn spec(addr: ListenAddr) -> ListenerSpec {
        ListenerSpec {
            addr,
            tag: 7,
            reject_reply: b"no\r\n".to_vec(),
            overflow_reply: Vec::new(),
            backlog: DEFAULT_LISTEN_BACKLOG,
            tls: None,
        }
    }

    #[test]
    fn reuseport_sockets_share_the_picked_port() {
        let addr = ListenAddr::Tcp("127.0.0.1:0".parse().unwrap());
        let bound = BoundListener::bind(spec(addr), 3, AcceptMode::ReusePort).unwrap();
        let LocalAddr::Tcp(local) = bound.local_addr().clone() else {
            panic!()
        };
        assert_ne!(local.port(), 0);
        assert_eq!(bound.tag(), 7);
        let ports: Vec<_> = bound.sockets.iter().filter_map(|s| s.local_tcp()).collect();
        assert_eq!(ports, vec![local; 3]);
    }

    #[test]
    fn busy_port_is_a_bind_error_naming_the_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ListenAddr::Tcp(taken.local_addr().unwrap());
        let err = BoundListener::bind(spec(addr), 1, AcceptMode::Shared)
            .err()
            .unwrap();
        assert!(err
            .to_string()
            .contains(&taken.local_addr().unwrap().to_string()));
    }

    #[test]
    fn unix_socket_has_its_mode_when_bind_returns() {
        let dir = std::env::temp_dir().join(format!("tailcache-rt-umask-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sock");
        let _one_at_a_time = UNIX_BIND.lock().unwrap_or_else(|e| e.into_inner());
        // A permissive umask, as a service manager may give.
        let previous = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        let bound = bind_unix_with_mode(&path, 0o600);
        // Read before anything could change it: this is what a client
        // connecting right after bind would have found.
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        nix::sys::stat::umask(previous);
        drop(bound.unwrap());
        assert_eq!(mode.unwrap(), 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unix_socket_gets_its_mode() {
        let _one_at_a_time = UNIX_BIND.lock().unwrap_or_else(|e| e.into_inner());
        let dir = std::env::temp_dir().join(format!("tailcache-rt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sock");
        let addr = ListenAddr::Unix {
            path: path.clone(),
            mode: 0o600,
        };
        let bound = BoundListener::bind(spec(addr.clone()), 2, AcceptMode::ReusePort).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        drop(bound);
        // A stale socket file is replaced on the next bind.
        let again = BoundListener::bind(spec(addr), 1, AcceptMode::ReusePort).unwrap();
        assert_eq!(again.local_addr(), &LocalAddr::Unix(path.clone()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
