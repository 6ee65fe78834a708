#!/usr/bin/env python3
"""Hostile clients for scripts/bench-attacks.sh (issue 11), plus its helpers.

Every attack talks to 127.0.0.1 only, runs for --seconds at most (and a bounded
number of connections or requests), then stops by itself and prints one JSON
line of what it did (also written to --out when given).

    attack_clients.py multiget    --port P --seconds S [--conns 8] [--value-size 524288]
    attack_clients.py slowloris   --port P --seconds S [--conns 200]
    attack_clients.py silent      --port P --seconds S --conns N
    attack_clients.py churn       --port P --seconds S
    attack_clients.py resp-huge   --port RESP_PORT --seconds S
    attack_clients.py auth-guess  --port RESP_PORT --seconds S --password GOOD
    attack_clients.py tls-garbage --port TLS_PORT --seconds S
    attack_clients.py key-spray   --port P --seconds S
Helpers:
    attack_clients.py rss     --pid PID --seconds S [--interval 0.5] --out FILE
    attack_clients.py metrics --admin HOST:PORT   (selected counters as JSON)
    attack_clients.py p999    --report report.json (prints p999_ms errors achieved)
"""
import argparse
import errno
import json
import os
import random
import resource
import select
import socket
import sys
import time
import urllib.request

HOST = "127.0.0.1"
MAX_CONNECTS = 200_000  # upper bound on connections any attack opens in one run


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need + 64))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def connect(port, timeout=2.0, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((HOST, port))
    return s


def closed_by_peer(sock):
    """True if the peer closed (EOF or reset); reads and discards what is there."""
    try:
        r, _, _ = select.select([sock], [], [], 0)
        if not r:
            return False
        sock.setblocking(False)
        data = sock.recv(65536)
        return data == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def emit(args, result):
    line = json.dumps(result, sort_keys=True)
    print(line, flush=True)
    if getattr(args, "out", None):
        with open(args.out, "w") as f:
            f.write(line + "\n")


class Stats(dict):
    def inc(self, key, n=1):
        self[key] = self.get(key, 0) + n


# (a) pipelined multigets of a large item, never read ----------------------------------
def attack_multiget(args):
    deadline = time.monotonic() + args.seconds
    st = Stats(attack="multiget", conns=args.conns, value_size=args.value_size, keys_per_get=args.keys_per_get)
    # Store the large item first (a normal, reading client).
    s = connect(args.port)
    s.settimeout(10)
    s.sendall(b"set attack:big 0 0 %d\r\n" % args.value_size + b"x" * args.value_size + b"\r\n")
    reply = s.recv(100)
    st["store_reply"] = reply.decode(errors="replace").strip()
    s.close()
    line = b"get" + b" attack:big" * args.keys_per_get + b"\r\n"
    chunk = line * 16
    conns = [None] * args.conns
    opened = 0
    while time.monotonic() < deadline and opened < MAX_CONNECTS:
        progressed = False
        for i in range(args.conns):
            c = conns[i]
            if c is None:
                try:
                    c = connect(args.port, rcvbuf=args.rcvbuf)
                    c.setblocking(False)
                    conns[i] = c
                    opened += 1
                    st.inc("connects")
                except OSError:
                    st.inc("connect_errors")
                    continue
            try:
                n = c.send(chunk)
                st.inc("bytes_sent", n)
                st.inc("gets_sent_approx", n // len(line))
                progressed = True
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                st.inc("closed_by_server")
                c.close()
                conns[i] = None
        if not progressed:
            # Every connection is blocked (the server stopped reading it): look for
            # closes now and then, without reading any reply.
            time.sleep(0.05)
            for i, c in enumerate(conns):
                if c is not None:
                    try:
                        c.send(b"")
                    except OSError:
                        st.inc("closed_by_server")
                        c.close()
                        conns[i] = None
    st["max_open"] = args.conns
    for c in conns:
        if c is not None:
            c.close()
    emit(args, st)


# (b) slowloris: a byte a second per connection ------------------------------------------
def attack_slowloris(args):
    raise_nofile(args.conns)
    deadline = time.monotonic() + args.seconds
    st = Stats(attack="slowloris", conns=args.conns, interval_s=args.interval)
    # Half send a request line that never ends, half a set whose 1 MB block never ends.
    payloads = [b"get " + b"k" * 4000, b"set slow 0 0 1000000\r\n" + b"v" * 1000000]
    conns = [None] * args.conns
    pos = [0] * args.conns
    opened = 0
    max_open = 0
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        for i in range(args.conns):
            if time.monotonic() >= deadline:
                break
            if conns[i] is None:
                if opened >= MAX_CONNECTS:
                    continue
                try:
                    conns[i] = connect(args.port)
                    conns[i].setblocking(False)
                    pos[i] = 0
                    opened += 1
                    st.inc("connects")
                except OSError:
                    st.inc("connect_errors")
                    continue
            c = conns[i]
            if closed_by_peer(c):
                st.inc("closed_by_server")
                c.close()
                conns[i] = None
                continue
            p = payloads[i % 2]
            try:
                c.send(p[pos[i] % len(p):pos[i] % len(p) + 1])
                pos[i] += 1
                st.inc("bytes_sent")
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                st.inc("closed_by_server")
                c.close()
                conns[i] = None
        max_open = max(max_open, sum(c is not None for c in conns))
        time.sleep(max(0.0, args.interval - (time.monotonic() - t0)))
    st["max_open"] = max_open
    for c in conns:
        if c is not None:
            c.close()
    emit(args, st)


# (c) silent connections filling the connection limit -----------------------------------
def attack_silent(args):
    raise_nofile(args.conns)
    deadline = time.monotonic() + args.seconds
    st = Stats(attack="silent", conns=args.conns)
    conns = []
    opened = 0
    max_open = 0
    refused = 0
    while time.monotonic() < deadline:
        # Open up to the target (at most 200 per pass, so a full server is not hammered).
        budget = 200
        while len(conns) < args.conns and budget > 0 and opened < MAX_CONNECTS:
            budget -= 1
            try:
                conns.append(connect(args.port))
                opened += 1
                st.inc("connects")
            except OSError:
                st.inc("connect_errors")
                break
        max_open = max(max_open, len(conns))
        # Drop the ones the server closed (reclaimed or refused), to reopen them.
        alive = []
        readable, _, _ = select.select(conns, [], [], 0) if conns else ([], [], [])
        readable = set(readable)
        for c in conns:
            if c in readable:
                try:
                    c.setblocking(False)
                    data = c.recv(4096)
                except OSError:
                    data = b""
                if b"Too many" in data:
                    refused += 1
                st.inc("closed_by_server")
                c.close()
            else:
                alive.append(c)
        conns = alive
        time.sleep(0.2)
    st["max_open"] = max_open
    st["refused_replies"] = refused
    st["open_at_end"] = len(conns)
    for c in conns:
        c.close()
    emit(args, st)


# (d) connection churn --------------------------------------------------------------------
def attack_churn(args):
    deadline = time.monotonic() + args.seconds
    st = Stats(attack="churn")
    linger = (1).to_bytes(4, "little") + (0).to_bytes(4, "little")  # struct linger {1, 0}
    n = 0
    while time.monotonic() < deadline and n < args.max_connects:
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # Close with RST: no TIME_WAIT, so the client's ports do not run out.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            s.settimeout(1)
            s.connect((HOST, args.port))
            s.close()
            n += 1
        except OSError as e:
            st.inc("errors")
            st.inc("errno_%s" % errno.errorcode.get(e.errno, e.errno))
            s.close()
    st["connects"] = n
    st["rate_per_s"] = round(n / args.seconds)
    st["max_open"] = 1
    emit(args, st)


# (e) huge RESP requests ----------------------------------------------------------------------
def attack_resp_huge(args):
    deadline = time.monotonic() + args.seconds
    st = Stats(attack="resp-huge")
    # kind 0: *1000000 then small bulks trickled; kind 1: a 512 MiB bulk announced and
    # trickled; kind 2: CLIENT SETNAME with a 1 MiB name, in a loop.
    want = {int(k) for k in args.kinds.split(",")}
    kinds = [k for k in (0, 1) if k in want for _ in range(args.conns)]
    kinds += [2] * max(1, args.conns // 2) if 2 in want else []
    conns = [None] * len(kinds)
    setname = b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$1048576\r\n" + b"n" * 1048576 + b"\r\n"
    opened = 0
    replies = {}
    last_trickle = 0.0
    while time.monotonic() < deadline:
        now = time.monotonic()
        trickle = now - last_trickle >= 0.1
        if trickle:
            last_trickle = now
        for i, kind in enumerate(kinds):
            c = conns[i]
            if c is None:
                if opened >= MAX_CONNECTS:
                    continue
                try:
                    c = connect(args.port)
                    opened += 1
                    st.inc("connects")
                    if kind == 0:
                        c.sendall(b"*1000000\r\n")
                    elif kind == 1:
                        c.sendall(b"*2\r\n$3\r\nGET\r\n$536870912\r\n")
                    c.setblocking(False)
                    conns[i] = c
                except OSError:
                    st.inc("connect_errors")
                    continue
            try:
                if kind == 2:
                    c.setblocking(True)
                    c.settimeout(2)
                    c.sendall(setname)
                    st.inc("setname_sent")
                    data = c.recv(200)
                    if not data:
                        raise ConnectionResetError
                    key = data.split(b"\r\n")[0].decode(errors="replace")[:60]
                    replies[key] = replies.get(key, 0) + 1
                    c.setblocking(False)
                elif trickle:
                    if closed_by_peer(c):
                        raise ConnectionResetError
                    if kind == 0:
                        c.send(b"$5\r\nhello\r\n" * 10)  # 100 bulks/s per connection
                        st.inc("bulks_sent", 10)
                    else:
                        c.send(b"x" * 100)  # 1 KB/s into the 512 MiB bulk
                        st.inc("bulk_bytes_sent", 100)
            except (BlockingIOError, InterruptedError):
                pass
            except (OSError, socket.timeout):
                st.inc("closed_by_server_kind%d" % kind)
                c.close()
                conns[i] = None
        time.sleep(0.02)
    st["setname_replies"] = replies
    st["max_open"] = len(kinds)
    for c in conns:
        if c is not None:
            c.close()
    emit(args, st)


# (f) password guessing on RESP ------------------------------------------------------------
def resp_cmd(*parts):
    out = b"*%d\r\n" % len(parts)
    for p in parts:
        p = p if isinstance(p, bytes) else p.encode()
        out += b"$%d\r\n%s\r\n" % (len(p), p)
    return out


def read_lines(sock, n):
    buf = b""
    while buf.count(b"\r\n") < n:
        data = sock.recv(65536)
        if not data:
            raise ConnectionResetError
        buf += data
    return buf.split(b"\r\n")[:n]


def good_auth(port, password):
    """A well-behaved client: connect, AUTH with the right password, SET, GET."""
    t0 = time.monotonic()
    s = connect(port, timeout=2)
    s.sendall(resp_cmd("AUTH", password) + resp_cmd("SET", "victim", "ok") + resp_cmd("GET", "victim"))
    lines = read_lines(s, 4)
    s.close()
    ok = lines[0] == b"+OK" and lines[1] == b"+OK" and lines[3] == b"ok"
    return ok, (time.monotonic() - t0) * 1000


def attack_auth_guess(args):
    deadline = time.monotonic() + args.seconds
    st = Stats(attack="auth-guess", conns=args.conns)
    batch = 50
    conns = [None] * args.conns
    opened = 0
    guesses = 0
    good_ms = []
    good_fail = 0
    next_good = time.monotonic() + 1
    rng = random.Random(7)
    while time.monotonic() < deadline and guesses < args.max_guesses:
        for i in range(args.conns):
            c = conns[i]
            try:
                if c is None:
                    if opened >= MAX_CONNECTS:
                        continue
                    c = connect(args.port)
                    conns[i] = c
                    opened += 1
                    st.inc("connects")
                req = b"".join(resp_cmd("AUTH", "guess%08x" % rng.getrandbits(32)) for _ in range(batch))
                c.sendall(req)
                lines = read_lines(c, batch)
                guesses += batch
                st.inc("wrongpass", sum(1 for line in lines if line.startswith(b"-WRONGPASS")))
            except (OSError, socket.timeout):
                st.inc("closed_by_server")
                if c is not None:
                    c.close()
                conns[i] = None
        if time.monotonic() >= next_good:
            next_good += 1
            try:
                ok, ms = good_auth(args.port, args.password)
                good_ms.append(ms)
                good_fail += 0 if ok else 1
            except (OSError, socket.timeout):
                good_fail += 1
    for c in conns:
        if c is not None:
            c.close()
    st["guesses"] = guesses
    st["good_auth_checks"] = len(good_ms) + good_fail
    st["good_auth_failures"] = good_fail
    st["good_auth_max_ms"] = round(max(good_ms), 2) if good_ms else None
    try:
        ok, ms = good_auth(args.port, args.password)
        st["good_auth_after"] = ok
    except (OSError, socket.timeout):
        st["good_auth_after"] = False
    st["max_open"] = args.conns + 1
    emit(args, st)


# (g) garbage and plaintext to the TLS port ----------------------------------------------
def attack_tls_garbage(args):
    deadline = time.monotonic() + args.seconds
    st = Stats(attack="tls-garbage", conns=args.conns)
    rng = random.Random(11)
    plaintexts = [b"get foo\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"*1\r\n$4\r\nPING\r\n", b"stats\r\n"]
    # A TLS record header announcing a 16 KiB handshake record, then random bytes.
    fake_hello = b"\x16\x03\x01\x40\x00\x01\x00\x3f\xfc\x03\x03"
    n = 0
    slow = []  # connections trickling a fake ClientHello a byte every 0.2 s
    next_trickle = 0.0
    while time.monotonic() < deadline and n < args.max_connects:
        kind = n % 4
        try:
            s = connect(args.port, timeout=0.2)
            n += 1
            if kind == 0:
                s.sendall(rng.choice(plaintexts))
            elif kind == 1:
                s.sendall(os.urandom(rng.randint(1, 4096)))
            elif kind == 2:
                # Part of a 16 KiB handshake record: the server waits for the rest; leave.
                s.sendall(fake_hello + os.urandom(512))
                s.close()
                st.inc("partial_hello_abandoned")
                continue
            else:
                if len(slow) < args.slow_conns:
                    s.sendall(fake_hello[:1])
                    slow.append(s)
                    st.inc("slow_opened")
                    continue
                s.sendall(os.urandom(64))
            try:
                data = s.recv(4096)  # the server's alert or close
                st.inc("answered_with_bytes" if data else "closed_without_bytes")
            except socket.timeout:
                st.inc("not_closed_within_1s")
            except OSError:
                st.inc("reset")
            s.close()
        except OSError:
            st.inc("connect_errors")
        now = time.monotonic()
        if now >= next_trickle:
            next_trickle = now + 0.2
            kept = []
            for c in slow:
                try:
                    c.send(os.urandom(1))
                    kept.append(c)
                except OSError:
                    st.inc("slow_closed_by_server")
                    c.close()
            slow = kept
    for c in slow:
        c.close()
    st["connects"] = n
    st["max_open"] = args.slow_conns + 1
    emit(args, st)


# (h) random distinct keys at a high rate ------------------------------------------------
def attack_key_spray(args):
    deadline = time.monotonic() + args.seconds
    st = Stats(attack="key-spray")
    rng = random.Random()
    value = b"s" * args.value_size
    batch = 500
    s = connect(args.port, timeout=5)
    sets = 0
    stored = 0
    while time.monotonic() < deadline and sets < args.max_sets:
        req = b"".join(
            b"set spray:%032x 0 0 %d\r\n%s\r\n" % (rng.getrandbits(128), len(value), value) for _ in range(batch)
        )
        try:
            s.sendall(req)
            lines = read_lines(s, batch)
        except (OSError, socket.timeout):
            st.inc("closed_by_server")
            s.close()
            s = connect(args.port, timeout=5)
            continue
        sets += batch
        stored += sum(1 for line in lines if line == b"STORED")
    s.close()
    st["sets"] = sets
    st["stored"] = stored
    st["rate_per_s"] = round(sets / args.seconds)
    st["max_open"] = 1
    emit(args, st)


# helpers -------------------------------------------------------------------------------------
def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return None


def helper_rss(args):
    deadline = time.monotonic() + args.seconds
    peak = 0
    samples = 0
    alive = True
    first = None
    while time.monotonic() < deadline:
        try:
            v = rss_kib(args.pid)
        except OSError:
            alive = False
            break
        if v is None:
            alive = False
            break
        first = v if first is None else first
        peak = max(peak, v)
        samples += 1
        time.sleep(args.interval)
    emit(args, {"peak_kib": peak, "first_kib": first, "samples": samples, "alive_throughout": alive})


METRICS = [
    "current_connections", "connections_total", "connections_rejected_total",
    'connections_closed_total{reason="idle"}', 'connections_closed_total{reason="stalled"}',
    'connections_closed_total{reason="deadline"}', 'connections_closed_total{reason="output_cap"}',
    'connections_closed_total{reason="over_budget"}', 'connections_closed_total{reason="idle_reclaimed"}',
    "accept_fd_exhausted_total", "connection_buffer_bytes", "protocol_errors_total",
    'auth_failures_total{protocol="resp"}', 'auth_failures_total{protocol="memcache"}',
    "items_evicted_total", "current_items", "index_bytes", "tls_handshake_errors_total", "service_panics_total",
]


def helper_metrics(args):
    out = {}
    try:
        with urllib.request.urlopen("http://%s/metrics" % args.admin, timeout=5) as r:
            text = r.read().decode()
    except OSError as e:
        emit(args, {"error": str(e)})
        return
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        short = name[len("tailcache_"):] if name.startswith("tailcache_") else name
        if short in METRICS:
            out[short] = float(value) if "." in value else int(value)
    emit(args, out)


def helper_p999(args):
    with open(args.report) as f:
        s = json.load(f)["runs"][0]["summary"]
    lat = s["latency"]
    print("%.4f %d %.0f %.4f" % (lat["p999_ns"] / 1e6, s["errors"], s["achieved_rate_per_s"], lat["p99_ns"] / 1e6))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def attack(name, fn, conns=None):
        a = sub.add_parser(name)
        a.add_argument("--port", type=int, required=True)
        a.add_argument("--seconds", type=float, required=True)
        a.add_argument("--out")
        if conns is not None:
            a.add_argument("--conns", type=int, default=conns)
        a.set_defaults(fn=fn)
        return a

    a = attack("multiget", attack_multiget, 8)
    a.add_argument("--value-size", type=int, default=512 * 1024)
    a.add_argument("--keys-per-get", type=int, default=100)
    a.add_argument("--rcvbuf", type=int, default=4096)
    a = attack("slowloris", attack_slowloris, 200)
    a.add_argument("--interval", type=float, default=1.0)
    attack("silent", attack_silent, 256)
    a = attack("churn", attack_churn)
    a.add_argument("--max-connects", type=int, default=MAX_CONNECTS)
    a = attack("resp-huge", attack_resp_huge, 4)
    a.add_argument("--kinds", default="0,1,2", help="0: *1000000 + slow bulks, 1: 512 MiB bulk trickled, 2: 1 MiB SETNAME")
    a = attack("auth-guess", attack_auth_guess, 4)
    a.add_argument("--password", required=True)
    a.add_argument("--max-guesses", type=int, default=5_000_000)
    a = attack("tls-garbage", attack_tls_garbage, 1)
    a.add_argument("--max-connects", type=int, default=MAX_CONNECTS)
    a.add_argument("--slow-conns", type=int, default=32)
    a = attack("key-spray", attack_key_spray)
    a.add_argument("--value-size", type=int, default=100)
    a.add_argument("--max-sets", type=int, default=20_000_000)

    h = sub.add_parser("rss")
    h.add_argument("--pid", type=int, required=True)
    h.add_argument("--seconds", type=float, required=True)
    h.add_argument("--interval", type=float, default=0.5)
    h.add_argument("--out")
    h.set_defaults(fn=helper_rss)
    h = sub.add_parser("metrics")
    h.add_argument("--admin", required=True)
    h.add_argument("--out")
    h.set_defaults(fn=helper_metrics)
    h = sub.add_parser("p999")
    h.add_argument("--report", required=True)
    h.set_defaults(fn=helper_p999)

    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
