//! Starting the built `tailcache` binary: every listener on port 0, the
//! addresses and start-up lines read from stdout, the process always stopped.

use super::{send_signal, Process, IO_TIMEOUT, START_TIMEOUT};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running tailcache started by a test.
pub struct Tailcache {
    /// The process.
    pub process: Process,
    /// (what, address) from the "listening:" lines.
    pub listening: Vec<(String, String)>,
    /// Every start-up line on stdout before "ready".
    pub startup_lines: Vec<String>,
    /// memcache listener (0.0.0.0:0 when off).
    pub memcache: SocketAddr,
    /// RESP listener (0.0.0.0:0 when off).
    pub resp: SocketAddr,
    /// HTTP listener (0.0.0.0:0 when off).
    pub http: SocketAddr,
    /// Admin endpoint (0.0.0.0:0 when off).
    pub admin: SocketAddr,
}

/// Starts the built binary with all three data protocols and the admin
/// endpoint on free ports, two workers, plus `extra` flags.
pub fn start_tailcache(extra: &[&str]) -> Tailcache {
    let mut all = vec![
        "-p",
        "-1",
        "--resp-port",
        "0",
        "--http-port",
        "0",
        "--admin-addr",
        "127.0.0.1:0",
        "-t",
        "2",
    ];
    all.extend_from_slice(extra);
    Tailcache::start_exact(&all)
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

impl Tailcache {
    /// Starts with free memcache and admin ports, two workers, plus `args`.
    pub fn start(args: &[&str]) -> Tailcache {
        let mut all = vec!["-p", "-1", "--admin-addr", "127.0.0.1:0", "-t", "2"];
        all.extend_from_slice(args);
        Self::start_exact(&all)
    }

    /// Starts with exactly `args`.
    pub fn start_exact(args: &[&str]) -> Tailcache {
        Self::spawn(args, Stdio::inherit())
    }

    /// Starts with free ports plus `args`, its stderr going to `log`.
    pub fn start_logged(args: &[&str], log: &std::path::Path) -> Tailcache {
        let mut all = vec!["-p", "-1", "--admin-addr", "127.0.0.1:0", "-t", "2"];
        all.extend_from_slice(args);
        Self::spawn(
            &all,
            Stdio::from(std::fs::File::create(log).expect("log file")),
        )
    }

    fn spawn(args: &[&str], stderr: Stdio) -> Tailcache {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tailcache"))
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn tailcache");
        let stdout = child.stdout.take().unwrap();
        let process = Process::new(child, "tailcache");
        let (tx, rx) = mpsc::channel();
        // Drains stdout for the server's whole life, so it never blocks on a
        // full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut listening = Vec::new();
        let mut startup_lines = Vec::new();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!("tailcache {args:?} did not print ready within {START_TIMEOUT:?}")
            });
            if line.ends_with(" ready") {
                break;
            }
            startup_lines.push(line.clone());
            if let Some((_, rest)) = line.split_once("listening: ") {
                let (what, addr) = rest.split_once(' ').unwrap();
                listening.push((what.to_owned(), addr.to_owned()));
            }
        }
        let find = |what: &str| {
            listening
                .iter()
                .find(|(w, _)| w == what)
                .and_then(|(_, addr)| addr.parse().ok())
                .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
        };
        Tailcache {
            memcache: find("memcache"),
            resp: find("resp"),
            http: find("http"),
            admin: find("admin"),
            process,
            listening,
            startup_lines,
        }
    }

    /// The address of the first listener of `what` (memcache, resp, http,
    /// admin, or a TLS one such as "memcache+tls").
    pub fn addr(&self, what: &str) -> SocketAddr {
        let (_, addr) = self
            .listening
            .iter()
            .find(|(w, _)| w == what)
            .unwrap_or_else(|| panic!("no {what} listener in {:?}", self.listening));
        addr.parse().expect("tcp address")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// A connected client of listener `what`, with timeouts.
    pub fn connect(&self, what: &str) -> TcpStream {
        let stream = TcpStream::connect(self.addr(what)).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream
    }

    /// Sends `signal` and waits for the exit; the status and the time taken.
    pub fn signal_and_wait(&mut self, signal: &str) -> (ExitStatus, Duration) {
        self.process.signal_and_wait(signal)
    }

    /// Resident memory of the server in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.process.rss_kib()
    }
}
