#!/usr/bin/env bash
# Hostile clients vs a well-behaved one (issue 11's "Done when"). For each attack, a fresh
# tailcache (release build, small config) is started; a victim load (tailcache-bench, open
# loop) is measured alone ("idle") and while the attack runs, alternating, ROUNDS times;
# during each attack the server's VmRSS is sampled every 0.5 s and its pid checked after.
# Attack clients: scripts/attack_clients.py (loopback only, bounded in time and count).
#   multiget     8 connections pipelining `get k k …` (100 keys) of a 512 KiB item, never reading
#   slowloris    200 connections, each sending one byte a second of a request that never ends
#   silent       as many silent connections as -c (every slot), reopened when closed
#   churn        connect + close (RST) in a loop, as fast as one Python thread can
#   resp-huge    `*1000000` then slow bulks, a 512 MiB bulk announced then trickled, and
#                1 MiB CLIENT SETNAME in a loop (RESP port)
#   auth-guess   --requirepass on: wrong AUTH passwords pipelined in a loop on 4
#                connections; a good client authenticates once a second
#   tls-garbage  --tls-port on: plaintext, random bytes and fake ClientHellos to the TLS
#                port (32 of them trickled); the victim uses the plain port
#   key-spray    sets of random distinct 38-byte keys as fast as one connection goes
# Writes a summary table to $OUT/results.md (and stdout); docs/hostile-clients.md holds
# a run's results, copied by hand.
#
# Usage: scripts/bench-attacks.sh [options]
#   --quick            1 round, 1 s warm-up + 4 s measured (trying the script; ~3 min)
#   --rounds N         idle/attack pairs per attack (default 3)
#   --duration S       measured seconds per victim run (default 10)
#   --warmup S         unmeasured seconds before it (default 2)
#   --rate N           victim requests/s (default 5000)
#   --attacks LIST     comma-separated subset (default: all eight, in the order above)
#   --no-pin           do not pin with taskset
#   --no-rt            run the victim's generator at normal priority (default: chrt -f 10
#                      when allowed, so that attackers sharing its core do not delay it)
#   --no-build         use the binaries already in target/release
# Environment: CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=3
DURATION=10
WARMUP=2
RATE=5000
ATTACKS=multiget,slowloris,silent,churn,resp-huge,auth-guess,tls-garbage,key-spray
PIN=1
RT=1
BUILD=1
QUICK=0
need() { [ $# -ge 2 ] || { echo "option $1 needs a value" >&2; exit 64; }; }
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --rounds) need "$@"; ROUNDS=$2; shift ;;
        --duration) need "$@"; DURATION=$2; shift ;;
        --warmup) need "$@"; WARMUP=$2; shift ;;
        --rate) need "$@"; RATE=$2; shift ;;
        --attacks) need "$@"; ATTACKS=$2; shift ;;
        --no-pin) PIN=0 ;;
        --no-rt) RT=0 ;;
        --no-build) BUILD=0 ;;
        -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 64 ;;
    esac
    shift
done
if [ "$QUICK" = 1 ]; then ROUNDS=1; DURATION=4; WARMUP=1; fi
for v in ROUNDS DURATION WARMUP RATE; do
    if ! [[ ${!v} =~ ^[0-9]+$ ]] || [ "${!v}" -eq 0 ]; then echo "$v must be a positive integer" >&2; exit 64; fi
done

# The server's configuration, the same for every attack (plus each attack's flags below).
MEMORY_MB=64
CONN_LIMIT=256
BUFFER_BUDGET_MIB=16
REQUEST_TIMEOUT=5
IDLE_RECLAIM=2
CONNECTIONS=8   # victim
KEYS=10000      # victim
LEAD=2          # seconds the attack runs before the victim's run starts
# Stated per-connection cost beyond the buffer budget (connection state, not buffers:
# an idle plain connection measured ~0.5 KiB, docs/security-hardening-draft.md), with a
# margin; a TLS connection also holds rustls state.
PER_CONN_KIB=16
PER_TLS_CONN_KIB=64

TARGET_DIR=${CARGO_TARGET_DIR:-target}
BENCH="$TARGET_DIR/release/tailcache-bench"
TAILCACHE_BIN="$TARGET_DIR/release/tailcache"
ATTACK_PY=scripts/attack_clients.py
OUT=$TARGET_DIR/bench-attacks
rm -rf "$OUT"
mkdir -p "$OUT/runs" "$OUT/logs"
SCRIPT_START=$(date +%s)

log() { printf '==> %s\n' "$*" >&2; }
die() { echo "error: $*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is needed"

if [ "$BUILD" = 1 ]; then
    log "building tailcache and tailcache-bench"
    cargo build --release -p tailcache -p tailcache-bench >&2
fi
[ -x "$BENCH" ] || die "$BENCH is missing (build it, or drop --no-build)"
[ -x "$TAILCACHE_BIN" ] || die "$TAILCACHE_BIN is missing (build it, or drop --no-build)"
HELP=$("$TAILCACHE_BIN" --help 2>&1)
has_flag() { grep -q -- "$1" <<<"$HELP"; }

# Exactly the processes this script starts; each is taken off the list once reaped.
PIDS=()
forget() {
    local kept=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
    PIDS=("${kept[@]}")
}
TMP=$(mktemp -d)
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Server on the last core, victim generator and attackers on the others.
SERVER_PIN=()
CLIENT_PIN=()
CORES=$(nproc)
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$CORES" -ge 2 ]; then
    SERVER_PIN=(taskset -c "$((CORES - 1))")
    CLIENT_PIN=(taskset -c "0-$((CORES - 2))")
fi
GENERATOR_RT=()
if [ "$RT" = 1 ] && chrt -f 10 true 2>/dev/null; then GENERATOR_RT=(chrt -f 10); fi
# Keep idle cores awake (a halted vCPU's wake-up costs milliseconds here): a SCHED_IDLE
# spinner per core, as scripts/bench-background-jobs.sh does.
if chrt -i 0 true 2>/dev/null; then
    for ((cpu = 0; cpu < CORES; cpu++)); do
        taskset -c "$cpu" chrt -i 0 sh -c 'while :; do :; done' &
        PIDS+=("$!")
    done
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_listening() { # name port pid
    for _ in $(seq 1 100); do
        kill -0 "$3" 2>/dev/null || die "$1 exited at start; see $OUT/logs/$1.log: $(tail -3 "$OUT/logs/$1.log")"
        if python3 -c "import socket; socket.create_connection(('127.0.0.1',$2),0.2)" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "$1 did not listen on 127.0.0.1:$2 within 10 s"
}

cat >"$TMP/server.toml" <<EOF
# bench-attacks.sh: limits the attacks meet (defaults in docs/configuration.md)
connection_buffer_budget_mib = $BUFFER_BUDGET_MIB
request_timeout_secs = $REQUEST_TIMEOUT
idle_reclaim_secs = $IDLE_RECLAIM
# The stall detector's backtrace loads the binary's debug info (+60-100 MiB RSS once),
# which would swamp the RSS figures (docs/security-hardening-draft.md).
stall_threshold_ms = 0
# A fixed kernel send buffer: a non-reader then holds 256 KiB (x2) of kernel memory,
# not up to tcp_wmem's 4 MiB (docs/hostile-clients.md, "Kernel send buffers").
socket_send_buffer_kib = 256
EOF
cp "$TMP/server.toml" "$OUT/server.toml"

# TLS material for the tls-garbage attack.
TLS_OK=0
if command -v openssl >/dev/null && has_flag --tls-port; then
    if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
        -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1; then TLS_OK=1; fi
fi

SERVER_PID=
PORT=
ADMIN=
EXTRA_PORT=
START_RSS_KIB=
start_server() { # name, then extra flags
    local name=$1
    shift
    PORT=$(free_port)
    ADMIN=127.0.0.1:$(free_port)
    local cmd=("$TAILCACHE_BIN" -p "$PORT" -l 127.0.0.1 -m "$MEMORY_MB" -t 1 -c "$CONN_LIMIT"
        --admin-addr "$ADMIN" --config "$TMP/server.toml" "$@")
    "${SERVER_PIN[@]}" "${cmd[@]}" >"$OUT/logs/$name.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_listening "$name" "$PORT" "$SERVER_PID"
    sleep 0.5
    START_RSS_KIB=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
    echo "${cmd[*]}" | sed "s#$TMP#\$TMP#g" >"$OUT/runs/$name.cmd"
}
stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    forget "$SERVER_PID"
    SERVER_PID=
}

victim() { # run dir, warm-up, duration
    local dir=$1
    mkdir -p "$dir"
    if ! "${CLIENT_PIN[@]}" "${GENERATOR_RT[@]}" "$BENCH" --target "127.0.0.1:$PORT" --label victim \
        --rate "$RATE" --arrival poisson --connections "$CONNECTIONS" --duration "${3}s" --warmup "${2}s" \
        --keys "$KEYS" --key-prefix victim: --value-size 100 --mix get=90,set=10 --prefill \
        --quiet --out "$dir" >"$dir/bench.log" 2>&1; then
        cat "$dir/bench.log" >&2
        log "  tailcache-bench failed in $dir"
        echo "nan 0 0 nan" >"$dir/p999.txt"
        return 0
    fi
    python3 "$ATTACK_PY" p999 --report "$dir/report.json" >"$dir/p999.txt"
    read -r p999 errors achieved p99 <"$dir/p999.txt"
    log "    p99.9 ${p999} ms  p99 ${p99} ms  errors $errors  achieved ${achieved}/s"
}

# attack name -> the client's arguments (after the subcommand), given the ports
attack_args() {
    case "$1" in
        multiget) echo "multiget --port $PORT" ;;
        slowloris) echo "slowloris --port $PORT" ;;
        silent) echo "silent --port $PORT --conns $CONN_LIMIT" ;;
        churn) echo "churn --port $PORT" ;;
        resp-huge) echo "resp-huge --port $EXTRA_PORT" ;;
        auth-guess) echo "auth-guess --port $EXTRA_PORT --password bench-attacks-good-password" ;;
        tls-garbage) echo "tls-garbage --port $EXTRA_PORT" ;;
        key-spray) echo "key-spray --port $PORT" ;;
    esac
}

SKIPPED=()
RESULTS=$OUT/results.tsv
: >"$RESULTS"
run_attack() { # name
    local name=$1 flags=() per_conn=$PER_CONN_KIB
    EXTRA_PORT=
    case "$name" in
        resp-huge)
            has_flag --resp-port || { SKIPPED+=("$name: no --resp-port"); return 0; }
            EXTRA_PORT=$(free_port); flags=(--resp-port "$EXTRA_PORT") ;;
        auth-guess)
            has_flag --requirepass || { SKIPPED+=("$name: no --requirepass"); return 0; }
            EXTRA_PORT=$(free_port); flags=(--resp-port "$EXTRA_PORT" --requirepass bench-attacks-good-password) ;;
        tls-garbage)
            [ "$TLS_OK" = 1 ] || { SKIPPED+=("$name: no --tls-port or no openssl"); return 0; }
            EXTRA_PORT=$(free_port); per_conn=$PER_TLS_CONN_KIB
            flags=(--tls-port "$EXTRA_PORT" --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem") ;;
        multiget|slowloris|silent|churn|key-spray) ;;
        *) die "unknown attack: $name" ;;
    esac
    log "$name: starting tailcache ${flags[*]}"
    start_server "$name" "${flags[@]}"
    # The first run after a start measured worse than later ones on this VM: unrecorded.
    log "  settling run (not recorded)"
    victim "$OUT/runs/$name.settle" 1 3 2>/dev/null
    # Silent sockets must have been idle for idle_reclaim_secs before the victim connects
    # (at the -c limit a newcomer is admitted by closing one idle that long).
    local lead=$LEAD
    [ "$name" != silent ] || lead=$((IDLE_RECLAIM + 3))
    local attack_seconds=$((lead + WARMUP + DURATION + 3)) round dir args attacker sampler alive=yes
    for round in $(seq 1 "$ROUNDS"); do
        log "  round $round: idle"
        victim "$OUT/runs/$name.r$round.idle" "$WARMUP" "$DURATION"
        dir=$OUT/runs/$name.r$round.attack
        mkdir -p "$dir"
        log "  round $round: under $name"
        args=$(attack_args "$name")
        # shellcheck disable=SC2086
        "${CLIENT_PIN[@]}" python3 "$ATTACK_PY" $args --seconds "$attack_seconds" --out "$dir/attack.json" \
            >"$dir/attack.log" 2>&1 &
        attacker=$!
        PIDS+=("$attacker")
        "${CLIENT_PIN[@]}" python3 "$ATTACK_PY" rss --pid "$SERVER_PID" --seconds "$attack_seconds" \
            --out "$dir/rss.json" >/dev/null 2>&1 &
        sampler=$!
        PIDS+=("$sampler")
        sleep "$lead"
        victim "$dir" "$WARMUP" "$DURATION"
        wait "$attacker" || log "  the attack client exited with an error: $(tail -2 "$dir/attack.log")"
        forget "$attacker"
        wait "$sampler" || true
        forget "$sampler"
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then alive=no; log "  SERVER DIED: $(tail -3 "$OUT/logs/$name.log")"; fi
        log "    attack: $(cat "$dir/attack.json" 2>/dev/null || echo '(no report)')"
        log "    rss: $(cat "$dir/rss.json" 2>/dev/null)"
        [ "$alive" = yes ] || break
    done
    python3 "$ATTACK_PY" metrics --admin "$ADMIN" --out "$OUT/runs/$name.metrics.json" >/dev/null 2>&1 || true
    stop_server
    printf '%s\t%s\t%s\t%s\n' "$name" "$alive" "$START_RSS_KIB" "$per_conn" >>"$RESULTS"
}

IFS=, read -r -a ATTACK_LIST <<<"$ATTACKS"
for name in "${ATTACK_LIST[@]}"; do run_attack "$name"; done

ELAPSED=$(($(date +%s) - SCRIPT_START))
python3 - "$OUT" "$ROUNDS" "$MEMORY_MB" "$BUFFER_BUDGET_MIB" "$CONNECTIONS" "$ELAPSED" "${SKIPPED[@]}" <<'EOF' | tee "$OUT/results.md"
import json, os, statistics, sys
out, rounds, mem, budget, victim_conns, elapsed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
skipped = sys.argv[7:]

def p999(d):
    try:
        v = open(os.path.join(d, "p999.txt")).read().split()
        return float(v[0]), int(v[1]), float(v[3])
    except (OSError, ValueError, IndexError):
        return float("nan"), 0, float("nan")

def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return {}

print("| attack | server up? | victim P99.9 idle → attack (ms) | ratio | P99 idle → attack (ms) | victim errors idle/attack | peak RSS (MiB) | RSS bound (MiB) | within? |")
print("|---|---|---|---|---|---|---|---|---|")
for line in open(os.path.join(out, "results.tsv")):
    name, alive, start_kib, per_conn = line.split("\t")
    idle, attack, ei, ea, peaks, max_open, idle99, attack99 = [], [], 0, 0, [], 0, [], []
    for r in range(1, rounds + 1):
        base = os.path.join(out, "runs", "%s.r%d" % (name, r))
        (a, e1, a99), (b, e2, b99) = p999(base + ".idle"), p999(base + ".attack")
        if os.path.exists(base + ".idle/p999.txt"): idle.append(a); idle99.append(a99); ei += e1
        if os.path.exists(base + ".attack/p999.txt"): attack.append(b); attack99.append(b99); ea += e2
        peaks.append(load(base + ".attack/rss.json").get("peak_kib", 0))
        max_open = max(max_open, load(base + ".attack/attack.json").get("max_open", 0))
    mi = statistics.median(idle) if idle else float("nan")
    ma = statistics.median(attack) if attack else float("nan")
    ratio = ma / mi if mi and mi == mi else float("nan")
    peak = max(peaks) / 1024 if peaks else 0
    conns = max_open + victim_conns + 2
    bound = int(start_kib) / 1024 + mem + budget + conns * int(per_conn) / 1024
    m99 = lambda v: statistics.median(v) if v else float("nan")
    print("| %s | %s | %.2f → %.2f | %.2fx%s | %.2f → %.2f | %d / %d | %.1f | %.1f | %s |" % (
        name, alive, mi, ma, ratio, "" if ratio <= 2 else " (over 2x)", m99(idle99), m99(attack99), ei, ea, peak, bound,
        "yes" if peak <= bound else "NO"))
print()
print("RSS bound = start RSS + -m %d + connection_buffer_budget_mib %d + (attacker's most open + %d victim + 2) connections x per-connection cost." % (mem, budget, victim_conns))
print("P99.9: medians over %d round(s); ratios within about ±30%% are noise on this VM." % rounds)
for name in [l.split("\t")[0] for l in open(os.path.join(out, "results.tsv"))]:
    m = load(os.path.join(out, "runs", name + ".metrics.json"))
    keep = {k: v for k, v in m.items() if v and k not in ("current_connections",)}
    print("- %s metrics after: %s" % (name, json.dumps(keep, sort_keys=True)))
for s in skipped:
    print("- skipped: %s" % s)
print("\nelapsed: %d s" % elapsed)
EOF
log "done in ${ELAPSED} s: $OUT/results.md, raw runs in $OUT/runs"
