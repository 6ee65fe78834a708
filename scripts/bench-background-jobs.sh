#!/usr/bin/env bash
# Does background work hurt request latency? An open-loop get/set load at a fixed rate is
# measured alone ("baseline") and then while a heavy job runs, against tailcache and
# memcached side by side (fresh servers, rounds alternate tailcache, memcached, ...),
# medians over rounds. Jobs, driven by scripts/bench_jobs.py on their own connections:
#   dump      1M items, then `lru_crawler metadump all` in a loop, each reply read to END
#   expiry    1M items sharing one absolute expiry that falls inside the measured window
#   multiget  one client looping `get k1 ... k10000` (keys that exist, 100 B values)
# Writes docs/benchmarks.md between the background-jobs markers and docs/bench/background-*.svg.
#
# Usage: scripts/bench-background-jobs.sh [options]
#   --quick            smoke test: 1 round, 3 s measured, 1 s warm-up, 200k job items; writes
#                      into $OUT/doc/benchmarks.md (not docs/) unless --doc is given
#   --rounds N         rounds per job and server (default 3)
#   --duration S       measured seconds per run (default 12)
#   --warmup S         unmeasured seconds before each measurement (default 2)
#   --rate N|auto      requests/s of the measured load (default 20000); auto: half of
#                      memcached's closed-loop pipeline-1 rate, as bench-vs-memcached.sh
#   --jobs LIST        comma-separated subset of dump,expiry,multiget (default all three)
#   --items N          items the dump and expiry jobs store (default 1000000)
#   --multiget-keys N  keys per multiget (default 10000)
#   --keys N           keys of the measured load, prefilled (default 100000)
#   --connections N    connections of the measured load (default 16)
#   --mix MIX          tailcache-bench mix of the measured load (default get=90,set=10)
#   --threads N        worker threads of both servers (-t; default 1: the server is
#                      pinned to one core, and two workers on one core would be
#                      scheduled by the kernel against each other, not by tailcache)
#   --no-pin           do not pin with taskset
#   --no-awake         let idle cores halt (default: a SCHED_IDLE spinner on every core
#                      keeps the VM's cores awake in every run, baseline and job
#                      alike; without it an idle core's wake-up costs milliseconds
#                      here, so a run with a busy job measured *better* than its
#                      baseline on both servers)
#   --no-rt            run the load generator at normal priority (default: `chrt -f 10`
#                      when allowed, so that its own wake-up delays do not swamp the
#                      tail being measured; the servers always run at normal priority)
#   --no-build         use the binaries already in target/release
#   --doc FILE         write into FILE instead of docs/benchmarks.md (charts: DIR(FILE)/bench)
# Environment: TAILCACHE_BIN (default: build target/release/tailcache), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
ROUNDS=3
DURATION=12
WARMUP=2
RATE=20000
JOBS=dump,expiry,multiget
ITEMS=
MULTIGET_KEYS=10000
KEYS=100000
CONNECTIONS=16
MIX=get=90,set=10
PIN=1
RT=1
AWAKE=1
THREADS=1
BUILD=1
DOC=
need() { [ $# -ge 2 ] || { echo "option $1 needs a value" >&2; exit 64; }; }
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --rounds) need "$@"; ROUNDS=$2; shift ;;
        --duration) need "$@"; DURATION=$2; shift ;;
        --warmup) need "$@"; WARMUP=$2; shift ;;
        --rate) need "$@"; RATE=$2; shift ;;
        --jobs) need "$@"; JOBS=$2; shift ;;
        --items) need "$@"; ITEMS=$2; shift ;;
        --multiget-keys) need "$@"; MULTIGET_KEYS=$2; shift ;;
        --keys) need "$@"; KEYS=$2; shift ;;
        --connections) need "$@"; CONNECTIONS=$2; shift ;;
        --mix) need "$@"; MIX=$2; shift ;;
        --threads) need "$@"; THREADS=$2; shift ;;
        --no-pin) PIN=0 ;;
        --no-rt) RT=0 ;;
        --no-awake) AWAKE=0 ;;
        --no-build) BUILD=0 ;;
        --doc) need "$@"; DOC=$2; shift ;;
        -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 64 ;;
    esac
    shift
done
if [ "$QUICK" = 1 ]; then
    ROUNDS=1; DURATION=3; WARMUP=1; ITEMS=${ITEMS:-200000}
fi
ITEMS=${ITEMS:-1000000}
for v in ROUNDS DURATION WARMUP ITEMS MULTIGET_KEYS KEYS CONNECTIONS THREADS; do
    if ! [[ ${!v} =~ ^[0-9]+$ ]] || [ "${!v}" -eq 0 ]; then echo "$v must be a positive integer" >&2; exit 64; fi
done
[[ $RATE =~ ^([0-9]+|auto)$ ]] || { echo "--rate is a number or auto" >&2; exit 64; }
for job in ${JOBS//,/ }; do
    case "$job" in dump|expiry|multiget) ;; *) echo "unknown job: $job" >&2; exit 64 ;; esac
done

MEMORY_MB=1024
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BENCH="$TARGET_DIR/release/tailcache-bench"
OUT=$TARGET_DIR/bench-background-jobs
if [ -z "$DOC" ]; then
    if [ "$QUICK" = 1 ]; then DOC=$OUT/doc/benchmarks.md; else DOC=docs/benchmarks.md; fi
fi
LOGS=$OUT/logs
JOBS_PY=scripts/bench_jobs.py
rm -rf "$OUT"
mkdir -p "$OUT/runs" "$LOGS" "$(dirname "$DOC")/bench"
SCRIPT_START=$(date +%s)

log() { printf '==> %s\n' "$*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

command -v memcached >/dev/null || die "memcached is not installed (apt-get install memcached)"
command -v python3 >/dev/null || die "python3 is needed"

if [ "$BUILD" = 1 ]; then
    log "building tailcache-bench and tailcache"
    if [ -n "${TAILCACHE_BIN:-}" ]; then
        cargo build --release -p tailcache-bench >&2
    else
        cargo build --release -p tailcache-bench -p tailcache >&2
    fi
fi
TAILCACHE_BIN=${TAILCACHE_BIN:-$TARGET_DIR/release/tailcache}
[ -x "$BENCH" ] || die "$BENCH is missing (build it, or drop --no-build)"
[ -x "$TAILCACHE_BIN" ] || die "$TAILCACHE_BIN is missing (build it, or drop --no-build)"

# Exactly the processes this script starts (servers, job drivers), stopped on any exit.
# A process is taken off the list once it has been stopped and reaped, so a recycled
# process id is never signalled.
PIDS=()
forget() { # pid
    local kept=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
    PIDS=("${kept[@]}")
}
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Pinning: the server (both its threads) on the last core, the load generator, the job
# driver and the fills on the others, so the server never waits for the generator's core.
SERVER_CPUS=
CLIENT_CPUS=
CORES=$(nproc)
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$CORES" -ge 2 ]; then
    SERVER_CPUS=$((CORES - 1))
    CLIENT_CPUS="0-$((CORES - 2))"
fi
pinned() { # cpu list, then the command (foreground only)
    local cpus=$1
    shift
    if [ -n "$cpus" ]; then taskset -c "$cpus" "$@"; else "$@"; fi
}
# For background processes: a prefix, not a function, so that $! is the process itself
# (taskset execs it) rather than a subshell whose death would leave it running.
SERVER_PIN=()
CLIENT_PIN=()
if [ -n "$SERVER_CPUS" ]; then
    SERVER_PIN=(taskset -c "$SERVER_CPUS")
    CLIENT_PIN=(taskset -c "$CLIENT_CPUS")
fi

GENERATOR_RT=()
if [ "$RT" = 1 ] && chrt -f 10 true 2>/dev/null; then
    GENERATOR_RT=(chrt -f 10)
fi

# Spinners that run only when nothing else wants their core (SCHED_IDLE).
if [ "$AWAKE" = 1 ] && chrt -i 0 true 2>/dev/null; then
    for ((cpu = 0; cpu < CORES; cpu++)); do
        taskset -c "$cpu" chrt -i 0 sh -c 'while :; do :; done' &
        PIDS+=("$!")
    done
else
    AWAKE=0
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_listening() { # name port pid
    for _ in $(seq 1 100); do
        kill -0 "$3" 2>/dev/null || die "$1 exited at start; see $LOGS/$1.log: $(tail -3 "$LOGS/$1.log")"
        if python3 -c "import socket; socket.create_connection(('127.0.0.1',$2),0.2)" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "$1 did not listen on 127.0.0.1:$2 within 10 s"
}

MEMCACHED_USER=()
if [ "$(id -u)" = 0 ]; then MEMCACHED_USER=(-u root); fi

SERVER_PID=
SERVER_PORT=
start_server() { # server, log name
    SERVER_PORT=$(free_port)
    local cmd
    if [ "$1" = tailcache ]; then
        cmd=("$TAILCACHE_BIN" -p "$SERVER_PORT" -l 127.0.0.1 -m "$MEMORY_MB" -t "$THREADS" --admin-addr "127.0.0.1:$(free_port)")
    else
        cmd=(memcached -p "$SERVER_PORT" -l 127.0.0.1 -m "$MEMORY_MB" -t "$THREADS" -U 0 "${MEMCACHED_USER[@]}")
    fi
    "${SERVER_PIN[@]}" "${cmd[@]}" >"$LOGS/$2.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_listening "$2" "$SERVER_PORT" "$SERVER_PID"
    echo "${cmd[*]}" >"$OUT/cmd-$1.txt"
}
stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    forget "$SERVER_PID"
    SERVER_PID=
}

fill() { # run dir, then bench_jobs.py fill flags; appends its JSON line to DIR/fill.json
    local dir=$1
    shift
    pinned "$CLIENT_CPUS" python3 "$JOBS_PY" fill --port "$SERVER_PORT" "$@" | tee -a "$dir/fill.json"
}

bench() { # run dir; the measured load (no --prefill: the keys are stored by fill)
    local dir=$1
    if ! pinned "$CLIENT_CPUS" "${GENERATOR_RT[@]}" "$BENCH" --target "127.0.0.1:$SERVER_PORT" --label "$(basename "$dir")" \
        --rate "$RATE" --arrival poisson --connections "$CONNECTIONS" \
        --duration "${DURATION}s" --warmup "${WARMUP}s" --keys "$KEYS" --key-prefix load: \
        --value-size 100 --mix "$MIX" --quiet --out "$dir" >"$dir/bench.log" 2>&1; then
        cat "$dir/bench.log" >&2
        die "tailcache-bench failed in $dir (server log: $LOGS)"
    fi
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["runs"][0]["summary"]; l=s["latency"]
print("    achieved %.0f/s  p99 %.2f ms  p99.9 %.2f ms  p99.99 %.2f ms  errors %d" % (s["achieved_rate_per_s"], l["p99_ns"]/1e6, l["p999_ns"]/1e6, l["p9999_ns"]/1e6, s["errors"]))' "$dir/report.json" >&2
}

# One cell: a fresh server, the measured keyspace stored, the job's data, a baseline run,
# then the same run with the job's driver running through the whole measured window.
run_cell() { # round job server
    local round=$1 job=$2 server=$3 base job_dir driver window_start job_seconds
    base="$OUT/runs/r$round.$job.$server.baseline"
    job_dir="$OUT/runs/r$round.$job.$server.job"
    mkdir -p "$base" "$job_dir"
    log "round $round, $job, $server"
    start_server "$server" "r$round.$job.$server"
    fill "$base" --prefix load: --count "$KEYS" >/dev/null
    case "$job" in
        dump) fill "$base" --prefix dump: --count "$ITEMS" >/dev/null ;;
        multiget) fill "$base" --prefix mg: --count "$MULTIGET_KEYS" >/dev/null ;;
    esac
    # The first load run after a fill measured several times worse than any later
    # one on both servers (a fresh process and a machine settling after the fill), so
    # a first, unrecorded run takes that hit and both recorded runs come after one.
    log "  settling run (not recorded)"
    mkdir -p "$OUT/runs/settle"
    bench "$OUT/runs/settle" 2>/dev/null
    log "  baseline"
    bench "$base"
    job_seconds=$((WARMUP + DURATION + 1))
    if [ "$job" = expiry ]; then
        # One absolute expiry for every item, a third into the measured window. The lead
        # covers the fill (estimated at twice its time at the rate of the load's fill) and
        # the warm-up; after the fill, the run starts so the expiry second lands in place.
        local rate lead exptime at
        rate=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["rate_per_s"])' "$base/fill.json")
        lead=$(python3 -c "import math; print(math.ceil(2 * $ITEMS / max(1, $rate) + $WARMUP + $DURATION / 3 + 1))")
        fill "$job_dir" --prefix exp: --count "$ITEMS" --exptime-lead "$lead" >/dev/null
        exptime=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["exptime"])' "$job_dir/fill.json")
        at=$(python3 -c "print($exptime - $WARMUP - $DURATION / 3)")
        pinned "$CLIENT_CPUS" python3 "$JOBS_PY" wait-until --at "$at" >"$job_dir/wait.txt"
        window_start=$(python3 -c "import time; print(time.time() + $WARMUP)")
        "${CLIENT_PIN[@]}" python3 "$JOBS_PY" job --kind expiry --port "$SERVER_PORT" --seconds "$job_seconds" \
            --exptime "$exptime" --window-start "$window_start" --window "$DURATION" --out "$job_dir/job.json" &
    elif [ "$job" = dump ]; then
        "${CLIENT_PIN[@]}" python3 "$JOBS_PY" job --kind dump --port "$SERVER_PORT" --seconds "$job_seconds" \
            --out "$job_dir/job.json" &
    else
        "${CLIENT_PIN[@]}" python3 "$JOBS_PY" job --kind multiget --port "$SERVER_PORT" --seconds "$job_seconds" \
            --prefix mg: --count "$MULTIGET_KEYS" --out "$job_dir/job.json" &
    fi
    driver=$!
    PIDS+=("$driver")
    log "  with $job"
    bench "$job_dir"
    wait "$driver" || die "the $job driver failed (see above)"
    forget "$driver"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("curr_items_series",None); print("    job:", json.dumps(d))' "$job_dir/job.json" >&2
    stop_server
}

if [ "$RATE" = auto ]; then
    log "rate: memcached's closed-loop pipeline-1 rate, halved"
    mkdir -p "$OUT/rate"
    start_server memcached rate
    fill "$OUT/rate" --prefix load: --count "$KEYS" >/dev/null
    pinned "$CLIENT_CPUS" "$BENCH" --target "127.0.0.1:$SERVER_PORT" --label memcached --rate 0 --pipeline 1 \
        --connections 4 --duration 4s --warmup 1s --keys "$KEYS" --key-prefix load: --value-size 100 \
        --quiet --out "$OUT/rate" >"$OUT/rate/bench.log" 2>&1 || { cat "$OUT/rate/bench.log" >&2; die "the rate run failed"; }
    stop_server
    RATE=$(python3 "$JOBS_PY" rate --report "$OUT/rate/report.json")
    RATE_NOTE="half of memcached's closed-loop pipeline-1 rate ($((RATE * 2))/s, 4 connections) measured at the start"
    [ "$RATE" -gt 0 ] || die "memcached's closed-loop rate is 0"
else
    RATE_NOTE="fixed with --rate"
fi
log "measured load: $RATE req/s ($RATE_NOTE), $CONNECTIONS connections, $MIX over $KEYS keys"

for round in $(seq 1 "$ROUNDS"); do
    for job in ${JOBS//,/ }; do
        for server in tailcache memcached; do
            run_cell "$round" "$job" "$server"
        done
    done
done

ELAPSED=$(($(date +%s) - SCRIPT_START))
HEADER=$OUT/header.md
FLAGS="--rounds $ROUNDS --duration $DURATION --warmup $WARMUP --rate $RATE --jobs $JOBS --items $ITEMS --multiget-keys $MULTIGET_KEYS --keys $KEYS --connections $CONNECTIONS --mix $MIX --threads $THREADS"
[ -n "$SERVER_CPUS" ] || FLAGS="$FLAGS --no-pin"
[ ${#GENERATOR_RT[@]} -gt 0 ] || FLAGS="$FLAGS --no-rt"
[ "$AWAKE" = 1 ] || FLAGS="$FLAGS --no-awake"
{
    echo "## Background jobs vs request latency ($(date -u +%Y-%m-%d))"
    echo
    echo "Produced by \`scripts/bench-background-jobs.sh$([ "$QUICK" = 1 ] && echo " --quick")\` in $((ELAPSED / 60)) min $((ELAPSED % 60)) s, equivalent to:"
    echo
    echo '```sh'
    echo "scripts/bench-background-jobs.sh $FLAGS"
    echo '```'
    echo
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), Linux $(uname -r)."
    if [ -n "$SERVER_CPUS" ]; then
        echo "Pinned with taskset: the server (all its threads) on CPU $SERVER_CPUS; the load generator,"
        echo "the job driver and the fills on CPU $CLIENT_CPUS. The job's client work therefore shares"
        echo "the generator's core: the send-lag column shows how late the generator got."
        if [ ${#GENERATOR_RT[@]} -gt 0 ]; then
            echo "The generator runs under \`chrt -f 10\` (its floor: docs/bench-floor.md); the servers and"
            echo "the job driver at normal priority."
        fi
        if [ "$AWAKE" = 1 ]; then
            echo "A \`SCHED_IDLE\` spinner on each core keeps the VM's cores from halting in every run"
            echo "(an idle vCPU's wake-up costs milliseconds here, which made runs with a busy job"
            echo "measure better than their baselines)."
        fi
    else
        echo "Not pinned: servers, generator and job driver share every core."
    fi
    echo
    echo "Measured load: open loop, Poisson arrivals at **$RATE req/s** ($RATE_NOTE), $CONNECTIONS"
    echo "connections, $MIX over $KEYS keys (\`load:N\`, stored before each run), 100-byte values,"
    echo "${WARMUP} s warm-up then ${DURATION} s measured; latency from each request's intended send time."
    echo "Each cell is a fresh server: store the keys, run the load alone (**baseline**), then the"
    echo "same schedule (same seed) with the job's driver (\`scripts/bench_jobs.py\`, its own"
    echo "connection) running from before the warm-up to past the window's end. Rounds alternate"
    echo "tailcache and memcached; figures are medians over $ROUNDS round(s), ratios are of medians."
    echo
    echo "Servers, both \`-m $MEMORY_MB -t $THREADS\` on 127.0.0.1 (port picked free per cell):"
    echo
    echo '```sh'
    echo "# $(memcached -V)"
    cat "$OUT/cmd-memcached.txt"
    if [ "$BUILD" = 1 ]; then
        echo "# tailcache built at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet -- crates 2>/dev/null || echo ' (with uncommitted changes in crates/)')"
    else
        echo "# tailcache as found in $TAILCACHE_BIN (--no-build: not rebuilt, modified $(date -u -r "$TAILCACHE_BIN" '+%Y-%m-%d %H:%M UTC'))"
    fi
    cat "$OUT/cmd-tailcache.txt"
    echo '```'
    echo
    echo "Load generator (\$DIR: one per run, reports kept under $OUT/runs):"
    echo
    echo '```sh'
    echo "$BENCH --target 127.0.0.1:PORT --rate $RATE --arrival poisson --connections $CONNECTIONS --duration ${DURATION}s --warmup ${WARMUP}s --keys $KEYS --key-prefix load: --value-size 100 --mix $MIX --quiet --out \$DIR"
    echo '```'
} >"$HEADER"

DOC_DIR=$(dirname "$DOC")
python3 "$JOBS_PY" report --out-dir "$OUT" --jobs "$JOBS" --doc "$DOC" --chart-dir "$DOC_DIR/bench" \
    --chart-link bench --header "$HEADER" --rate "$RATE" --items "$ITEMS" --multiget-keys "$MULTIGET_KEYS"
log "done in ${ELAPSED} s: $DOC (section background-jobs), charts $DOC_DIR/bench/background-*.svg, raw runs in $OUT/runs"
