#!/usr/bin/env python3
"""Helper of scripts/bench-background-jobs.sh (python3 standard library only).

Subcommands:
  fill      store COUNT keys PREFIX0..PREFIX{COUNT-1} with pipelined sets (replies
            checked batch by batch); --exptime-lead S gives every item the same
            absolute expiry (unix time, now + S rounded up). Prints one JSON line.
  wait-until  sleep until the unix time AT; prints how late or early that was.
  job       run one background job against a server until a deadline, with its own
            connection, and write what it achieved as JSON:
              dump      loop `lru_crawler metadump all`, reading each reply up to END
                        (a server answering ERROR: the job is "not supported")
              multiget  loop `get k1 ... kN` over keys that exist, each reply up to END
              expiry    the items expire on their own; the job polls `stats` to record
                        curr_items and the expiry counters (shows the reclaim happened)
  rate      print half of the achieved rate in a tailcache-bench report.json
  report    medians over rounds, markdown tables, SVG bar charts, and the docs section

Everything talks to 127.0.0.1 only.
"""
import argparse
import glob
import json
import math
import os
import socket
import sys
import time

HOST = "127.0.0.1"


def connect(port, timeout=10.0):
    sock = socket.create_connection((HOST, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


# ---------------------------------------------------------------- fill

def cmd_fill(args):
    exptime = 0
    if args.exptime_lead is not None:
        exptime = int(math.ceil(time.time() + args.exptime_lead))
    value = b"v" * args.value_size
    prefix = args.prefix.encode()
    tail = b" 0 %d %d\r\n%s\r\n" % (exptime, args.value_size, value)
    sock = connect(args.port, timeout=60)
    start = time.monotonic()
    pending = []  # reply counts of batches sent and not yet read
    buf = b""
    stored = 0

    def read_batch(n):
        nonlocal buf, stored
        while buf.count(b"\r\n") < n:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise SystemExit("fill: the server closed the connection")
            buf += chunk
        lines = buf.split(b"\r\n")
        replies, rest = lines[:n], lines[n:]
        buf = b"\r\n".join(rest)
        bad = [r for r in replies if r != b"STORED"]
        if bad:
            raise SystemExit("fill: %d of %d sets failed, first reply %r" % (len(bad), n, bad[0]))
        stored += n

    for first in range(args.start, args.start + args.count, args.batch):
        last = min(first + args.batch, args.start + args.count)
        sock.sendall(b"".join(b"set " + prefix + b"%d" % k + tail for k in range(first, last)))
        pending.append(last - first)
        if len(pending) > 1:  # one batch in flight while the next is built
            read_batch(pending.pop(0))
    while pending:
        read_batch(pending.pop(0))
    seconds = time.monotonic() - start
    sock.close()
    print(json.dumps({"prefix": args.prefix, "items": stored, "seconds": round(seconds, 3),
                      "rate_per_s": round(stored / seconds) if seconds > 0 else 0,
                      "exptime": exptime, "finished_unix": round(time.time(), 3)}))


def cmd_wait_until(args):
    delay = args.at - time.time()
    if delay > 0:
        time.sleep(delay)
    print("%.3f" % delay)


# ---------------------------------------------------------------- jobs

class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()

    def passed(self):
        return self.left() <= 0


def recv_until_end(sock, deadline, first_chunk_check=None):
    """Reads one reply ending in END\\r\\n. Returns (newlines, bytes, complete, head)
    where head is the first bytes of the reply. Stops (complete=False) at the deadline."""
    newlines = 0
    size = 0
    head = b""
    tail = b""
    while True:
        left = deadline.left()
        if left <= 0:
            return newlines, size, False, head
        sock.settimeout(max(0.05, min(left, 1.0)))
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            continue
        if not chunk:
            raise ConnectionError("the server closed the connection")
        if len(head) < 64:
            head = (head + chunk)[:64]
            if first_chunk_check is not None and first_chunk_check(head):
                return newlines, size + len(chunk), True, head
        newlines += chunk.count(b"\n")
        size += len(chunk)
        tail = (tail + chunk[-7:])[-7:]
        if tail.endswith(b"\nEND\r\n") or (size == 5 and tail == b"END\r\n"):
            return newlines, size, True, head


def error_reply(head):
    return (head.startswith(b"ERROR") or head.startswith(b"CLIENT_ERROR")
            or head.startswith(b"SERVER_ERROR") or head.startswith(b"BUSY"))


def job_dump(args, deadline, result):
    sock = connect(args.port)
    result.update(dumps_completed=0, dumps_partial=0, keys_dumped=0, bytes=0, busy_replies=0)
    while not deadline.passed():
        sock.sendall(b"lru_crawler metadump all\r\n")
        newlines, size, complete, head = recv_until_end(sock, deadline, error_reply)
        if head.startswith(b"BUSY"):
            result["busy_replies"] += 1
            time.sleep(0.05)
            continue
        if error_reply(head):
            result["supported"] = False
            result["reply"] = head.split(b"\r\n")[0].decode(errors="replace")
            break
        result["bytes"] += size
        if complete:
            result["dumps_completed"] += 1
            result["keys_dumped"] += max(0, newlines - 1)
        else:
            result["dumps_partial"] += 1
            result["keys_dumped"] += newlines
    sock.close()


def job_multiget(args, deadline, result):
    prefix = args.prefix.encode()
    request = b"get " + b" ".join(prefix + b"%d" % k for k in range(args.count)) + b"\r\n"
    sock = connect(args.port)
    result.update(multigets_completed=0, keys_per_multiget=args.count, hits=0, misses=0,
                  bytes=0, request_bytes=len(request))
    while not deadline.passed():
        sock.sendall(request)
        newlines, size, complete, head = recv_until_end(sock, deadline, error_reply)
        if error_reply(head):
            result["supported"] = False
            result["reply"] = head.split(b"\r\n")[0].decode(errors="replace")
            break
        result["bytes"] += size
        if complete:
            hits = (newlines - 1) // 2  # VALUE line + data line per hit, then END
            result["multigets_completed"] += 1
            result["hits"] += hits
            result["misses"] += args.count - hits
    sock.close()


STAT_NAMES = ("curr_items", "expired_unfetched", "reclaimed", "crawler_reclaimed",
              "expired_items", "segments_expired", "evictions", "get_expired")


def read_stats(sock):
    """`stats`, and on tailcache `stats tailcache` (memcached answers ERROR)."""
    sock.settimeout(5)
    stats = {}
    for command in (b"stats\r\n", b"stats tailcache\r\n"):
        sock.sendall(command)
        buf = b""
        while not (buf.endswith(b"END\r\n") or buf.endswith(b"ERROR\r\n")):
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buf += chunk
        for line in buf.split(b"\r\n"):
            parts = line.split()
            if len(parts) == 3 and parts[0] == b"STAT" and parts[1].decode() in STAT_NAMES:
                try:
                    stats[parts[1].decode()] = int(parts[2])
                except ValueError:
                    pass
    return stats


def job_expiry(args, deadline, result):
    sock = connect(args.port)
    first = read_stats(sock)
    series = []
    last = first
    while not deadline.passed():
        now = time.time()
        last = read_stats(sock)
        series.append([round(now - args.window_start, 2), last.get("curr_items")])
        time.sleep(max(0.0, min(args.poll, deadline.left())))
    sock.close()
    window_end = args.window_start + args.window
    start_items = first.get("curr_items", 0)
    end_items = last.get("curr_items", 0)
    in_window = [n for t, n in series if 0 <= t <= args.window and n is not None]
    result.update(
        exptime=args.exptime,
        expiry_at_window_s=round(args.exptime - args.window_start, 2),
        expiry_in_window=args.window_start <= args.exptime < window_end,
        items_at_start=start_items,
        items_at_end=end_items,
        items_gone=start_items - end_items,
        items_min_in_window=min(in_window) if in_window else None,
        counters_delta={k: last[k] - first[k] for k in first if k in last and k != "curr_items"},
        curr_items_series=series,
    )
    # When curr_items first fell by half of what went away: when the reclaim was seen.
    gone = start_items - end_items
    if gone > 0:
        for t, n in series:
            if n is not None and start_items - n >= gone / 2:
                result["half_gone_at_window_s"] = t
                break


def cmd_job(args):
    deadline = Deadline(args.seconds)
    started = time.monotonic()
    result = {"job": args.kind, "supported": True, "errors": []}
    try:
        {"dump": job_dump, "multiget": job_multiget, "expiry": job_expiry}[args.kind](
            args, deadline, result)
    except (OSError, ConnectionError) as e:
        result["errors"].append("%s: %s" % (type(e).__name__, e))
    result["seconds"] = round(time.monotonic() - started, 3)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


# ---------------------------------------------------------------- rate

def cmd_rate(args):
    with open(args.report) as f:
        runs = json.load(f)["runs"]
    print(int(runs[0]["summary"]["achieved_rate_per_s"] // 2))


# ---------------------------------------------------------------- report

PCTS = (("p99_ns", "P99"), ("p999_ns", "P99.9"), ("p9999_ns", "P99.99"))
SERVERS = ("tailcache", "memcached")
PHASES = ("baseline", "job")


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def ms(ns):
    return "-" if ns is None else "%.2f" % (ns / 1e6)


def ratio(a, b):
    return None if a is None or not b else a / b


def fmt_ratio(r):
    return "-" if r is None else "%.2fx" % r


def load_runs(out_dir):
    """{(job, server, phase): [per-round dicts]} from OUT/runs/rN.JOB.SERVER.PHASE/."""
    runs = {}
    for path in sorted(glob.glob(os.path.join(out_dir, "runs", "r*.*.*.*"))):
        name = os.path.basename(path)
        if not os.path.isdir(path):
            continue
        rnd, job, server, phase = name.split(".")
        rec = {"round": int(rnd[1:]), "job": job, "server": server, "phase": phase}
        report = os.path.join(path, "report.json")
        if os.path.exists(report):
            with open(report) as f:
                run = json.load(f)["runs"][0]
            summ = run["summary"]
            rec.update(summ["latency"])
            rec["achieved"] = summ["achieved_rate_per_s"]
            rec["errors"] = summ["errors"]
            rec["lag_p999_ns"] = run.get("send_lag", {}).get("p999_ns")
        jobfile = os.path.join(path, "job.json")
        if os.path.exists(jobfile):
            with open(jobfile) as f:
                rec["jobstats"] = json.load(f)
        fillfile = os.path.join(path, "fill.json")
        if os.path.exists(fillfile):
            with open(fillfile) as f:
                rec["fills"] = [json.loads(l) for l in f if l.strip()]
        runs.setdefault((job, server, phase), []).append(rec)
    for recs in runs.values():
        recs.sort(key=lambda r: r["round"])
    return runs


def job_summary(job, recs):
    """One line: what the job achieved, medians over rounds."""
    stats = [r["jobstats"] for r in recs if "jobstats" in r]
    if not stats:
        return "no job result"
    if not all(s.get("supported", True) for s in stats):
        reply = next(s.get("reply") for s in stats if not s.get("supported", True))
        return "**not supported** (the server answered `%s`): the with-job figures are a second baseline" % reply
    errs = sum(len(s.get("errors", [])) for s in stats)
    errtext = "" if not errs else "; %d connection error(s): %s" % (errs, next(
        e for s in stats for e in s.get("errors", [])))
    med = lambda key: median([s.get(key) for s in stats])
    secs = med("seconds") or 1
    if job == "dump":
        return ("%.1f dumps completed (+%.1f cut at the deadline) in %.1f s, %s keys dumped/s, %.0f MB/s%s" % (
            med("dumps_completed"), med("dumps_partial"), secs,
            "{:,.0f}".format(med("keys_dumped") / secs), med("bytes") / secs / 1e6, errtext))
    if job == "multiget":
        return ("%s multigets of %s keys/s (%s keys/s, %.1f%% hits), %.0f MB/s of replies%s" % (
            "{:,.1f}".format(med("multigets_completed") / secs), "{:,}".format(stats[0]["keys_per_multiget"]),
            "{:,.0f}".format(med("hits") / secs),
            100.0 * med("hits") / max(1, med("hits") + med("misses")), med("bytes") / secs / 1e6, errtext))
    if job == "expiry":
        at = med("expiry_at_window_s")
        inside = all(s.get("expiry_in_window") for s in stats)
        half = med("half_gone_at_window_s")
        counters = {}
        for s in stats:
            for k, v in s.get("counters_delta", {}).items():
                counters.setdefault(k, []).append(v)
        ctext = ", ".join("%s +%s" % (k, "{:,.0f}".format(median(v))) for k, v in sorted(counters.items()) if median(v))
        return ("expiry second at %+.1f s of the window (%s); curr_items %s -> %s (%s gone%s)%s%s" % (
            at, "inside it" if inside else "**not inside it in every round**",
            "{:,.0f}".format(med("items_at_start")), "{:,.0f}".format(med("items_at_end")),
            "{:,.0f}".format(med("items_gone")),
            "" if half is None else ", half of them by %+.1f s" % half,
            "; counters: " + ctext if ctext else "", errtext))
    return ""


def job_text(job, args):
    if job == "dump":
        return ("{:,} items (`dump:N`, 100 B) stored before the baseline; the job loops "
                "`lru_crawler metadump all`, reading each reply to `END`.".format(args.items))
    if job == "expiry":
        return ("After the baseline, {:,} items (`exp:N`, 100 B) are stored with one absolute expiry "
                "(unix time) a third into the coming window; the job itself only polls `stats` (4/s) "
                "to show the items going.".format(args.items))
    return ("{:,} keys (`mg:N`, 100 B) stored before the baseline; one client loops `get` of all "
            "of them in one request, reading each reply to `END`.".format(args.multiget_keys))


def bar_chart(path, title, groups, series, values):
    """Grouped bars: groups (x labels), series (name, colour), values[series][group] in ms."""
    width, height, left, right, top, bottom = 820, 440, 70, 20, 50, 90
    plot_w, plot_h = width - left - right, height - top - bottom
    vmax = max([v for row in values for v in row if v is not None] + [0.001])
    # A round axis maximum: 1, 2 or 5 times a power of ten.
    mag = 10 ** math.floor(math.log10(vmax))
    top_v = next(m * mag for m in (1, 2, 5, 10) if m * mag >= vmax)
    ticks = [top_v * i / 5 for i in range(6)]
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="sans-serif" font-size="12">' % (width, height, width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="24" font-size="15" text-anchor="middle">%s</text>' % (width / 2, esc(title))]
    for t in ticks:
        y = top + plot_h - plot_h * t / top_v
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (left, y, left + plot_w, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>' % (left - 6, y + 4, round(t, 6)))
    out.append('<text x="18" y="%d" transform="rotate(-90 18 %d)" text-anchor="middle">latency (ms)</text>'
               % (top + plot_h / 2, top + plot_h / 2))
    group_w = plot_w / len(groups)
    bar_w = group_w * 0.8 / len(series)
    for gi, g in enumerate(groups):
        x0 = left + gi * group_w + group_w * 0.1
        out.append('<text x="%.1f" y="%d" text-anchor="middle" font-size="13">%s</text>'
                   % (left + gi * group_w + group_w / 2, top + plot_h + 18, esc(g)))
        for si, (name, colour) in enumerate(series):
            v = values[si][gi]
            if v is None:
                continue
            h = plot_h * v / top_v
            x = x0 + si * bar_w
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %.2f ms</title></rect>'
                       % (x + 1, top + plot_h - h, bar_w - 2, h, colour, esc(name), esc(g), v))
            out.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%.2f</text>'
                       % (x + bar_w / 2, top + plot_h - h - 3, v))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (left, top + plot_h, left + plot_w, top + plot_h))
    lx = left
    for name, colour in series:
        out.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (lx, height - 30, colour))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 16, height - 20, esc(name)))
        lx += 16 + 7 * len(name) + 24
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cmd_report(args):
    runs = load_runs(args.out_dir)
    jobs = [j for j in args.jobs.split(",") if j]
    os.makedirs(args.chart_dir, exist_ok=True)
    lines = []
    verdicts = []
    raw = ["| job | round | server | run | achieved/s | P99 | P99.9 | P99.99 | max | errors | generator send lag P99.9 |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for job in jobs:
        lines.append("### %s" % job)
        lines.append("")
        lines.append(job_text(job, args))
        lines.append("")
        lines.append("| server | run | P99 (ms) | P99.9 (ms) | P99.99 (ms) | errors | send lag P99.9 (ms) |")
        lines.append("|---|---|---|---|---|---|---|")
        med = {}
        for server in SERVERS:
            for phase in PHASES:
                recs = runs.get((job, server, phase), [])
                med[server, phase] = {k: median([r.get(k) for r in recs]) for k, _ in PCTS}
                med[server, phase]["lag"] = median([r.get("lag_p999_ns") for r in recs])
                errors = sum(r.get("errors", 0) or 0 for r in recs)
                label = "baseline" if phase == "baseline" else "with %s" % job
                lines.append("| %s | %s | %s | %s | %s | %d | %s |" % (
                    server, label, *[ms(med[server, phase][k]) for k, _ in PCTS], errors,
                    ms(med[server, phase]["lag"])))
                for r in recs:
                    raw.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                        job, r["round"], server, phase, "%.0f" % r["achieved"] if "achieved" in r else "-",
                        ms(r.get("p99_ns")), ms(r.get("p999_ns")), ms(r.get("p9999_ns")),
                        ms(r.get("max_ns")), r.get("errors", "-"), ms(r.get("lag_p999_ns"))))
            lines.append("| %s | **with job / baseline** | %s | **%s** | %s | | |" % (
                server, *[fmt_ratio(ratio(med[server, "job"][k], med[server, "baseline"][k])) for k, _ in PCTS]))
        lines.append("")
        supported = {}
        for server in SERVERS:
            recs = runs.get((job, server, "job"), [])
            supported[server] = bool(recs) and all(r.get("jobstats", {}).get("supported", False) for r in recs)
            lines.append("- job on %s: %s" % (server, job_summary(job, recs)))
        lagged = [(r["server"], r["phase"], r["round"], r["lag_p999_ns"] / r["p999_ns"])
                  for s in SERVERS for p in PHASES for r in runs.get((job, s, p), [])
                  if r.get("lag_p999_ns") and r.get("p999_ns")]
        worst = max(lagged, key=lambda x: x[3], default=None)
        if worst and worst[3] > 0.5:
            lines.append("- **caution**: the generator's own send lag P99.9 reached %.0f%% of the run's P99.9 "
                         "(%s %s, round %d): the machine, not the server, made most of such a figure"
                         % (100 * worst[3], worst[0], worst[1], worst[2]))
        own = ratio(med["tailcache", "job"]["p999_ns"], med["tailcache", "baseline"]["p999_ns"])
        vs = ratio(med["tailcache", "job"]["p999_ns"], med["memcached", "job"]["p999_ns"])
        ok = supported["tailcache"] and supported["memcached"]
        def verdict(value, bound):
            if value is None:
                return "no figure"
            if not ok:
                return "not judged: the job did not run on both servers"
            return "**met**" if value <= bound else "**missed**"
        lines.append("- tailcache P99.9 with the job / its baseline: **%s** (target <= 1.2x: %s)"
                     % (fmt_ratio(own), verdict(own, 1.2)))
        lines.append("- tailcache / memcached P99.9 with the job: **%s** (target <= 0.5x: %s)"
                     % (fmt_ratio(vs), verdict(vs, 0.5)))
        lines.append("")
        chart = "background-%s.svg" % job
        series = [("tailcache baseline", "#0072b2"), ("tailcache with %s" % job, "#56b4e9"),
                  ("memcached baseline", "#d55e00"), ("memcached with %s" % job, "#e69f00")]
        values = [[None if med[s, p][k] is None else med[s, p][k] / 1e6 for k, _ in PCTS]
                  for s in SERVERS for p in PHASES]
        bar_chart(os.path.join(args.chart_dir, chart),
                  "%s: median over rounds, open loop at %s req/s" % (job, args.rate),
                  [name for _, name in PCTS], series, values)
        lines.append("![%s](%s/%s)" % (chart, args.chart_link, chart))
        lines.append("")
        verdicts.append("| %s | %s | %s | %s | %s |" % (
            job, fmt_ratio(own), fmt_ratio(ratio(med["memcached", "job"]["p999_ns"], med["memcached", "baseline"]["p999_ns"])),
            fmt_ratio(vs), "yes" if ok else "no (%s)" % ", ".join(s for s in SERVERS if not supported[s])))
    summary = ["| job | tailcache P99.9 job/baseline (target <= 1.2x) | memcached P99.9 job/baseline "
               "| tailcache/memcached P99.9 with the job (target <= 0.5x) | job ran on both |",
               "|---|---|---|---|---|"] + verdicts
    with open(args.header) as f:
        header = f.read().rstrip("\n")
    section = "\n".join([header, "", "### Summary", ""] + summary + [""] + lines +
                        ["### Every round", "",
                         "Latencies in ms. Medians above are taken per column over these rounds.", ""] + raw)
    with open(os.path.join(args.out_dir, "section.md"), "w") as f:
        f.write(section + "\n")
    with open(os.path.join(args.out_dir, "rounds.md"), "w") as f:
        f.write("\n".join(raw) + "\n")
    replace_section(args.doc, section)
    # The console gets the summary and the per-job tables.
    print("\n".join(["", "Summary:"] + summary + [""] + lines))


def replace_section(doc_path, section):
    start, end = "<!-- background-jobs:start -->", "<!-- background-jobs:end -->"
    text = open(doc_path).read() if os.path.exists(doc_path) else "# Benchmarks\n"
    if start in text and end in text and text.index(start) < text.index(end):
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
    else:
        head, tail = text.rstrip("\n") + "\n\n", "\n"
    with open(doc_path, "w") as f:
        f.write(head + start + "\n" + section.rstrip("\n") + "\n" + end + tail)


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    f = sub.add_parser("fill")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--prefix", required=True)
    f.add_argument("--count", type=int, required=True)
    f.add_argument("--start", type=int, default=0)
    f.add_argument("--value-size", type=int, default=100)
    f.add_argument("--batch", type=int, default=2000)
    f.add_argument("--exptime-lead", type=float, help="absolute expiry this many seconds ahead")
    f.set_defaults(func=cmd_fill)

    w = sub.add_parser("wait-until")
    w.add_argument("--at", type=float, required=True, help="unix time")
    w.set_defaults(func=cmd_wait_until)

    j = sub.add_parser("job")
    j.add_argument("--kind", choices=("dump", "multiget", "expiry"), required=True)
    j.add_argument("--port", type=int, required=True)
    j.add_argument("--seconds", type=float, required=True, help="stop after this long")
    j.add_argument("--out", required=True)
    j.add_argument("--prefix", default="mg:", help="multiget: key prefix")
    j.add_argument("--count", type=int, default=10000, help="multiget: keys per request")
    j.add_argument("--exptime", type=int, default=0, help="expiry: the items' expiry (unix)")
    j.add_argument("--window-start", type=float, default=0, help="expiry: unix time the measurement starts")
    j.add_argument("--window", type=float, default=0, help="expiry: measured seconds")
    j.add_argument("--poll", type=float, default=0.25, help="expiry: seconds between stats")
    j.set_defaults(func=cmd_job)

    r = sub.add_parser("rate")
    r.add_argument("--report", required=True)
    r.set_defaults(func=cmd_rate)

    rep = sub.add_parser("report")
    rep.add_argument("--out-dir", required=True)
    rep.add_argument("--jobs", required=True)
    rep.add_argument("--doc", required=True)
    rep.add_argument("--chart-dir", required=True)
    rep.add_argument("--chart-link", required=True, help="chart directory as linked from the doc")
    rep.add_argument("--header", required=True, help="markdown file that opens the section")
    rep.add_argument("--rate", required=True)
    rep.add_argument("--items", type=int, required=True)
    rep.add_argument("--multiget-keys", type=int, required=True)
    rep.set_defaults(func=cmd_report)

    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
