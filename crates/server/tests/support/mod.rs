//! The one harness of the server's end-to-end tests: start the built
//! `tailcache` and real peers (memcached, redis-server, nutcracker,
//! Prometheus) on loopback, talk to them with bounded timeouts, and stop
//! exactly the processes started (kill on drop).
//!
//! Ports: tailcache binds port 0 and reports its addresses on stdout, so it
//! never races. A peer gets a probed free port, and is only taken as started
//! once /proc shows that *its* process listens there; when another process
//! took the port first, the peer exits and the next attempt picks another.

#![allow(dead_code, unused_imports)] // Each test file uses a different part.

pub mod differential;
pub mod peers;
pub mod rng;
pub mod tailcache;

pub use peers::{free_port, spawn_listening, start_memcached, start_redis};
pub use tailcache::{run, start_tailcache, Tailcache};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// Longest wait for a server to start or stop.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Read/write timeout of test clients.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A child process killed when dropped.
pub struct Process {
    child: Child,
    /// What it is, for messages.
    pub name: String,
}

impl Process {
    /// Wraps a spawned child so it is killed on drop.
    pub fn new(child: Child, name: &str) -> Process {
        Process {
            child,
            name: name.to_owned(),
        }
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (a kill(1) name: TERM, INT, KILL, USR1) to it.
    pub fn signal(&self, signal: &str) {
        send_signal(self.pid(), signal);
    }

    /// Waits up to `timeout` for it to exit; its exit status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Sends `signal` and waits for the exit; the status and the time taken.
    /// Kills it and panics when it outlives [`START_TIMEOUT`].
    pub fn signal_and_wait(&mut self, signal: &str) -> (ExitStatus, Duration) {
        let started = Instant::now();
        self.signal(signal);
        match self.wait_exit(START_TIMEOUT) {
            Some(status) => (status, started.elapsed()),
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} did not exit after signal {signal}", self.name);
            }
        }
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Resident memory in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .expect("VmRSS line")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `signal` (TERM, INT, KILL, USR1) to `pid` with kill(1).
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// The path of a required tool; panics (never skips) when it is missing.
pub fn require_tool(name: &str) -> String {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let path = Path::new(dir).join(name);
        if path.is_file() {
            return path.to_string_lossy().into_owned();
        }
    }
    panic!("`{name}` is required by this test and is not installed (scripts/test.sh installs it)");
}

/// Waits until `addr` accepts connections; panics after [`START_TIMEOUT`].
pub fn wait_until_accepting(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not accept on {addr} within {START_TIMEOUT:?}");
}

/// A client connection with bounded timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}
/// Sends `request` and reads until the reply ends with `terminator` or the
/// server closes; panics on a timeout.
pub fn exchange(stream: &mut TcpStream, request: &[u8], terminator: &[u8]) -> Vec<u8> {
    stream.write_all(request).expect("send request");
    read_until(stream, terminator)
}

/// Reads until the data ends with `terminator` or EOF.
pub fn read_until(stream: &mut TcpStream, terminator: &[u8]) -> Vec<u8> {
    let mut reply = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    while !reply.ends_with(terminator) {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "no complete reply (wanted it to end with {:?}): {e}; got so far {:?}",
                String::from_utf8_lossy(terminator),
                String::from_utf8_lossy(&reply)
            ),
        }
    }
    reply
}

/// One GET to the admin endpoint; returns (status line, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// Reads until EOF (or error), returning what arrived.
pub fn read_all(stream: &mut impl Read) -> Vec<u8> {
    let mut all = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return all,
            Ok(n) => all.extend_from_slice(&chunk[..n]),
        }
    }
}
