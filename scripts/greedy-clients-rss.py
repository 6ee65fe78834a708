#!/usr/bin/env python3
"""Server RSS growth from clients that ask for large replies and never read
(docs/security-hardening-draft.md).

Starts BINARY on PORT with the stall detector off plus the TOML lines given,
stores a 1 MB value, then opens 8 clients that each pipeline 100-key
multigets of it for 0.5 s and never read; prints the RSS growth 2 s later.

    python3 scripts/greedy-clients-rss.py target/release/tailcache 23001
    python3 scripts/greedy-clients-rss.py target/release/tailcache 23001 'connection_buffer_budget_mib = 4'
"""
import socket
import subprocess
import sys
import tempfile
import time

CLIENTS = 8


def main():
    binary, port, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    config = tempfile.NamedTemporaryFile("w", suffix=".toml")
    config.write("\n".join(["stall_threshold_ms = 0", *extra]) + "\n")
    config.flush()
    server = subprocess.Popen(
        [binary, "-p", str(port), "-U", "0", "-m", "64", "-t", "2", "--config", config.name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1)

        def rss_kib():
            with open(f"/proc/{server.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS"):
                        return int(line.split()[1])
            raise RuntimeError("no VmRSS")

        setter = socket.create_connection(("127.0.0.1", port))
        value = b"v" * 1_000_000
        setter.sendall(b"set big 0 0 %d\r\n" % len(value) + value + b"\r\n")
        assert setter.recv(100) == b"STORED\r\n"
        base = rss_kib()
        request = b"get " + b"big " * 100 + b"\r\n"
        clients = []
        for _ in range(CLIENTS):
            greedy = socket.create_connection(("127.0.0.1", port))
            greedy.setblocking(False)
            clients.append(greedy)
            started = time.time()
            while time.time() - started < 0.5:
                try:
                    greedy.send(request)
                except BlockingIOError:
                    time.sleep(0.01)
                except OSError:
                    break
        time.sleep(2)
        print(f"{binary} {extra}: RSS grew {(rss_kib() - base) / 1024:.1f} MiB")
    finally:
        server.kill()


if __name__ == "__main__":
    main()
