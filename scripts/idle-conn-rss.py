#!/usr/bin/env python3
"""Resident memory per idle connection (docs/security-hardening-draft.md).

Starts BINARY on PORT (with the stall detector off: a stall's backtrace
loads the binary's debug info, tens of MiB that would swamp the figure),
opens 1000 connections that say nothing (3 s), then
sends one `get` on each and reads the reply, then leaves them idle 3 s; prints
the RSS delta per connection at each point.

    cargo build --release -p tailcache
    python3 scripts/idle-conn-rss.py target/release/tailcache 23001
"""
import resource
import socket
import subprocess
import sys
import tempfile
import time

CONNECTIONS = 1000


def main():
    binary, port = sys.argv[1], int(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    config = tempfile.NamedTemporaryFile("w", suffix=".toml")
    config.write("stall_threshold_ms = 0\n")
    config.flush()
    server = subprocess.Popen(
        [binary, "-p", str(port), "-U", "0", "-m", "64", "-t", "2", "-c", "4000",
         "--config", config.name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.5)

        def rss_kib():
            with open(f"/proc/{server.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS"):
                        return int(line.split()[1])
            raise RuntimeError("no VmRSS")

        warm = socket.create_connection(("127.0.0.1", port))
        warm.sendall(b"version\r\n")
        warm.recv(100)
        time.sleep(0.5)
        base = rss_kib()
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
        time.sleep(3)
        silent = rss_kib()
        for conn in conns:
            conn.sendall(b"get k\r\n")
        for conn in conns:
            conn.recv(100)
        time.sleep(0.5)
        busy = rss_kib()
        time.sleep(3)
        idle = rss_kib()
        per = lambda kib: (kib - base) / CONNECTIONS
        print(
            f"{binary}: base {base} KiB; silent {per(silent):.1f} KiB/conn; "
            f"after one get {per(busy):.1f} KiB/conn; 3 s idle after {per(idle):.1f} KiB/conn"
        )
    finally:
        server.kill()


if __name__ == "__main__":
    main()
