#!/usr/bin/env bash
# CI fuzzing of every protocol parser (memcache, resp, http) and of a whole session
# through the server (session), reproducible: for each
# target it
#   1. replays the committed corpus (crates/protocol/fuzz/corpus/<target>), every input
#      once; any crash fails;
#   2. fuzzes from that corpus with a FIXED seed for a bounded number of runs (no time
#      limit), so a given checkout takes the same path on every run and machine.
# New inputs go to a temporary directory that is removed afterwards: the committed
# corpus is only read. A crash input is kept under crates/protocol/fuzz/artifacts/<target>/
# (git-ignored). Random, longer fuzzing that grows the corpus is scripts/fuzz-long.sh.
#
# Installs cargo-fuzz when missing. cargo-fuzz needs nightly compiler flags
# (-Zsanitizer=address); we use the stable toolchain with RUSTC_BOOTSTRAP=1 so no nightly
# toolchain has to be installed.
#
# Environment:
#   FUZZ_RUNS      fuzzing runs per parser target after the replay (default 50000; 0
#                  skips fuzzing, replay included, and says so)
#   FUZZ_SESSION_RUNS  runs of the whole-session target (default 20000: a session
#                  builds a real engine and runs the server's service, ~250 runs/s)
#   FUZZ_SEED      libFuzzer seed (default 20240917)
#   FUZZ_TARGETS   space-separated targets (default: "memcache resp http session")
#   FUZZ_SECONDS   old name: FUZZ_SECONDS=0 still skips; any other value is ignored
#   FUZZ_KEEP_WORK set: keep the temporary directory (logs, new inputs) and print it
set -euo pipefail
cd "$(dirname "$0")/../crates/protocol/fuzz"

die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
# The panic message (if any) and the end of a failed libFuzzer log.
show_failure() {
    grep -A 4 -m 1 "panicked at" "$1" >&2 || true
    printf '...\n' >&2
    tail -n 12 "$1" >&2
}

runs="${FUZZ_RUNS:-50000}"
seed="${FUZZ_SEED:-20240917}"
session_runs="${FUZZ_SESSION_RUNS:-20000}"
targets="${FUZZ_TARGETS:-memcache resp http session}"
if [ "${FUZZ_SECONDS:-}" = "0" ] && [ -z "${FUZZ_RUNS:-}" ]; then
    echo "fuzzing SKIPPED: FUZZ_SECONDS=0 (the variable is now FUZZ_RUNS)"
    exit 0
fi
if [ -n "${FUZZ_SECONDS:-}" ] && [ "${FUZZ_SECONDS}" != "0" ]; then
    echo "note: FUZZ_SECONDS is ignored; CI fuzzing is bounded by FUZZ_RUNS (=$runs)"
fi
[[ "$runs" =~ ^[0-9]+$ ]] || die "FUZZ_RUNS must be a number, got '$runs'"
[[ "$session_runs" =~ ^[0-9]+$ ]] || die "FUZZ_SESSION_RUNS must be a number, got '$session_runs'"
[[ "$seed" =~ ^[0-9]+$ && "$seed" != 0 ]] || die "FUZZ_SEED must be a positive number"
if [ "$runs" = "0" ]; then
    echo "fuzzing SKIPPED: FUZZ_RUNS=0"
    exit 0
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked || die "cargo install cargo-fuzz failed"
fi
cargo fuzz --version >/dev/null 2>&1 || die "cargo-fuzz still missing after install"

# The fuzz crate is not a workspace member; keep its build out of the workspace target.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/target}"
export RUSTC_BOOTSTRAP=1
host="$(rustc -vV | sed -n 's/^host: //p')"
[ -n "$host" ] || die "cannot tell the host triple from rustc -vV"

for target in $targets; do
    [ -f "fuzz_targets/$target.rs" ] || die "no fuzz target $target"
    [ -d "corpus/$target" ] || die "no committed corpus corpus/$target"
done

echo "==> building fuzz targets: $targets"
for target in $targets; do
    cargo +stable fuzz build "$target" || die "cargo fuzz build $target failed"
done

# Same seed, same run. libFuzzer steers by what the code does, and some of that depends
# on where things sit in memory: the deepest stack address reached is a coverage feature
# (ASan aligns frames, so it moves with the stack's start), and compared values, which
# include pointers, become mutation hints. So each target runs
#   - without address-space randomization (setarch -R);
#   - with an empty, fixed environment and fixed, short paths: the binary, the corpus
#     and the output are reached through links in a scratch directory, so the stack
#     starts at the same place whatever the checkout's path or the caller's variables;
#   - without compare hints (-use_cmp=0; scripts/fuzz-long.sh keeps them), without the
#     timed allocator purge (-purge_allocator_interval=-1) and without re-reading the
#     output directory (-reload=0);
#   - on the committed inputs in sorted order (-seed_inputs), not the file system's order.
norandom=()
if setarch "$(uname -m)" -R true >/dev/null 2>&1; then
    norandom=(setarch "$(uname -m)" -R)
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/tailcache-fuzz.XXXXXX")"
if [ -n "${FUZZ_KEEP_WORK:-}" ]; then
    echo "keeping logs and new inputs in $work"
else
    trap 'rm -rf "$work"' EXIT
fi

# Runs ./fuzzer in the scratch directory $1 with the fixed flags and the rest of the
# arguments; its output goes to the log $2.
run_fuzzer() {
    local dir="$1" log="$2"
    shift 2
    (cd "$dir" && env -i PATH=/usr/local/bin:/usr/bin:/bin RUST_BACKTRACE=1 \
        "${norandom[@]}" ./fuzzer -max_len=4096 -rss_limit_mb=2048 -timeout=60 -reload=0 \
        -purge_allocator_interval=-1 -use_cmp=0 -artifact_prefix=artifacts/ \
        -seed_inputs=@inputs "$@") >"$log" 2>&1
}

for target in $targets; do
    binary="$CARGO_TARGET_DIR/$host/release/$target"
    [ -x "$binary" ] || die "built fuzz target missing: $binary"
    scratch="$work/$target"
    mkdir -p "artifacts/$target" "$scratch/replay" "$scratch/new"
    ln -s "$binary" "$scratch/fuzzer"
    ln -s "$PWD/corpus/$target" "$scratch/corpus"
    ln -s "$PWD/artifacts/$target" "$scratch/artifacts"
    # The committed inputs in a fixed order, as the comma-separated list -seed_inputs=@
    # reads.
    find "corpus/$target" -type f -size +0 -printf 'corpus/%P\n' | LC_ALL=C sort >"$scratch/list"
    count="$(wc -l <"$scratch/list")"
    [ "$count" -gt 0 ] || die "corpus/$target is empty"
    ! grep -q , "$scratch/list" || die "a file name under corpus/$target has a comma"
    paste -sd, "$scratch/list" | tr -d '\n' >"$scratch/inputs"

    echo "==> $target: replaying $count committed inputs"
    run_fuzzer "$scratch" "$scratch/replay.log" -runs=0 replay || {
        show_failure "$scratch/replay.log"
        die "fuzz target $target crashed on its committed corpus (input under" \
            "crates/protocol/fuzz/artifacts/$target)"
    }
    grep -q "seed corpus: files: $count " "$scratch/replay.log" \
        || die "fuzz target $target did not load its $count committed inputs"

    target_runs="$runs"
    [ "$target" = session ] && target_runs="$session_runs"
    echo "==> $target: fuzzing $target_runs runs, seed $seed"
    run_fuzzer "$scratch" "$scratch/fuzz.log" -runs="$target_runs" -seed="$seed" new || {
        show_failure "$scratch/fuzz.log"
        die "fuzz target $target failed with seed $seed within $runs runs (input under" \
            "crates/protocol/fuzz/artifacts/$target). Reproduce: FUZZ_TARGETS=$target" \
            "FUZZ_SEED=$seed FUZZ_RUNS=$runs FUZZ_SESSION_RUNS=$session_runs scripts/fuzz.sh. Minimize it (cargo fuzz tmin)," \
            "fix the bug, add the input to crates/protocol/fuzz/corpus/$target and a" \
            "regression test to crates/protocol/tests/fuzz_regressions.rs"
    }
    grep -E '^#[0-9]+[[:space:]]+DONE' "$scratch/fuzz.log" | tail -n 1 || true
    echo "    $(find "$scratch/new" -type f | wc -l) new inputs (discarded; scripts/fuzz-long.sh grows the corpus)"
done
echo "fuzzing passed: $targets (replay + $runs runs each, session $session_runs, seed $seed)"
