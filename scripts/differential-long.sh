#!/usr/bin/env bash
# Long random differential runs against real memcached (a developer check, not CI):
# runs crates/server/tests/memcached_random_differential.rs (text and meta) and
# memcached_binary_differential.rs (binary protocol) with random seeds and many
# sequences per seed. For each failing seed it prints the seed, the failing sequence
# indexes, and for the first few the minimal sequence (shrunk by dropping commands)
# with both servers' transcripts; rerun one with DIFF_SEED=<seed> DIFF_ONLY=<index>.
#
# Usage: scripts/differential-long.sh [ROUNDS] [SEQUENCES_PER_ROUND]
#   ROUNDS               seeds to try (default 10)
#   SEQUENCES_PER_ROUND  sequences per seed (default 20000)
# Environment: DIFF_SHRINK (failing sequences shrunk and printed per seed, default 3).
# Exit status: 0 when every seed agreed, 1 otherwise.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-10}"
sequences="${2:-20000}"
cd "$root"
command -v memcached >/dev/null || { echo "memcached is required" >&2; exit 2; }
cargo test -p tailcache --test memcached_random_differential --test memcached_binary_differential \
    --no-run -q || exit 2

failed=0
for ((round = 1; round <= rounds; round++)); do
    seed="0x$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')"
    log="$(mktemp)"
    if DIFF_SEED="$seed" DIFF_SEQUENCES="$sequences" \
        cargo test -q -p tailcache --test memcached_random_differential \
        random_sequences_match_memcached -- --nocapture >"$log" 2>&1; then
        grep "random differential:" "$log"
    else
        failed=1
        echo "FAILING SEED: $seed"
        grep "random differential:" "$log"
        # The assertion message: failing indexes, then each minimal sequence.
        sed -n '/sequences differ/,/^stack backtrace:/p' "$log" | grep -v '^stack backtrace:'
    fi
    rm -f "$log"
    log="$(mktemp)"
    if DIFF_SEED="$seed" DIFF_SEQUENCES="$sequences" \
        cargo test -q -p tailcache --test memcached_binary_differential -- --nocapture \
        >"$log" 2>&1; then
        grep "binary differential:" "$log"
    else
        failed=1
        echo "FAILING SEED (binary): $seed"
        grep "binary differential:" "$log"
        # Each differing sequence (up to three): its requests and both servers' replies.
        sed -n '/) differs$/,/^binary differential:/p' "$log" | grep -v '^binary differential:'

    fi
    rm -f "$log"
done
exit "$failed"
