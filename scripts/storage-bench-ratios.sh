#!/usr/bin/env bash
# Runs the storage throughput bench (tailcache vs the segcache crate, in one process)
# RUNS times and prints, per benchmark, each run's throughput ratio and their median.
# Usage: scripts/storage-bench-ratios.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
target_dir="${CARGO_TARGET_DIR:-target}"
ratios_file=$(mktemp)
trap 'rm -f "$ratios_file"' EXIT

for run in $(seq 1 "$runs"); do
    echo "run $run of $runs" >&2
    cargo bench -q -p tailcache-storage --bench throughput >/dev/null 2>&1 \
        || { echo "cargo bench failed" >&2; exit 1; }
    python3 - "$target_dir/criterion" >>"$ratios_file" <<'PY'
import json, os, sys
root = sys.argv[1]
for group in sorted(os.listdir(root)):
    def median_ns(engine):
        path = os.path.join(root, group, engine, "new", "estimates.json")
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    if not os.path.isdir(os.path.join(root, group, "segcache")):
        continue
    # Same work per iteration for both, so the throughput ratio is the inverse time ratio.
    print(group, median_ns("segcache") / median_ns("tailcache"))
PY
done

python3 - "$ratios_file" <<'PY'
import statistics, sys
ratios = {}
for line in open(sys.argv[1]):
    group, ratio = line.split()
    ratios.setdefault(group, []).append(float(ratio))
print(f"{'benchmark':<22} {'median':>7}  runs (tailcache / segcache throughput)")
for group, values in sorted(ratios.items()):
    runs = " ".join(f"{v:.2f}" for v in values)
    print(f"{group:<22} {statistics.median(values):>6.2f}x  {runs}")
PY
