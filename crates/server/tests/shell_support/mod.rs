//! Starting the built `tailcache` binary for shell tests: free ports, the
//! start-up lines parsed, and the process always stopped.

#![allow(dead_code)] // Each test file uses a different part.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest wait for the server to start or stop.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Read timeout of test clients.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A running server started by a test.
pub struct Server {
    child: Option<Child>,
    /// (what, address) from the "listening:" lines.
    pub listening: Vec<(String, String)>,
    /// Every start-up line on stdout before "ready".
    pub startup_lines: Vec<String>,
}

/// Runs the binary to completion (for flag tests).
pub fn run(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_tailcache"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tailcache");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(output) => output.expect("wait tailcache"),
        Err(_) => {
            send_signal(pid, "KILL");
            panic!("tailcache {args:?} did not exit");
        }
    }
}

impl Server {
    /// Starts with free ports (memcache and admin) plus `args`.
    pub fn start(args: &[&str]) -> Server {
        let mut all = vec!["-p", "0", "--admin-addr", "127.0.0.1:0", "-t", "2"];
        all.extend_from_slice(args);
        Self::start_exact(&all)
    }

    /// Starts with exactly `args`.
    pub fn start_exact(args: &[&str]) -> Server {
        Self::spawn(args, Stdio::inherit())
    }

    /// Starts with free ports plus `args`, its stderr going to `log`.
    pub fn start_logged(args: &[&str], log: &std::path::Path) -> Server {
        let mut all = vec!["-p", "0", "--admin-addr", "127.0.0.1:0", "-t", "2"];
        all.extend_from_slice(args);
        Self::spawn(
            &all,
            Stdio::from(std::fs::File::create(log).expect("log file")),
        )
    }

    fn spawn(args: &[&str], stderr: Stdio) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tailcache"))
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn tailcache");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child: Some(child),
            listening: Vec::new(),
            startup_lines: Vec::new(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("tailcache did not print ready");
            if line.ends_with(" ready") {
                break;
            }
            server.startup_lines.push(line.clone());
            if let Some((_, rest)) = line.split_once("listening: ") {
                let (what, addr) = rest.split_once(' ').unwrap();
                server.listening.push((what.to_owned(), addr.to_owned()));
            }
        }
        server
    }

    /// The address of the first listener of `what` (memcache, resp, http, admin).
    pub fn addr(&self, what: &str) -> SocketAddr {
        let (_, addr) = self
            .listening
            .iter()
            .find(|(w, _)| w == what)
            .expect("no such listener");
        addr.parse().expect("tcp address")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// A connected client with timeouts.
    pub fn connect(&self, what: &str) -> TcpStream {
        let stream = TcpStream::connect(self.addr(what)).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream
    }

    /// Sends `signal` and waits for exit; returns status and time taken.
    pub fn signal_and_wait(&mut self, signal: &str) -> (ExitStatus, Duration) {
        let started = Instant::now();
        send_signal(self.pid(), signal);
        let mut child = self.child.take().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("tailcache did not exit after signal {signal}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Resident memory of the server in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends `signal` (TERM, INT, KILL) to `pid` with kill(1).
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
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
