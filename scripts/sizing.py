#!/usr/bin/env python3
"""Items per GiB: how many items tailcache and memcached hold in the same -m.

For each value size, starts each server with -m MEMORY_MIB on a free loopback port,
writes keys key:0..N-1 (tailcache-bench --prefill) with N three times what the memory
could hold without any overhead, so the cache is full and has evicted, then reads
`stats` curr_items and scales it to one GiB. Prints a markdown table (for
docs/operations.md, "Sizing"). Every process started here is stopped at exit.

Usage: scripts/sizing.py [--sizes 32,100,300,1000,4000] [--memory-mib 128]
Environment: TAILCACHE_BIN, BENCH_BIN (default: build target/release), MEMCACHED_BIN.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys

from loopback_servers import free_port, wait_serving

# Typical length of the keys written (key:0 .. key:N).
KEY_BYTES = 8

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def curr_items(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"stats\r\n")
        reply = b""
        while not reply.endswith(b"END\r\n"):
            reply += conn.recv(65536)
    for line in reply.decode().splitlines():
        if line.startswith("STAT curr_items "):
            return int(line.split()[2])
    sys.exit("sizing: no curr_items")


def held(argv, bench, value_bytes, memory_mib):
    port = free_port()
    process = subprocess.Popen([*argv, "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_serving(port, process, "sizing")
        keys = 3 * memory_mib * (1 << 20) // (value_bytes + 10)
        subprocess.run([bench, "-t", f"127.0.0.1:{port}", "--keys", str(keys), "--value-size",
                        str(value_bytes), "--prefill", "--rate", "1k", "-d", "100ms",
                        "--warmup", "0s", "-q"], check=True, stdout=subprocess.DEVNULL)
        return curr_items(port)
    finally:
        process.kill()
        process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="32,100,300,1000,4000")
    parser.add_argument("--memory-mib", type=int, default=128)
    args = parser.parse_args()
    tailcache = os.environ.get("TAILCACHE_BIN")
    bench = os.environ.get("BENCH_BIN")
    if not tailcache or not bench:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "tailcache", "-p", "tailcache-bench"], cwd=ROOT, check=True)
        tailcache = tailcache or os.path.join(ROOT, "target/release/tailcache")
        bench = bench or os.path.join(ROOT, "target/release/tailcache-bench")
    memcached = os.environ.get("MEMCACHED_BIN") or shutil.which("memcached")
    if not memcached:
        sys.exit("sizing: memcached is not installed")
    m = str(args.memory_mib)
    servers = {
        "tailcache": [tailcache, "-U", "0", "--admin-addr", "off", "-t", "2", "-m", m],
        "tailcache fifo": [tailcache, "-U", "0", "--admin-addr", "off", "-t", "2", "-m", m,
                           "--eviction", "fifo"],
        "memcached": [memcached, "-U", "0", "-l", "127.0.0.1", "-t", "2", "-m", m]
        + (["-u", "root"] if os.geteuid() == 0 else []),
    }
    scale = (1 << 10) / args.memory_mib
    print(f"Keys of 5-11 bytes (key:N), -m {args.memory_mib} filled to eviction, "
          f"scaled to 1 GiB (`scripts/sizing.py --sizes {args.sizes} --memory-mib {args.memory_mib}`):\n")
    print("| value size | tailcache (merge) items / GiB | with --expected-item-size | "
          "tailcache --eviction fifo | memcached | tailcache / memcached | "
          "with --expected-item-size / memcached | fifo / memcached |")
    print("|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        # The index sized for this run's items: the value plus a key of about 8 bytes.
        sized = servers["tailcache"] + ["--expected-item-size", str(size + KEY_BYTES)]
        runs = {**servers, "tailcache sized": sized}
        counts = {name: held(argv, bench, size, args.memory_mib) for name, argv in runs.items()}
        t, hinted, fifo, mc = (counts[name] * scale for name in
                               ("tailcache", "tailcache sized", "tailcache fifo", "memcached"))
        print(f"| {size} B | {t:,.0f} | {hinted:,.0f} | {fifo:,.0f} | {mc:,.0f} | {t / mc:.2f}x "
              f"| {hinted / mc:.2f}x | {fifo / mc:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
