#!/usr/bin/env bash
# Side-by-side benchmark of tailcache and memcached on loopback, with tailcache-bench in
# compare mode (A B A B ... rounds, medians and ratios). Writes its results into
# docs/benchmarks.md between the server-bench markers, charts into docs/bench/.
#
# Usage: scripts/bench-vs-memcached.sh [--memcached-twice] [--quick] [--doc FILE]
#   --memcached-twice  compare memcached against a second memcached (tests this script
#                      while tailcache is not ready; the ratios should be near 1.00x)
#   --quick            short runs, one round (for trying the script; not for the docs)
#   --doc FILE         write into FILE instead of docs/benchmarks.md
# Environment: TAILCACHE_BIN (default: build target/release/tailcache), THREADS (server
# threads, default 1), ROUNDS (3), DURATION (4s), WARMUP (1s), CONNECTIONS (4), KEYS (50k),
# EVICT_KEYS (2M: about five times what -m 64 holds at 100-byte values), PIN (auto: when
# there are more cores than THREADS, servers run on the last THREADS cores and the
# generator on the others, so the two never wait for each other's core; 0: no pinning).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=tailcache
QUICK=0
DOC=docs/benchmarks.md
while [ $# -gt 0 ]; do
    case "$1" in
        --memcached-twice) MODE=memcached-twice ;;
        --quick) QUICK=1 ;;
        --doc) DOC="$2"; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 64 ;;
    esac
    shift
done

THREADS=${THREADS:-1}
MEMORY_MB=64
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4s}
WARMUP=${WARMUP:-1s}
CONNECTIONS=${CONNECTIONS:-4}
KEYS=${KEYS:-50k}
EVICT_KEYS=${EVICT_KEYS:-2M}
PIN=${PIN:-auto}
if [ "$QUICK" = 1 ]; then ROUNDS=1; DURATION=1s; WARMUP=500ms; fi

TARGET_DIR=${CARGO_TARGET_DIR:-target}
BENCH="$TARGET_DIR/release/tailcache-bench"
OUT=$TARGET_DIR/bench-vs-memcached
DOC_DIR=$(dirname "$DOC")
CHART_DIR="$DOC_DIR/bench"
LOGS="$OUT/logs"
rm -rf "$OUT"
mkdir -p "$OUT" "$LOGS" "$CHART_DIR"

log() { printf '\n==> %s\n' "$*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

command -v memcached >/dev/null || die "memcached is not installed (apt-get install memcached)"
command -v python3 >/dev/null || die "python3 is needed to read the JSON reports"

log "building tailcache-bench"
cargo build --release -p tailcache-bench >&2
if [ "$MODE" = tailcache ] && [ -z "${TAILCACHE_BIN:-}" ]; then
    log "building tailcache"
    cargo build --release -p tailcache >&2
    TAILCACHE_BIN="$TARGET_DIR/release/tailcache"
fi

# Exactly the processes this script starts, stopped on any exit.
PIDS=()
STARTED_CMD=
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
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

start_memcached() { # name port
    "${SERVER_PIN[@]}" memcached -p "$2" -l 127.0.0.1 -m "$MEMORY_MB" -t "$THREADS" -U 0 "${MEMCACHED_USER[@]}" >"$LOGS/$1.log" 2>&1 &
    PIDS+=($!)
    wait_listening "$1" "$2" "$!"
    STARTED_CMD="memcached -p $2 -l 127.0.0.1 -m $MEMORY_MB -t $THREADS -U 0 ${MEMCACHED_USER[*]}"
}

start_tailcache() { # name port admin_port
    "${SERVER_PIN[@]}" "$TAILCACHE_BIN" -p "$2" -l 127.0.0.1 -m "$MEMORY_MB" -t "$THREADS" --admin-addr "127.0.0.1:$3" >"$LOGS/$1.log" 2>&1 &
    PIDS+=($!)
    wait_listening "$1" "$2" "$!"
    STARTED_CMD="$TAILCACHE_BIN -p $2 -l 127.0.0.1 -m $MEMORY_MB -t $THREADS --admin-addr 127.0.0.1:$3"
}

PORT_A=$(free_port)
PORT_B=$(free_port)
while [ "$PORT_B" = "$PORT_A" ]; do PORT_B=$(free_port); done
log "starting servers"
# Not in $(...): a subshell would hide the PIDs from the cleanup trap.
start_memcached memcached "$PORT_A"
CMD_A=$STARTED_CMD
LABEL_A=memcached
if [ "$MODE" = tailcache ]; then
    start_tailcache tailcache "$PORT_B" "$(free_port)"
    CMD_B=$STARTED_CMD
    LABEL_B=tailcache
    VERSION_B="tailcache $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (uncommitted changes)')"
else
    start_memcached memcached-b "$PORT_B"
    CMD_B=$STARTED_CMD
    LABEL_B=memcached-b
    VERSION_B="second $(memcached -V)"
fi

COMMON=(--target "127.0.0.1:$PORT_A" --label "$LABEL_A" --target "127.0.0.1:$PORT_B" --label "$LABEL_B"
    --rounds "$ROUNDS" --duration "$DURATION" --warmup "$WARMUP" --connections "$CONNECTIONS"
    --value-size 100 --prefill --quiet)
COMMANDS=()

bench() { # name, then tailcache-bench flags
    local name=$1
    shift
    log "$name"
    COMMANDS+=("$BENCH ${COMMON[*]} $* --title $name --out \$OUT/$name")
    if ! pinned "$BENCH_CPUS" "$BENCH" "${COMMON[@]}" "$@" --title "$name" --out "$OUT/$name" 2>"$OUT/$name.stderr" >&2; then
        cat "$OUT/$name.stderr" >&2
        record_failure "$name"
    fi
    cat "$OUT/$name.stderr" >&2
}

median_rate() { # report dir, target index
    python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['medians'][int(sys.argv[2])]['achieved_rate_per_s']))" \
        "$1/report.json" "$2"
}

header() { # what the section is about, then the servers and the commands so far
    echo "## tailcache vs memcached ($(date -u +%Y-%m-%d))"
    echo
    echo "Produced by \`scripts/bench-vs-memcached.sh$([ "$MODE" = tailcache ] || echo " --$MODE")$([ "$QUICK" = 1 ] && echo " --quick")\`."
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), Linux $(uname -r)."
    echo "**The servers and the load generator share these $(nproc) cores**, so absolute figures"
    echo "include the generator's own CPU use and scheduling noise; the ratios, from the same"
    echo "schedule run against each server in turn over $ROUNDS round(s), are what to compare."
    echo "Closed-loop runs measure maximum throughput; open-loop runs (at 50% and 80% of"
    echo "memcached's closed-loop pipeline-1 median rate) measure latency from each"
    echo "request's intended send time, so stalls show in P99.9 and P99.99. Each open-loop"
    echo "table also gives the generator's own send lag (how late requests left it); where"
    echo "that is close to a latency figure, the figure is the machine's, not the server's."
    echo "evict-50pct runs a full cache: $EVICT_KEYS keys of 100 bytes (about five times what"
    echo "64 MiB holds), half sets, so nearly every set evicts something."
    echo "The generator's floor is in docs/bench-floor.md."
    echo
    if [ -n "$SERVER_CPUS" ]; then
        echo "Pinned with taskset: servers on CPU $SERVER_CPUS, the generator on CPU $BENCH_CPUS."
        echo
    fi
    echo "Servers: A = $(memcached -V), B = $VERSION_B, both with $MEMORY_MB MiB and $THREADS thread(s):"
    echo
    echo '```sh'
    echo "$CMD_A"
    echo "$CMD_B"
    echo '```'
    echo
    echo "Benchmark commands (\$OUT = $OUT):"
    echo
    echo '```sh'
    printf '%s\n' "${COMMANDS[@]}"
    echo '```'
    echo
}

replace_section() { # file with the new section text
    python3 - "$DOC" "$1" <<'PYEOF'
import sys, os
doc_path, section_path = sys.argv[1], sys.argv[2]
start, end = "<!-- server-bench:start -->", "<!-- server-bench:end -->"
section = open(section_path).read().rstrip("\n")
text = open(doc_path).read() if os.path.exists(doc_path) else "# Benchmarks\n"
if start in text and end in text and text.index(start) < text.index(end):
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
else:
    head, tail = text.rstrip("\n") + "\n\n", "\n"
open(doc_path, "w").write(head + start + "\n" + section + "\n" + end + tail)
PYEOF
}

record_failure() { # name of the step that failed
    local section="$OUT/section.md"
    {
        header
        echo "**Step \`$1\` failed**, so there are no figures yet. The generator said:"
        echo
        echo '```'
        tail -5 "$OUT/$1.stderr"
        echo '```'
        echo
        echo "Last lines of the servers' logs:"
        echo
        echo '```'
        for f in "$LOGS"/*.log; do echo "# $(basename "$f")"; tail -5 "$f"; done
        echo '```'
    } >"$section"
    replace_section "$section"
    die "step $1 failed; recorded in $DOC"
}

bench closed-pipeline-1 --keys "$KEYS" --rate 0 --pipeline 1
bench closed-pipeline-16 --keys "$KEYS" --rate 0 --pipeline 16
MAX_RATE=$(median_rate "$OUT/closed-pipeline-1" 0)
[ "$MAX_RATE" -gt 0 ] || die "memcached's closed-loop rate is 0; see $OUT/closed-pipeline-1/summary.txt"
RATE_50=$((MAX_RATE / 2))
RATE_80=$((MAX_RATE * 8 / 10))
bench open-50pct --keys "$KEYS" --rate "$RATE_50" --arrival poisson
bench open-80pct --keys "$KEYS" --rate "$RATE_80" --arrival poisson
bench zipf-90-10 --keys "$KEYS" --rate "$RATE_50" --arrival poisson --popularity zipf:0.99 --mix get=90,set=10
# A full cache: five times more keys than fit, half of the requests sets, so nearly
# every set evicts something.
bench evict-50pct --keys "$EVICT_KEYS" --rate "$RATE_50" --arrival poisson --mix get=50,set=50

log "writing $DOC"
SCENARIOS="closed-pipeline-1 closed-pipeline-16 open-50pct open-80pct zipf-90-10 evict-50pct"
for name in $SCENARIOS; do
    cp "$OUT/$name"/*.svg "$CHART_DIR/"
done
SECTION="$OUT/section.md"
{
    header
    echo "memcached's closed-loop pipeline-1 median: $MAX_RATE/s; open-loop rates $RATE_50/s and $RATE_80/s."
    echo
    for name in $SCENARIOS; do
        # Demote headings one level and point chart links into the chart directory.
        sed -e 's/^### /#### /' -e 's/^## /### /' -e 's#](\([^)/]*\.svg\))#](bench/\1)#' "$OUT/$name/report.md"
    done
} >"$SECTION"
replace_section "$SECTION"
log "done: $DOC, charts in $CHART_DIR, raw reports in $OUT"
