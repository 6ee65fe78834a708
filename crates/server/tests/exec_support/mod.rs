//! Shared by the exec end-to-end tests: start the built `tailcache` (and
//! real memcached) on free loopback ports, talk to them with bounded
//! timeouts, and stop exactly the processes started (kill on drop).

#![allow(dead_code)] // Each test file uses a different part.

pub mod differential;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for a server to accept connections.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Read/write timeout of test clients.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A free loopback port (bound, then released for the server to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

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

    /// Sends `signal` (e.g. `libc`-style name "TERM") to it.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {}", self.name);
    }

    /// Waits up to `timeout` for it to exit; its exit code if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
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

/// A running tailcache with all three data protocols on.
pub struct Tailcache {
    /// The process.
    pub process: Process,
    /// memcache port.
    pub memcache: SocketAddr,
    /// RESP port.
    pub resp: SocketAddr,
    /// HTTP port.
    pub http: SocketAddr,
    /// Admin endpoint.
    pub admin: SocketAddr,
}

/// Starts the built binary on free ports plus `extra` flags.
pub fn start_tailcache(extra: &[&str]) -> Tailcache {
    let (memcache, resp, http, admin) = (free_port(), free_port(), free_port(), free_port());
    let mut args = vec![
        "-p".to_owned(),
        memcache.to_string(),
        "--resp-port".to_owned(),
        resp.to_string(),
        "--http-port".to_owned(),
        http.to_string(),
        "--admin-addr".to_owned(),
        format!("127.0.0.1:{admin}"),
        "-t".to_owned(),
        "2".to_owned(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let child = Command::new(env!("CARGO_BIN_EXE_tailcache"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn tailcache");
    let process = Process {
        child,
        name: "tailcache".to_owned(),
    };
    let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let server = Tailcache {
        process,
        memcache: addr(memcache),
        resp: addr(resp),
        http: addr(http),
        admin: addr(admin),
    };
    for target in [server.memcache, server.resp, server.http, server.admin] {
        wait_until_accepting(target, "tailcache");
    }
    server
}

/// Starts a real redis-server on a free loopback port (no persistence) with
/// `extra` arguments.
pub fn start_redis(extra: &[&str]) -> (Process, SocketAddr) {
    let binary = require_tool("redis-server");
    let port = free_port().to_string();
    let mut args = vec![
        "--port",
        &port,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ];
    args.extend_from_slice(extra);
    let child = Command::new(binary)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn redis-server");
    let process = Process::new(child, "redis-server");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_until_accepting(addr, "redis-server");
    (process, addr)
}

/// Starts real memcached on a free port; fails loudly when it is missing.
pub fn start_memcached(extra: &[&str]) -> (Process, SocketAddr) {
    let binary = require_tool("memcached");
    let port = free_port();
    let port_text = port.to_string();
    let mut args = vec![
        "-U",
        "0",
        "-l",
        "127.0.0.1",
        "-p",
        &port_text,
        "-u",
        "nobody",
    ];
    args.extend_from_slice(extra);
    let child = Command::new(binary)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn memcached");
    let process = Process {
        child,
        name: "memcached".to_owned(),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_until_accepting(addr, "memcached");
    (process, addr)
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
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
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
