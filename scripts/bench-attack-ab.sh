#!/usr/bin/env bash
# A/B of tailcache builds or configurations under one attack: for each round, each
# variant in turn gets a fresh server, a victim run alone ("idle") and a victim run
# under the attack, as scripts/bench-attacks.sh does for one attack. Prints the victim's
# P99 and P99.9 per run; the figures in docs/hostile-clients.md ("Kernel send buffers",
# "Slow senders closed a few at a time") come from it. Loopback only, bounded in time.
#
# Usage: scripts/bench-attack-ab.sh [--attack NAME] [--rounds N] [--duration S] LABEL=BIN[:CONFIG]...
#   --attack NAME   a subcommand of scripts/attack_clients.py taking only --port
#                   (multiget, slowloris, churn, key-spray; default multiget)
#   --rounds N      rounds (default 3); variants alternate within each
#   --duration S    measured seconds per victim run (default 8, after 2 s of warm-up)
#   LABEL=BIN[:CONFIG]  a tailcache binary, and the TOML file it gets with --config
#                   (default: the limits bench-attacks.sh sets, without its send-buffer
#                   cap)
# Servers run as `BIN -p PORT -l 127.0.0.1 -m 64 -t 1 -c 256 --config CONFIG`, pinned to
# the last CPU; the victim (tailcache-bench at 5 000 req/s, under chrt -f 10 when
# allowed) and the attacker share the others. Run directories: target/bench-attack-ab.
set -euo pipefail
cd "$(dirname "$0")/.."

ATTACK=multiget
ROUNDS=3
DURATION=8
need() { [ $# -ge 2 ] || { echo "option $1 needs a value" >&2; exit 64; }; }
while [ $# -gt 0 ]; do
    case "$1" in
        --attack) need "$@"; ATTACK=$2; shift ;;
        --rounds) need "$@"; ROUNDS=$2; shift ;;
        --duration) need "$@"; DURATION=$2; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        -*) echo "unknown option: $1 (see --help)" >&2; exit 64 ;;
        *) break ;;
    esac
    shift
done
case "$ATTACK" in
    multiget|slowloris|churn|key-spray) ;;
    *) echo "--attack: multiget, slowloris, churn or key-spray" >&2; exit 64 ;;
esac
for v in ROUNDS DURATION; do
    if ! [[ ${!v} =~ ^[0-9]+$ ]] || [ "${!v}" -eq 0 ]; then echo "$v must be a positive integer" >&2; exit 64; fi
done
[ $# -ge 1 ] || { echo "give at least one LABEL=BIN[:CONFIG]" >&2; exit 64; }
BENCH=${CARGO_TARGET_DIR:-target}/release/tailcache-bench
[ -x "$BENCH" ] || { echo "$BENCH is missing: cargo build --release -p tailcache-bench" >&2; exit 1; }
OUT=${CARGO_TARGET_DIR:-target}/bench-attack-ab
rm -rf "$OUT"
mkdir -p "$OUT"
DEFAULT_CONFIG=$OUT/server.toml
cat >"$DEFAULT_CONFIG" <<EOF
connection_buffer_budget_mib = 16
request_timeout_secs = 5
idle_reclaim_secs = 2
stall_threshold_ms = 0
EOF

# Exactly the processes this script starts.
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CORES=$(nproc)
SERVER_PIN=()
CLIENT_PIN=()
if command -v taskset >/dev/null && [ "$CORES" -ge 2 ]; then
    SERVER_PIN=(taskset -c "$((CORES - 1))")
    CLIENT_PIN=(taskset -c "0-$((CORES - 2))")
fi
RT=()
if chrt -f 10 true 2>/dev/null; then RT=(chrt -f 10); fi
# Idle vCPUs halt, and waking one costs milliseconds here (bench-attacks.sh does the same).
if chrt -i 0 true 2>/dev/null; then
    for ((cpu = 0; cpu < CORES; cpu++)); do
        taskset -c "$cpu" chrt -i 0 sh -c 'while :; do :; done' &
        PIDS+=("$!")
    done
fi
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

for round in $(seq 1 "$ROUNDS"); do
    for spec in "$@"; do
        label=${spec%%=*}
        rest=${spec#*=}
        bin=${rest%%:*}
        config=$DEFAULT_CONFIG
        [ "$rest" != "$bin" ] && config=${rest#*:}
        [ -x "$bin" ] || { echo "$label: $bin is not an executable" >&2; exit 1; }
        port=$(free_port)
        "${SERVER_PIN[@]}" "$bin" -p "$port" -l 127.0.0.1 -m 64 -t 1 -c 256 --config "$config" \
            >"$OUT/$label.$round.log" 2>&1 &
        server=$!
        PIDS+=("$server")
        for _ in $(seq 1 50); do
            python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && break
            kill -0 "$server" 2>/dev/null || { echo "$label exited at start: $OUT/$label.$round.log" >&2; exit 1; }
            sleep 0.1
        done
        line="round $round $label:"
        for mode in idle attack; do
            dir=$OUT/$label.$round.$mode
            mkdir -p "$dir"
            attacker=
            if [ "$mode" = attack ]; then
                "${CLIENT_PIN[@]}" python3 scripts/attack_clients.py "$ATTACK" --port "$port" \
                    --seconds $((DURATION + 4)) >"$dir/attack.json" 2>&1 &
                attacker=$!
                PIDS+=("$attacker")
                sleep 2
            fi
            "${CLIENT_PIN[@]}" "${RT[@]}" "$BENCH" --target "127.0.0.1:$port" --label victim \
                --rate 5000 --arrival poisson --connections 8 --duration "${DURATION}s" --warmup 2s \
                --keys 10000 --key-prefix victim: --value-size 100 --mix get=90,set=10 --prefill \
                --quiet --out "$dir" >"$dir/bench.log" 2>&1
            read -r p999 _ _ p99 < <(python3 scripts/attack_clients.py p999 --report "$dir/report.json")
            line="$line $mode p99=${p99}ms p99.9=${p999}ms"
            [ -n "$attacker" ] && wait "$attacker"
        done
        kill "$server"
        wait "$server" 2>/dev/null || true
        echo "$line"
    done
done
