#!/usr/bin/env bash
# Runs the partition scenarios of tests/e2e_partition.rs (three hosts in
# network namespaces, a writer at 150 acknowledged RPUSH/s) against
# rsentinel and against redis-sentinel, and prints both side by side:
# acknowledged writes lost, time with two masters, time from healing to
# convergence (the old master demoted, everyone following one master), and
# failovers (highest config epoch). Needs root (namespaces, nftables).
# Usage: benches/partition.sh [runs]   (default 1 run per implementation)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-1}"
cargo test -q --test e2e_partition --no-run >/dev/null 2>&1
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for impl in rsentinel redis-sentinel; do
  for _ in $(seq "$runs"); do
    RSENTINEL_PARTITION_SENTINEL="$impl" cargo test -q --test e2e_partition -- \
      --nocapture --test-threads=2 2>&1 | grep -oE '[a-z-]+: Outcome .*' | sed "s/^/$impl /" >>"$out" || true
  done
done
python3 - "$out" <<'PY'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    impl, rest = line.split(" ", 1)
    name, body = rest.split(": Outcome ", 1)
    get = lambda k: int(re.search(k + r": (\d+)", body).group(1))
    rows.setdefault((name, impl), []).append(
        (get("acked"), get("lost"), get("two_master_ms"), get("convergence_ms"), get("max_epoch")))
print("| scenario | sentinel | acked | lost | lost % | two masters (ms) | heal→converged (ms) | failovers |")
print("|---|---|---|---|---|---|---|---|")
for (name, impl) in sorted(rows):
    for acked, lost, two, conv, epoch in rows[(name, impl)]:
        pct = 100.0 * lost / acked if acked else 0.0
        print(f"| {name} | {impl} | {acked} | {lost} | {pct:.0f} % | {two} | {conv} | {epoch} |")
PY
