#!/usr/bin/env bash
# TLS benchmark: tailcache and memcached, each plain and over TLS (memcached's own
# flags, -Z -o ssl_chain_cert=,ssl_key=, for both), loaded by tailcache-bench on
# loopback. Per round, in this order: open loop at a fixed rate (P99.9) plain then TLS,
# closed loop (throughput) plain then TLS, each against memcached then tailcache; the
# figures are medians over ROUNDS rounds, with the ratios tailcache/memcached and
# TLS/plain. Writes them into docs/benchmarks.md between the tls-bench markers
# (appended as the "TLS" section the first time). Certificates are made with openssl
# in a temporary directory, removed at exit with the servers.
#
# Usage: scripts/bench-tls.sh [--memcached-only] [--quick] [--doc FILE]
#   --memcached-only  a second memcached stands in for tailcache (tests the script
#                     without tailcache's TLS; ratios between the two should be ~1.00x)
#   --quick           one round of short runs (for trying the script; not for the docs)
#   --doc FILE        write into FILE instead of docs/benchmarks.md
# Environment: TAILCACHE_BIN (default: build target/release/tailcache), ROUNDS (3),
# DURATION (4s), WARMUP (1s), RATE (open loop, 20k req/s), CONNECTIONS (16),
# PIPELINE (closed loop, per connection, 1), KEYS (50k), PIN (auto: with 2 cores or
# more, servers on the last core, the generator on the others; 0: no pinning).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=tailcache
QUICK=0
DOC=docs/benchmarks.md
while [ $# -gt 0 ]; do
    case "$1" in
        --memcached-only) MODE=memcached-only ;;
        --quick) QUICK=1 ;;
        --doc) DOC="$2"; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 64 ;;
    esac
    shift
done

# The overrides given, to print with the command that reproduces the figures.
ENV_GIVEN=
for var in ROUNDS DURATION WARMUP RATE CONNECTIONS PIPELINE KEYS PIN; do
    if [ -n "${!var:-}" ]; then ENV_GIVEN="$ENV_GIVEN$var=${!var} "; fi
done
THREADS=1
MEMORY_MB=256
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4s}
WARMUP=${WARMUP:-1s}
RATE=${RATE:-20k}
CONNECTIONS=${CONNECTIONS:-16}
PIPELINE=${PIPELINE:-1}
KEYS=${KEYS:-50k}
PIN=${PIN:-auto}
if [ "$QUICK" = 1 ]; then ROUNDS=1; DURATION=1s; WARMUP=500ms; fi
# Longest one tailcache-bench invocation may take (two targets, prefill included);
# with the defaults one takes about 12 s, the whole script about 3 minutes.
STEP_LIMIT_S=120

TARGET_DIR=${CARGO_TARGET_DIR:-target}
BENCH="$TARGET_DIR/release/tailcache-bench"
OUT=$TARGET_DIR/bench-tls
LOGS="$OUT/logs"
rm -rf "$OUT"
mkdir -p "$OUT" "$LOGS"

log() { printf '\n==> %s\n' "$*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

for tool in memcached openssl python3 timeout; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
memcached -h | grep -- '--enable-ssl' >/dev/null || die "this memcached is built without TLS (-Z)"

log "building tailcache-bench"
cargo build --release -p tailcache-bench >&2
if [ "$MODE" = tailcache ] && [ -z "${TAILCACHE_BIN:-}" ]; then
    log "building tailcache"
    cargo build --release -p tailcache >&2
    TAILCACHE_BIN="$TARGET_DIR/release/tailcache"
fi

# Exactly the processes this script starts, and its certificate directory, removed on
# any exit.
PIDS=()
CERTS=
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$CERTS" ]; then rm -rf "$CERTS"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "making a CA and a server certificate for localhost and 127.0.0.1"
CERTS=$(mktemp -d "${TMPDIR:-/tmp}/bench-tls.XXXXXX")
(
    cd "$CERTS"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null
    openssl req -x509 -new -key ca.key -days 2 -subj "/CN=bench-tls CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key 2>/dev/null
    openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
        "subjectAltName=DNS:localhost,IP:127.0.0.1" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile server.ext -out server.pem 2>/dev/null
) >&2
TLS_SERVER_FLAGS=(-Z -o "ssl_chain_cert=$CERTS/server.pem,ssl_key=$CERTS/server.key")
TLS_BENCH_FLAGS=(--tls --tls-ca "$CERTS/ca.pem")

# Core sets for servers and generator (empty: no pinning).
SERVER_CPUS=
BENCH_CPUS=
CORES=$(nproc)
if [ "$PIN" != 0 ] && command -v taskset >/dev/null && [ "$CORES" -gt "$THREADS" ]; then
    SERVER_CPUS="$((CORES - THREADS))-$((CORES - 1))"
    BENCH_CPUS="0-$((CORES - THREADS - 1))"
fi
pinned() { # cpu list, then the command (foreground only)
    local cpus=$1
    shift
    if [ -n "$cpus" ]; then taskset -c "$cpus" "$@"; else "$@"; fi
}
# For the servers, started in the background: a prefix, not the function, so that $! is
# the server itself (taskset execs it), not a subshell whose death leaves it running.
SERVER_PIN=()
if [ -n "$SERVER_CPUS" ]; then SERVER_PIN=(taskset -c "$SERVER_CPUS"); fi

USED_PORTS=" "
free_port() { # a port no earlier call returned
    local port
    while :; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        case "$USED_PORTS" in *" $port "*) ;; *) USED_PORTS="$USED_PORTS$port "; echo "$port"; return ;; esac
    done
}

wait_listening() { # name port pid
    for _ in $(seq 1 100); do
        kill -0 "$3" 2>/dev/null || die "$1 exited at start; see $LOGS/$1.log: $(tail -3 "$LOGS/$1.log")"
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$2),0.2)" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "$1 did not listen on 127.0.0.1:$2 within 10 s"
}

MEMCACHED_USER=()
if [ "$(id -u)" = 0 ]; then MEMCACHED_USER=(-u root); fi
SERVER_CMDS=()

start_memcached() { # name port, then extra flags
    local name=$1 port=$2
    shift 2
    "${SERVER_PIN[@]}" memcached "$@" -p "$port" -U 0 -l 127.0.0.1 -t "$THREADS" -m "$MEMORY_MB" "${MEMCACHED_USER[@]}" >"$LOGS/$name.log" 2>&1 &
    PIDS+=($!)
    wait_listening "$name" "$port" "$!"
    SERVER_CMDS+=("memcached ${*:+$* }-p $port -U 0 -l 127.0.0.1 -t $THREADS -m $MEMORY_MB ${MEMCACHED_USER[*]}")
}

start_tailcache() { # name port, then extra flags
    local name=$1 port=$2 admin
    shift 2
    admin=$(free_port)
    "${SERVER_PIN[@]}" "$TAILCACHE_BIN" "$@" -p "$port" -U 0 -l 127.0.0.1 -t "$THREADS" -m "$MEMORY_MB" --admin-addr "127.0.0.1:$admin" >"$LOGS/$name.log" 2>&1 &
    PIDS+=($!)
    wait_listening "$name" "$port" "$!"
    SERVER_CMDS+=("$TAILCACHE_BIN ${*:+$* }-p $port -U 0 -l 127.0.0.1 -t $THREADS -m $MEMORY_MB --admin-addr 127.0.0.1:$admin")
}

log "starting the servers (plain and TLS of each)"
# Not in $(...): a subshell would hide the PIDs from the cleanup trap.
MC_PLAIN=$(free_port); MC_TLS=$(free_port); TC_PLAIN=$(free_port); TC_TLS=$(free_port)
start_memcached memcached "$MC_PLAIN"
start_memcached memcached-tls "$MC_TLS" "${TLS_SERVER_FLAGS[@]}"
if [ "$MODE" = tailcache ]; then
    LABEL_B=tailcache
    start_tailcache tailcache "$TC_PLAIN"
    start_tailcache tailcache-tls "$TC_TLS" "${TLS_SERVER_FLAGS[@]}"
    VERSION_B="tailcache $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (uncommitted changes in the tree)')"
else
    LABEL_B=memcached-b
    start_memcached memcached-b "$TC_PLAIN"
    start_memcached memcached-b-tls "$TC_TLS" "${TLS_SERVER_FLAGS[@]}"
    VERSION_B="a second $(memcached -V)"
fi

COMMON=(--rounds 1 --duration "$DURATION" --warmup "$WARMUP" --connections "$CONNECTIONS"
    --value-size 100 --keys "$KEYS" --mix "get=90,set=10" --prefill --timeout 5s --quiet)
OPEN=(--rate "$RATE" --arrival poisson)
CLOSED=(--rate 0 --pipeline "$PIPELINE")
COMMANDS=()

bench() { # name (round/scenario/transport), then tailcache-bench flags
    local name=$1
    shift
    mkdir -p "$OUT/$(dirname "$name")"
    if [ "${#COMMANDS[@]}" -lt 4 ]; then
        COMMANDS+=("$BENCH $* ${COMMON[*]} --out \$OUT/$name")
    fi
    log "$name"
    if ! pinned "$BENCH_CPUS" timeout "$STEP_LIMIT_S" "$BENCH" "$@" "${COMMON[@]}" --title "$name" --out "$OUT/$name" \
        2>"$OUT/$name.stderr" >"$OUT/$name.stdout"; then
        cat "$OUT/$name.stderr" >&2
        for f in "$LOGS"/*.log; do echo "# $f" >&2; tail -3 "$f" >&2; done
        die "step $name failed (output in $OUT/$name.stderr)"
    fi
}

targets() { # memcached port, other port
    echo --target "127.0.0.1:$1" --label memcached --target "127.0.0.1:$2" --label "$LABEL_B"
}

START_S=$SECONDS
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$ROUNDS"); do
    # shellcheck disable=SC2046 # targets() prints flags to split
    {
        bench "round$round/open/plain" $(targets "$MC_PLAIN" "$TC_PLAIN") "${OPEN[@]}"
        bench "round$round/open/tls" $(targets "$MC_TLS" "$TC_TLS") "${OPEN[@]}" "${TLS_BENCH_FLAGS[@]}"
        bench "round$round/closed/plain" $(targets "$MC_PLAIN" "$TC_PLAIN") "${CLOSED[@]}"
        bench "round$round/closed/tls" $(targets "$MC_TLS" "$TC_TLS") "${CLOSED[@]}" "${TLS_BENCH_FLAGS[@]}"
    }
done
ELAPSED_S=$((SECONDS - START_S))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

log "writing $DOC"
TABLE="$OUT/table.md"
python3 - "$OUT" "$ROUNDS" "$LABEL_B" >"$TABLE" <<'PYEOF'
import json, statistics, sys
out, rounds, label_b = sys.argv[1], int(sys.argv[2]), sys.argv[3]
servers = ["memcached", label_b]

def figures(scenario, transport):
    """Per server: the list over rounds of (achieved rate, P99.9 ns, errors, send lag P99 ns)."""
    per = {s: [] for s in servers}
    for r in range(1, rounds + 1):
        report = json.load(open(f"{out}/round{r}/{scenario}/{transport}/report.json"))
        for m in report["medians"]:
            p999 = dict((k, v) for k, v in m["latency_ns"])["p99.9"]
            per[m["label"]].append((m["achieved_rate_per_s"], p999, m["errors"], m["send_lag_p99_ns"]))
    return per

def med(values):
    return statistics.median(values)

def latency(ns):
    if ns >= 1_000_000:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1000:.0f} µs" if ns >= 10_000 else f"{ns / 1000:.1f} µs"

def rate(r):
    return f"{r / 1000:.1f}k/s"

def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"

rows = {}
for scenario in ["open", "closed"]:
    for transport in ["plain", "tls"]:
        per = figures(scenario, transport)
        for s in servers:
            runs = per[s]
            rows[(scenario, transport, s)] = (
                med([r for r, _, _, _ in runs]),
                med([p for _, p, _, _ in runs]),
                sum(e for _, _, e, _ in runs),
                med([lag for _, _, _, lag in runs]),
            )

print(f"| median of {rounds} round(s) | memcached plain | memcached TLS | {label_b} plain | {label_b} TLS "
      f"| TLS / plain, memcached | TLS / plain, {label_b} | {label_b} / memcached, TLS | {label_b} / memcached, plain |")
print("|---|---|---|---|---|---|---|---|---|")
def line(title, scenario, index, fmt):
    v = {(t, s): rows[(scenario, t, s)][index] for t in ["plain", "tls"] for s in servers}
    a, b = servers
    cells = [fmt(v[("plain", a)]), fmt(v[("tls", a)]), fmt(v[("plain", b)]), fmt(v[("tls", b)]),
             ratio(v[("tls", a)], v[("plain", a)]), ratio(v[("tls", b)], v[("plain", b)]),
             ratio(v[("tls", b)], v[("tls", a)]), ratio(v[("plain", b)], v[("plain", a)])]
    print(f"| {title} | " + " | ".join(cells) + " |")
line("open loop: P99.9 (lower is better)", "open", 1, latency)
line("open loop: achieved rate", "open", 0, rate)
line("open loop: generator send lag P99", "open", 3, latency)
line("closed loop: throughput (higher is better)", "closed", 0, rate)
line("closed loop: P99.9", "closed", 1, latency)
print()
print("Per round, to show the spread the medians come from:")
print()
combos = [(t, s) for s in servers for t in ["plain", "tls"]]
print("| round | " + " | ".join(f"open P99.9, {s} {t}" for t, s in combos) + " | "
      + " | ".join(f"closed rate, {s} {t}" for t, s in combos) + " |")
print("|---" * (1 + 2 * len(combos)) + "|")
per_round = {(sc, t): figures(sc, t) for sc in ["open", "closed"] for t in ["plain", "tls"]}
for r in range(rounds):
    cells = [latency(per_round[("open", t)][s][r][1]) for t, s in combos]
    cells += [rate(per_round[("closed", t)][s][r][0]) for t, s in combos]
    print(f"| {r + 1} | " + " | ".join(cells) + " |")
errors = {k: v[2] for k, v in rows.items() if v[2]}
print()
if errors:
    print("Error events (summed over rounds): " + ", ".join(
        f"{s} {t} {sc}: {e}" for (sc, t, s), e in sorted(errors.items())) + ".")
else:
    print("No errors in any run (no timeouts, disconnects, lost or unsent requests).")
PYEOF

SECTION="$OUT/section.md"
{
    echo "## TLS"
    echo
    echo "Produced by \`${ENV_GIVEN}scripts/bench-tls.sh$([ "$MODE" = tailcache ] || echo " --$MODE")$([ "$QUICK" = 1 ] && echo " --quick")\` on $(date -u +%Y-%m-%d) (its runs took ${ELAPSED_S} s)."
    echo "Reproduce with the same command (needs memcached built with TLS, as apt's 1.6.18 is, and"
    echo "openssl); ROUNDS, DURATION, RATE, CONNECTIONS, PIPELINE and KEYS override the defaults."
    echo
    echo "Setup: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), Linux $(uname -r)."
    if [ -n "$SERVER_CPUS" ]; then
        echo "Pinned with taskset: servers on CPU $SERVER_CPUS, the generator on CPU $BENCH_CPUS."
    fi
    echo "Load average (1, 5, 15 min) before the runs: $LOAD_BEFORE; after: $LOAD_AFTER. Anything"
    echo "else running on these cores shows in the figures, most in P99.9 and the send lag."
    if python3 -c "import sys; sys.exit(0 if float('${LOAD_BEFORE%% *}') + float('${LOAD_AFTER%% *}') > $(nproc) else 1)"; then
        echo "**The machine was busy with other work during these runs** (load averages above):"
        echo "the figures swing between rounds (see the per-round table) and say little about"
        echo "the servers; rerun on an otherwise idle machine before drawing conclusions."
    fi
    echo "Servers: $(memcached -V) and $VERSION_B, each with $THREADS thread and $MEMORY_MB MiB, one"
    echo "plain and one TLS process of each, TLS with memcached's flags for both (a P-256"
    echo "certificate from a CA made by openssl; the generator verifies it with \`--tls-ca\`)."
    echo "Every connection handshakes before the run's clock starts, so the figures are the"
    echo "cost of encrypting requests and replies, not of handshakes."
    echo "Workload: $CONNECTIONS connections, 100-byte values, $KEYS keys prefilled, 90% get 10% set;"
    echo "open loop at $RATE req/s (Poisson arrivals; latency from each request's intended send"
    echo "time), closed loop with $PIPELINE request(s) outstanding per connection (throughput)."
    echo "Each round runs open plain, open TLS, closed plain, closed TLS, each against memcached"
    echo "then $LABEL_B, $DURATION measured after $WARMUP of warm-up; figures are medians over $ROUNDS round(s)."
    echo "The generator's own TLS work runs on its single core too, so closed-loop TLS"
    echo "throughput is bounded by client and server together; the ratios are what to compare."
    echo "The generator's send lag row shows how late requests left the generator itself;"
    echo "where it comes close to a P99.9, that P99.9 is the machine's, not the server's."
    echo
    cat "$TABLE"
    echo
    echo "Servers:"
    echo
    echo '```sh'
    printf '%s\n' "${SERVER_CMDS[@]}" | sed "s#$CERTS#\$CERTS#g"
    echo '```'
    echo
    echo "Benchmark commands of round 1 (\$OUT = $OUT, \$CERTS = the temporary certificate directory):"
    echo
    echo '```sh'
    printf '%s\n' "${COMMANDS[@]}" | sed "s#$CERTS#\$CERTS#g"
    echo '```'
} >"$SECTION"

python3 - "$DOC" "$SECTION" <<'PYEOF'
import sys, os
doc_path, section_path = sys.argv[1], sys.argv[2]
start, end = "<!-- tls-bench:start -->", "<!-- tls-bench:end -->"
section = open(section_path).read().rstrip("\n")
text = open(doc_path).read() if os.path.exists(doc_path) else "# Benchmarks\n"
if start in text and end in text and text.index(start) < text.index(end):
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
else:
    head, tail = text.rstrip("\n") + "\n\n", "\n"
open(doc_path, "w").write(head + start + "\n" + section + "\n" + end + tail)
PYEOF
cat "$TABLE" >&2
log "done: $DOC (section TLS), raw reports in $OUT"
