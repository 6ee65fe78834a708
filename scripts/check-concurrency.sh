#!/usr/bin/env bash
# Checks of the storage engine's lock-free parts that ordinary tests cannot make:
#  1. loom: the index's publish/validate protocol (bucket versions, fences, heap words)
#     is model-checked over every interleaving loom explores (LOOM_MAX_PREEMPTIONS,
#     default 3). Built in its own target dir with `--cfg loom`.
#  2. valgrind memcheck: the unit tests of the modules that hold or lean on the crate's
#     `unsafe` code (words.rs: zeroed aligned allocation; heap.rs, index/, segment.rs
#     on top of it) run with no invalid access and no definite leak.
# Miri would check the same `unsafe` blocks, but it needs a nightly toolchain, which
# this project's machines do not have; the tests are sized for it (cfg!(miri)).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }
die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

log "loom: index publish/validate protocol"
RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}" \
    cargo test -q -p tailcache-storage --lib --release --target-dir target/loom loom \
    || die "loom found an interleaving that breaks the index protocol"

log "valgrind memcheck: words, heap, index, segment unit tests"
command -v valgrind >/dev/null || die "valgrind is not installed (apt-get install valgrind)"
test_binary=$(cargo test -q -p tailcache-storage --lib --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "tailcache_storage" and m.get("executable"):
        print(m["executable"])')
[ -n "$test_binary" ] || die "could not find the storage unit-test binary"
valgrind -q --error-exitcode=3 --leak-check=full --show-possibly-lost=no --errors-for-leak-kinds=definite \
    "$test_binary" -q words:: heap:: index:: segment:: \
    || die "valgrind reported memory errors in the storage unit tests"
log "concurrency checks passed"
