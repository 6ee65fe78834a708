#!/usr/bin/env python3
"""Warm-restart benchmark: tailcache --heap-file against memcached -e, side by side.

Both servers keep their memory in a file on /dev/shm, with the same -m and -t. Two
measurements, each repeated ROUNDS times with the servers alternating (medians are
reported):

1. Restore. For each item count (64-byte values, keys key:0..N-1, stored with
   tailcache-bench --prefill): stop gracefully (tailcache SIGTERM, memcached SIGUSR1,
   which is what makes memcached save), start again after GAP seconds, and time from
   starting the process to its first answered request; then count the keys that came
   back (one pipelined `mg` per key). Then once more with no pause at all, as a
   restart by a service manager does: memcached 1.6.18 refuses to restore when it
   starts in the same second it stopped ("restart incompatible due to setting for
   [stop_time]").
2. Restart under load. tailcache-bench runs open loop across a graceful restart
   (get=90,set=10 over 1M prefilled keys); every request that failed (refused, lost,
   timed out) or missed counts as disrupted, and disrupted / rate is the outage
   clients saw, in milliseconds.

The results go to stdout and into docs/benchmarks.md between the restart-bench
markers (appended as a section the first time). Files live in a temporary directory
on /dev/shm, removed at exit with every process started here.

Usage: scripts/bench-restart.py [--items 1M,10M] [--rounds 3] [--quick] [--doc FILE]
Environment: TAILCACHE_BIN, BENCH_BIN (default: build target/release), MEMCACHED_BIN
(default: `command -v memcached`), MEMORY_MIB (2048), THREADS (2), GAP_SECS (1.5),
LOAD_RATE (20000), LOAD_SECS (16).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEMORY_MIB = int(os.environ.get("MEMORY_MIB", "2048"))
THREADS = int(os.environ.get("THREADS", "2"))
GAP_SECS = float(os.environ.get("GAP_SECS", "1.5"))
LOAD_RATE = int(os.environ.get("LOAD_RATE", "20000"))
LOAD_SECS = int(os.environ.get("LOAD_SECS", "16"))
VALUE_BYTES = 64
START_TIMEOUT_SECS = 120
MARK_START = "<!-- restart-bench:start -->"
MARK_END = "<!-- restart-bench:end -->"

started = []


def log(message):
    print(f"bench-restart: {message}", file=sys.stderr, flush=True)


def parse_count(text):
    text = text.strip().lower()
    for suffix, scale in (("k", 1_000), ("m", 1_000_000)):
        if text.endswith(suffix):
            return int(float(text[:-1]) * scale)
    return int(text)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def binaries():
    tailcache = os.environ.get("TAILCACHE_BIN")
    bench = os.environ.get("BENCH_BIN")
    if not tailcache or not bench:
        log("cargo build --release --bins")
        subprocess.run(["cargo", "build", "--release", "--bins", "-q"], cwd=ROOT, check=True)
        tailcache = tailcache or os.path.join(ROOT, "target/release/tailcache")
        bench = bench or os.path.join(ROOT, "target/release/tailcache-bench")
    memcached = os.environ.get("MEMCACHED_BIN") or shutil.which("memcached")
    if not memcached:
        sys.exit("bench-restart: memcached is not installed (apt-get install memcached)")
    return tailcache, bench, memcached


class Server:
    """One server process on a heap file; `kind` is tailcache or memcached."""

    def __init__(self, kind, binary, heap_path, port):
        self.kind, self.binary, self.heap_path, self.port = kind, binary, heap_path, port
        self.process = None

    def start(self):
        """Starts the process; returns seconds from start to its first answered request."""
        common = ["-p", str(self.port), "-U", "0", "-l", "127.0.0.1", "-t", str(THREADS),
                  "-m", str(MEMORY_MIB), "-e", self.heap_path]
        if self.kind == "tailcache":
            argv = [self.binary, *common, "--admin-addr", "off"]
        else:
            argv = [self.binary, *common]
            if os.geteuid() == 0:
                argv += ["-u", "root"]
        t0 = time.monotonic()
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(self.process)
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited at start: {self.process.returncode}")
            if time.monotonic() - t0 > START_TIMEOUT_SECS:
                raise RuntimeError(f"{self.kind} did not answer within {START_TIMEOUT_SECS}s")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
                    conn.sendall(b"mg key:0 v\r\n")
                    reply = b""
                    while not reply.endswith(b"\r\n") or reply.startswith(b"VA") and reply.count(b"\r\n") < 2:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        reply += chunk
                    if reply:
                        return time.monotonic() - t0
            except OSError:
                time.sleep(0.001)

    def stop(self):
        """Graceful stop (memcached saves only on SIGUSR1); returns seconds to exit."""
        t0 = time.monotonic()
        self.process.send_signal(signal.SIGTERM if self.kind == "tailcache" else signal.SIGUSR1)
        self.process.wait(timeout=120)
        return time.monotonic() - t0

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stats(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as conn:
            conn.sendall(b"stats\r\n")
            reply = b""
            while not reply.endswith(b"END\r\n"):
                reply += conn.recv(65536)
        stats = {}
        for line in reply.decode().splitlines():
            parts = line.split(" ")
            if len(parts) == 3 and parts[0] == "STAT":
                stats[parts[1]] = parts[2]
        return stats

    def count_present(self, count):
        """Keys key:0..count-1 the server holds, one pipelined `mg` each."""
        present = 0
        batch = 50_000
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as conn:
            for start in range(0, count, batch):
                end = min(start + batch, count)
                conn.sendall(b"".join(b"mg key:%d\r\n" % i for i in range(start, end)))
                reply = bytearray()
                while reply.count(b"\r\n") < end - start:
                    reply += conn.recv(1 << 20)
                present += reply.count(b"HD\r\n")
        return present


def prefill(bench, port, count):
    subprocess.run([bench, "-t", f"127.0.0.1:{port}", "--keys", str(count), "--value-size",
                    str(VALUE_BYTES), "--prefill", "--rate", "1k", "-d", "100ms", "--warmup", "0s",
                    "-q"], check=True, stdout=subprocess.DEVNULL)


def restore_round(kind, binary, bench, directory, count):
    """Fill, stop, restart after the gap and at once; what each restart brought back."""
    heap_path = os.path.join(directory, f"{kind}-heap")
    server = Server(kind, binary, heap_path, free_port())
    try:
        server.start()
        prefill(bench, server.port, count)
        stats = server.stats()
        filled = int(stats["curr_items"])
        if filled != count or int(stats.get("evictions", "0")) != 0:
            raise RuntimeError(f"{kind}: {filled} of {count} items after the fill (-m too small?)")
        result = {"save_secs": server.stop()}
        time.sleep(GAP_SECS)
        result["start_secs"] = server.start()
        result["items_back"] = server.count_present(count)
        server.stop()
        # Straight back up, as a service manager's restart does.
        result["at_once_start_secs"] = server.start()
        result["at_once_items_back"] = server.count_present(count)
        server.kill()
        return result
    finally:
        server.kill()
        for suffix in ("", ".meta", ".incompatible"):
            try:
                os.remove(heap_path + suffix)
            except FileNotFoundError:
                pass


def load_round(kind, binary, bench, directory, gap_secs, out_dir):
    """A restart while tailcache-bench runs; requests disrupted and the outage."""
    heap_path = os.path.join(directory, f"{kind}-load-heap")
    keys = 1_000_000
    server = Server(kind, binary, heap_path, free_port())
    try:
        server.start()
        prefill(bench, server.port, keys)
        warmup_secs = 1
        load = subprocess.Popen(
            [bench, "-t", f"127.0.0.1:{server.port}", "--keys", str(keys), "--value-size",
             str(VALUE_BYTES), "--mix", "get=90,set=10", "--rate", str(LOAD_RATE), "-c", "4",
             "-d", f"{LOAD_SECS}s", "--warmup", f"{warmup_secs}s", "--timeout", "250ms", "-q",
             "-o", out_dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(load)
        time.sleep(warmup_secs + LOAD_SECS / 3)
        t0 = time.monotonic()
        server.stop()
        time.sleep(gap_secs)
        server.start()
        down_secs = time.monotonic() - t0
        load.wait(timeout=LOAD_SECS + 60)
        with open(os.path.join(out_dir, "report.json")) as report:
            run = json.load(report)["runs"][0]
        counters, latency = run["counters"], run["summary"]["latency"]
        errors = sum(counters[k] for k in ("server_errors", "protocol_errors", "timeouts",
                                           "disconnects", "connect_refused", "connect_errors",
                                           "lost", "unsent"))
        # Connection events are not requests; requests that failed are lost or unsent.
        failed = counters["lost"] + counters["unsent"] + counters["server_errors"] + counters["timeouts"]
        disrupted = failed + counters["misses"]
        return {"down_secs": down_secs, "failed": failed, "misses": counters["misses"],
                "errors": errors, "disrupted": disrupted,
                "outage_ms": disrupted / LOAD_RATE * 1000,
                "p9999_ms": latency["p9999_ns"] / 1e6, "max_ms": latency["max_ns"] / 1e6,
                "completed": counters["completed"]}
    finally:
        server.kill()
        for suffix in ("", ".meta", ".incompatible"):
            try:
                os.remove(heap_path + suffix)
            except FileNotFoundError:
                pass


def median(rows, key):
    return statistics.median(row[key] for row in rows)


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"


def report(restore, load, counts, rounds, command):
    lines = [MARK_START, "## Warm restart", "",
             f"Reproduce: `{command}` (medians of {rounds} rounds, servers alternating; "
             f"`-m {MEMORY_MIB} -t {THREADS}`, memory file on /dev/shm, {VALUE_BYTES}-byte values, "
             f"{GAP_SECS:g} s between stop and start unless marked \"at once\"). "
             f"Generated {time.strftime('%Y-%m-%d')} on this machine (2 shared cores).", "",
             "Start to first answered request, and the items that came back:", "",
             "| items | server | save (stop) | start to first reply | items back | start, at once | items back, at once |",
             "|---|---|---|---|---|---|---|"]
    for count in counts:
        for kind in ("tailcache", "memcached"):
            rows = restore[(kind, count)]
            lines.append(
                f"| {count:,} | {kind} | {median(rows, 'save_secs') * 1000:.0f} ms "
                f"| {median(rows, 'start_secs') * 1000:.0f} ms | {median(rows, 'items_back'):,.0f} "
                f"| {median(rows, 'at_once_start_secs') * 1000:.0f} ms "
                f"| {median(rows, 'at_once_items_back'):,.0f} |")
        t, m = restore[("tailcache", count)], restore[("memcached", count)]
        lines.append(f"| {count:,} | tailcache / memcached | {ratio(median(t, 'save_secs'), median(m, 'save_secs'))} "
                     f"| {ratio(median(t, 'start_secs'), median(m, 'start_secs'))} | | | |")
    lines += ["", f"A graceful restart under load (open loop, {LOAD_RATE:,} req/s, get=90,set=10 over "
              f"1M prefilled keys, 4 connections, request timeout 250 ms, {LOAD_SECS} s measured): "
              "requests that failed (lost with a connection, timed out, error replies) or missed, "
              "that count as time at the offered rate; requests sent while the server was down "
              "wait for the reconnect, so the longest latency is the outage a client saw:", "",
              "| server | stop to first reply | failed requests | misses | disrupted / rate | P99.99 | max latency |",
              "|---|---|---|---|---|---|---|"]
    for label in load:
        rows = load[label]
        lines.append(f"| {label} | {median(rows, 'down_secs') * 1000:.0f} ms | {median(rows, 'failed'):,.0f} "
                     f"| {median(rows, 'misses'):,.0f} | {median(rows, 'outage_ms'):,.0f} ms "
                     f"| {median(rows, 'p9999_ms'):,.1f} ms | {median(rows, 'max_ms'):,.0f} ms |")
    lines += ["", MARK_END]
    return "\n".join(lines) + "\n"


def write_doc(path, section):
    text = open(path).read() if os.path.exists(path) else ""
    if MARK_START in text and MARK_END in text:
        before, rest = text.split(MARK_START, 1)
        _, after = rest.split(MARK_END + "\n", 1) if MARK_END + "\n" in rest else rest.split(MARK_END, 1)
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as doc:
        doc.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", default="1M,10M")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 round, 200k items, short load")
    parser.add_argument("--doc", default=os.path.join(ROOT, "docs/benchmarks.md"))
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    global LOAD_SECS
    if args.quick:
        args.rounds, args.items, LOAD_SECS = 1, "200k", 8
    counts = [parse_count(c) for c in args.items.split(",")]
    tailcache, bench, memcached = binaries()
    binary = {"tailcache": tailcache, "memcached": memcached}
    directory = tempfile.mkdtemp(prefix="tc-restart-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    restore = {(kind, count): [] for kind in binary for count in counts}
    load_kinds = {"tailcache": ("tailcache", 0.0), "memcached, at once": ("memcached", 0.0),
                  f"memcached, after {GAP_SECS:g} s": ("memcached", GAP_SECS)}
    load = {label: [] for label in load_kinds}
    try:
        for round_number in range(args.rounds):
            order = ("tailcache", "memcached") if round_number % 2 == 0 else ("memcached", "tailcache")
            for count in counts:
                for kind in order:
                    result = restore_round(kind, binary[kind], bench, directory, count)
                    log(f"round {round_number + 1} restore {count} {kind}: {result}")
                    restore[(kind, count)].append(result)
            for label, (kind, gap) in load_kinds.items():
                out_dir = os.path.join(directory, "load-report")
                result = load_round(kind, binary[kind], bench, directory, gap, out_dir)
                log(f"round {round_number + 1} load {label}: {result}")
                load[label].append(result)
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait()
        shutil.rmtree(directory, ignore_errors=True)
    env = " ".join(f"{k}={os.environ[k]}" for k in ("MEMORY_MIB", "THREADS", "GAP_SECS", "LOAD_RATE", "LOAD_SECS") if k in os.environ)
    command = (env + " " if env else "") + "scripts/bench-restart.py" + \
        (" --quick" if args.quick else f" --items {args.items} --rounds {args.rounds}")
    section = report(restore, load, counts, args.rounds, command)
    print(section)
    if not args.no_doc and not args.quick:
        write_doc(args.doc, section)
        log(f"wrote {args.doc}")


if __name__ == "__main__":
    main()
