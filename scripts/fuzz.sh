#!/usr/bin/env bash
# Short cargo-fuzz runs of every protocol parser (memcache, resp, http).
# Installs cargo-fuzz when missing. cargo-fuzz needs nightly compiler flags
# (-Zsanitizer=address); we use the stable toolchain with RUSTC_BOOTSTRAP=1 so no nightly
# toolchain has to be installed.
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 30; 0 skips fuzzing and says so)
#   FUZZ_TARGETS   space-separated targets (default: "memcache resp http")
set -euo pipefail
cd "$(dirname "$0")/../crates/protocol/fuzz"

die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

seconds="${FUZZ_SECONDS:-30}"
targets="${FUZZ_TARGETS:-memcache resp http}"
if [ "$seconds" = "0" ]; then
    echo "fuzzing SKIPPED: FUZZ_SECONDS=0"
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

for target in $targets; do
    [ -f "fuzz_targets/$target.rs" ] || die "no fuzz target $target"
    echo "==> fuzzing $target for ${seconds}s"
    mkdir -p "corpus/$target"
    cargo +stable fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 \
        || die "fuzz target $target failed (crash input under artifacts/$target)"
done
echo "fuzzing passed: $targets, ${seconds}s each"
