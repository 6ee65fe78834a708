//! Real peers for the cluster tests: memcached and nutcracker on loopback, stopped
//! (exactly the processes started) when dropped, and a small blocking text client.
//!
//! A peer gets a probed free port and counts as started only once /proc shows that
//! *its* process listens there: a port taken by another test's server in between makes
//! the peer exit, and the next attempt picks another port.

#![allow(dead_code)] // Each test file uses a different part.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for a peer to listen.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Read/write timeout of the test client.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Ports a peer is tried on before the test gives up.
const START_ATTEMPTS: usize = 8;

/// A child process killed when dropped.
pub struct Process {
    child: Child,
    name: String,
}

impl Process {
    /// True while it has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The full path of `name` on PATH; panics (the test fails, never skips) when missing.
pub fn require_tool(name: &str) -> String {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let path = Path::new(dir).join(name);
        if path.is_file() {
            return path.to_string_lossy().into_owned();
        }
    }
    panic!("`{name}` is required by this test and is not installed (scripts/test.sh installs it)");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// Spawns `make(ports)` with `port_count` free ports until the process itself listens
/// on all of them.
pub fn spawn_listening(
    what: &str,
    port_count: usize,
    make: impl Fn(&[u16]) -> Command,
) -> (Process, Vec<u16>) {
    for _ in 0..START_ATTEMPTS {
        let ports: Vec<u16> = (0..port_count).map(|_| free_port()).collect();
        let child = make(&ports)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let mut process = Process {
            child,
            name: what.to_string(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while process.is_running() && Instant::now() < deadline {
            if ports.iter().all(|&p| listens_on(process.child.id(), p)) {
                return (process, ports);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if process.is_running() {
            panic!(
                "{} did not listen on {ports:?} within {START_TIMEOUT:?}",
                process.name
            );
        }
    }
    panic!("{what} exited on each of {START_ATTEMPTS} attempts (ports taken, or bad arguments)");
}

/// Whether process `pid` holds a listening TCP socket on local port `port`.
fn listens_on(pid: u32, port: u16) -> bool {
    let inodes = listening_inodes(port);
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    !inodes.is_empty()
        && fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| {
                let target = target.to_string_lossy();
                inodes.iter().any(|i| target == format!("socket:[{i}]"))
            })
        })
}

/// Socket inodes listening on local port `port`, from /proc/net/tcp{,6}.
fn listening_inodes(port: u16) -> Vec<String> {
    const LISTEN_STATE: &str = "0A";
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 10 || fields[3] != LISTEN_STATE {
                continue;
            }
            let local_port = fields[1]
                .rsplit(':')
                .next()
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            if local_port == Some(port) {
                inodes.push(fields[9].to_owned());
            }
        }
    }
    inodes
}

/// 127.0.0.1:`port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A real memcached on loopback: 64 MB, one thread, no UDP.
pub fn start_memcached() -> (Process, SocketAddr) {
    let binary = require_tool("memcached");
    let (process, ports) = spawn_listening("memcached", 1, |ports| {
        let mut command = Command::new(&binary);
        command
            .args(["-U", "0", "-l", "127.0.0.1", "-u", "nobody", "-m", "64"])
            .args(["-t", "1", "-p", &ports[0].to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        command
    });
    (process, loopback(ports[0]))
}

/// A blocking memcache text-protocol client with bounded timeouts.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Self {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read a reply line");
        assert!(!line.is_empty(), "server closed the connection");
        line.trim_end().to_string()
    }

    /// Stores every key (pipelined) and checks each reply is STORED.
    pub fn set_all(&mut self, keys: &[String]) {
        let mut out = String::new();
        for k in keys {
            out.push_str(&format!("set {k} 0 0 1\r\nx\r\n"));
        }
        self.writer.write_all(out.as_bytes()).unwrap();
        for k in keys {
            assert_eq!(self.line(), "STORED", "set {k}");
        }
    }

    /// The subset of `keys` this server holds.
    pub fn held(&mut self, keys: &[String]) -> Vec<String> {
        let mut held = Vec::new();
        for chunk in keys.chunks(100) {
            self.writer
                .write_all(format!("get {}\r\n", chunk.join(" ")).as_bytes())
                .unwrap();
            loop {
                let line = self.line();
                if line == "END" {
                    break;
                }
                let key = line.split(' ').nth(1).expect("VALUE line").to_string();
                self.line(); // the value
                held.push(key);
            }
        }
        held
    }

    /// `stats` field `name` as a number.
    pub fn stat(&mut self, name: &str) -> u64 {
        self.writer.write_all(b"stats\r\n").unwrap();
        let mut value = None;
        loop {
            let line = self.line();
            if line == "END" {
                break;
            }
            let mut fields = line.split(' ');
            if fields.nth(1) == Some(name) {
                value = fields.next().and_then(|v| v.parse().ok());
            }
        }
        value.unwrap_or_else(|| panic!("stats has no {name}"))
    }
}
