//! Real peers on probed free ports: memcached, redis-server, and any other
//! program that takes its port on the command line (nutcracker, Prometheus).

use super::{require_tool, Process, START_TIMEOUT};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How many ports a peer is tried on before the test gives up.
const START_ATTEMPTS: usize = 8;

/// A free loopback port (bound, then released for a peer to take). Another
/// process may take it before the peer does: start peers with
/// [`spawn_listening`], which notices and retries.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// Spawns `make(ports)` with `port_count` free ports until the spawned
/// process itself listens on all of them. Connecting is not proof: the port
/// may belong to a server another test started meanwhile, and then the peer
/// exits with "address in use" and the next attempt picks other ports.
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
        let mut process = Process::new(child, what);
        let deadline = Instant::now() + START_TIMEOUT;
        while process.is_running() && Instant::now() < deadline {
            if ports.iter().all(|&p| listens_on(process.pid(), p)) {
                return (process, ports);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if process.is_running() {
            panic!("{what} did not listen on {ports:?} within {START_TIMEOUT:?}");
        }
    }
    panic!("{what} exited on each of {START_ATTEMPTS} attempts (ports taken, or bad arguments)");
}

/// Whether process `pid` holds a listening TCP socket on local port `port`.
fn listens_on(pid: u32, port: u16) -> bool {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .map(|target| {
                let target = target.to_string_lossy();
                inodes
                    .iter()
                    .any(|inode| target == format!("socket:[{inode}]"))
            })
            .unwrap_or(false)
    })
}

/// The socket inodes listening on local port `port`, from /proc/net/tcp{,6}.
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

/// Starts a real redis-server on loopback (no persistence) with `extra`
/// arguments.
pub fn start_redis(extra: &[&str]) -> (Process, SocketAddr) {
    let binary = require_tool("redis-server");
    let (process, ports) = spawn_listening("redis-server", 1, |ports| {
        let mut command = Command::new(&binary);
        command
            .args(["--port", &ports[0].to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        command
    });
    (process, loopback(ports[0]))
}

/// Starts real memcached on loopback with `extra` flags; fails loudly when it
/// is missing.
pub fn start_memcached(extra: &[&str]) -> (Process, SocketAddr) {
    let binary = require_tool("memcached");
    let (process, ports) = spawn_listening("memcached", 1, |ports| {
        let mut command = Command::new(&binary);
        command
            .args(["-U", "0", "-l", "127.0.0.1", "-u", "nobody"])
            .args(["-p", &ports[0].to_string()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        command
    });
    (process, loopback(ports[0]))
}

/// 127.0.0.1:`port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}
