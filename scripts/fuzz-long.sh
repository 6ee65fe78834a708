#!/usr/bin/env bash
# Long, random fuzzing of the protocol parsers (memcache, resp, http) and of whole
# sessions through the server (session), to find new
# crashes and grow the corpus. Not part of CI (CI runs scripts/fuzz.sh: replay of the
# committed corpus plus a short fixed-seed run).
#
# Usage: scripts/fuzz-long.sh [--merge] [DURATION] [TARGET...]
#   DURATION  time per target: seconds, or a number with s, m or h (default 10m);
#             0 with --merge only merges
#   TARGET    memcache, resp, http, session (default: all four, one after the other)
#   --merge   afterwards, add to the committed corpus (corpus/<target>) the new inputs
#             that reach new coverage, for review and commit
#
# Each run uses a fresh random seed (printed), starts from the committed corpus
# (crates/protocol/fuzz/corpus/<target>, only read) and writes what it finds to the
# local corpus crates/protocol/fuzz/corpus-local/<target> (git-ignored), which later
# runs start from too. A crash stops the script and says what to do with the input.
#
# Uses the stable toolchain with RUSTC_BOOTSTRAP=1, as scripts/fuzz.sh does.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/../crates/protocol/fuzz"

die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

merge=false
duration=10m
targets=()
for arg in "$@"; do
    case "$arg" in
        --merge) merge=true ;;
        -h | --help) sed -n '2,20p' "$self"; exit 0 ;;
        [0-9]*) duration="$arg" ;;
        memcache | resp | http | session) targets+=("$arg") ;;
        *) die "unknown argument '$arg' (see --help)" ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(memcache resp http session)
case "$duration" in
    *h) seconds=$(( ${duration%h} * 3600 )) ;;
    *m) seconds=$(( ${duration%m} * 60 )) ;;
    *s) seconds=${duration%s} ;;
    *) seconds=$duration ;;
esac
[[ "$seconds" =~ ^[0-9]+$ ]] || die "bad duration '$duration'"
[ "$seconds" -gt 0 ] || $merge || die "a duration of 0 only makes sense with --merge"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked || die "cargo install cargo-fuzz failed"
fi
cargo fuzz --version >/dev/null 2>&1 || die "cargo-fuzz still missing after install"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/target}"
export RUSTC_BOOTSTRAP=1

crash_help() {
    local target="$1" seed="$2" crash
    crash="$(ls -t "artifacts/$target"/crash-* "artifacts/$target"/oom-* \
        "artifacts/$target"/timeout-* "artifacts/$target"/leak-* 2>/dev/null | head -n 1 || true)"
    cat >&2 <<EOF

FAILED: fuzz target $target found a failing input (seed $seed).
Input: crates/protocol/fuzz/${crash:-artifacts/$target/}

What to do (from crates/protocol/fuzz, with RUSTC_BOOTSTRAP=1 exported):
  1. Reproduce:  cargo +stable fuzz run $target ${crash:-<input>}
     Show it:    cargo +stable fuzz fmt $target ${crash:-<input>}
  2. Minimize:   cargo +stable fuzz tmin $target ${crash:-<input>}
     (writes artifacts/$target/minimized-from-...)
  3. Fix the bug in crates/protocol.
  4. Keep the input: copy the minimized file to
       crates/protocol/fuzz/corpus/$target/regression-<short-name>
  5. Add a regression test of the same case to crates/protocol/tests/fuzz_regressions.rs.
  6. Check: FUZZ_TARGETS=$target scripts/fuzz.sh   (replays the corpus, then fuzzes)
EOF
    exit 1
}

for target in "${targets[@]}"; do
    [ -d "corpus/$target" ] || die "no committed corpus corpus/$target"
    mkdir -p "corpus-local/$target" "artifacts/$target"
    if [ "$seconds" -gt 0 ]; then
        seed=$(( $(od -An -N4 -tu4 /dev/urandom) % 2147483646 + 1 ))
        echo "==> $target: ${seconds}s, seed $seed, new inputs in crates/protocol/fuzz/corpus-local/$target"
        # The first directory receives new inputs; the committed one is only read.
        cargo +stable fuzz run "$target" "corpus-local/$target" "corpus/$target" -- \
            -seed="$seed" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 \
            -timeout=60 -print_final_stats=1 \
            || crash_help "$target" "$seed"
    fi
    if $merge; then
        before=$(find "corpus/$target" -type f | wc -l)
        echo "==> $target: merging new coverage into corpus/$target"
        cargo +stable fuzz run "$target" "corpus/$target" "corpus-local/$target" -- \
            -merge=1 -max_len=4096 -rss_limit_mb=2048 -timeout=60 \
            || die "merging corpus-local/$target into corpus/$target failed"
        after=$(find "corpus/$target" -type f | wc -l)
        echo "    corpus/$target: $before -> $after inputs (review, then git add and commit)"
    fi
done
echo "long fuzzing passed: ${targets[*]}, ${seconds}s each"
$merge || echo "to add new coverage to the committed corpus: scripts/fuzz-long.sh --merge 0 ${targets[*]}"
