#!/usr/bin/env python3
"""Three tailcache instances against three memcached, as one cluster each.

Starts three tailcache and three memcached 1.6 on loopback (each `-t 1 -m 64`), runs
`tailcache-bench --cluster` over each set, alternating A B A B for `--rounds` rounds
(compare mode), prints the bench's summary and writes its reports under --out. Every
process started here is stopped at exit.

Usage: scripts/bench-cluster.py [--rate 20000] [--rounds 3] [--duration 4s]
                                [--out target/bench-cluster]
Environment: TAILCACHE_BIN, BENCH_BIN (default: build target/release), MEMCACHED_BIN.
"""

import argparse
import os
import shutil
import subprocess
import sys

from loopback_servers import free_port, wait_serving

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTANCES = 3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", default="20000")
    parser.add_argument("--rounds", default="3")
    parser.add_argument("--duration", default="4s")
    parser.add_argument("--out", default=os.path.join(ROOT, "target/bench-cluster"))
    args = parser.parse_args()
    tailcache = os.environ.get("TAILCACHE_BIN")
    bench = os.environ.get("BENCH_BIN")
    if not tailcache or not bench:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "tailcache", "-p", "tailcache-bench"], cwd=ROOT, check=True)
        tailcache = tailcache or os.path.join(ROOT, "target/release/tailcache")
        bench = bench or os.path.join(ROOT, "target/release/tailcache-bench")
    memcached = os.environ.get("MEMCACHED_BIN") or shutil.which("memcached")
    if not memcached:
        sys.exit("bench-cluster: memcached is not installed")
    user = ["-u", "root"] if os.geteuid() == 0 else []
    processes = []
    try:
        clusters = {}
        for name, argv in (
            ("tailcache", [tailcache, "-U", "0", "--admin-addr", "off"]),
            ("memcached", [memcached, "-U", "0", "-l", "127.0.0.1"] + user),
        ):
            ports = []
            for _ in range(INSTANCES):
                port = free_port()
                process = subprocess.Popen([*argv, "-t", "1", "-m", "64", "-p", str(port)],
                                           stdout=subprocess.DEVNULL)
                processes.append(process)
                wait_serving(port, process, "bench-cluster")
                ports.append(port)
            clusters[name] = ",".join(f"127.0.0.1:{p}" for p in ports)
        command = [bench,
                   "--cluster", clusters["memcached"], "--label", f"memcached-x{INSTANCES}",
                   "--cluster", clusters["tailcache"], "--label", f"tailcache-x{INSTANCES}",
                   "--rounds", args.rounds, "--duration", args.duration, "--warmup", "1s",
                   "--rate", args.rate, "--arrival", "poisson", "--connections", "2",
                   "--keys", "100k", "--value-size", "100", "--mix", "get=90,set=10",
                   "--prefill", "--out", args.out]
        print("$ " + " ".join(command), flush=True)
        subprocess.run(command, check=True)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
