#!/usr/bin/env python3
"""Count how many items memcached holds with -m 64 after the storage memory bench's fill.

Starts its own memcached on 127.0.0.1 (a free port), writes unique 16-byte keys with
32-byte values until 3x what fits in 64 MiB has been written (same as
crates/storage/benches/memory.rs), reads `stats` curr_items, and stops the server.

Usage: scripts/memcached-fill.py [--memory-mb 64] [--memcached memcached]
"""
import argparse
import os
import socket
import subprocess
import sys
import time

KEY_BYTES = 16
VALUE_BYTES = 32
BATCH = 2000


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connect(server, port, deadline_s=10.0):
    start = time.monotonic()
    while True:
        if server.poll() is not None:
            raise RuntimeError("memcached exited: %s" % server.stderr.read().decode(errors="replace"))
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            if time.monotonic() - start > deadline_s:
                raise
            time.sleep(0.05)


def read_until(sock, buf, terminator):
    while terminator not in buf:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("memcached closed the connection")
        buf += chunk
    return buf


def fill(sock, writes):
    value = b"v" * VALUE_BYTES
    pending = b""
    for start in range(0, writes, BATCH):
        count = min(BATCH, writes - start)
        request = b"".join(
            b"set key:%012d 0 0 %d noreply\r\n%s\r\n" % (n, VALUE_BYTES, value)
            for n in range(start, start + count)
        )
        sock.sendall(request)
        # A round trip per batch keeps the socket buffers bounded and surfaces errors.
        sock.sendall(b"mn\r\n")
        pending = read_until(sock, pending, b"MN\r\n")
        if pending != b"MN\r\n":
            raise RuntimeError("unexpected reply: %r" % pending[:200])
        pending = b""


def curr_items(sock):
    sock.sendall(b"stats\r\n")
    reply = read_until(sock, b"", b"END\r\n").decode()
    stats = dict(line.split(" ")[1:3] for line in reply.splitlines() if line.startswith("STAT "))
    return int(stats["curr_items"]), stats


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory-mb", type=int, default=64)
    parser.add_argument("--memcached", default="memcached")
    args = parser.parse_args()
    budget = args.memory_mb << 20
    writes = 3 * (budget // (KEY_BYTES + VALUE_BYTES))
    port = free_port()
    command = [args.memcached, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", str(args.memory_mb), "-t", "1"]
    if os.geteuid() == 0:
        command += ["-u", "root"]  # memcached refuses to run as root without naming a user
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with connect(server, port) as sock:
            fill(sock, writes)
            items, stats = curr_items(sock)
        overhead = (budget - items * (KEY_BYTES + VALUE_BYTES)) / items
        print(
            "memcached %s -m %d: writes=%d items_held=%d overhead_bytes_per_item=%.1f evictions=%s"
            % (stats.get("version"), args.memory_mb, writes, items, overhead, stats.get("evictions"))
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
