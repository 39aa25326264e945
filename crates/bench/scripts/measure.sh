#!/usr/bin/env bash
# Runs the comparison of docs/benchmarks.md: ROUNDS interleaved rounds of
# every (engine, workload, P) configuration, appending RESULT lines to OUT, then
# prints median (min-max) events/s and peak RSS per configuration.
#
#   crates/bench/scripts/measure.sh [ROUNDS] [OUT]
#
# Build first: cargo build --release -p runnel-bench
set -euo pipefail
ROUNDS=${1:-5}
OUT=${2:-/tmp/runnel-bench-results.txt}
BIN=${BIN:-$(dirname "$0")/../../../target/release/runnel-bench}
# WORKLOADS selects the workloads (default: all); limit loops run once per round.
WORKLOADS=${WORKLOADS:-"W1 W2 W3 W4 W5 W7"}
CONFIGS=()
for w in $WORKLOADS; do
  CONFIGS+=("limit-$w --parallelism 1" "$w --parallelism 1" "$w --parallelism 2")
done
: >"$OUT"
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS, load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  for c in "${CONFIGS[@]}"; do
    # shellcheck disable=SC2086
    "$BIN" $c | tee -a "$OUT"
  done
done
# median (min-max) of eps, and the largest peak RSS, per (engine, workload, p)
awk '
  /^RESULT/ {
    delete f
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    k = f["engine"] " " f["workload"] " p=" f["p"]
    eps[k] = eps[k] " " f["eps"]
    if (f["peak_rss_mb"] + 0 > rss[k] + 0) rss[k] = f["peak_rss_mb"]
  }
  END {
    for (k in eps) {
      n = split(substr(eps[k], 2), v, " ")
      # insertion sort
      for (i = 2; i <= n; i++) { x = v[i] + 0; j = i - 1; while (j > 0 && v[j] + 0 > x) { v[j + 1] = v[j]; j-- } v[j + 1] = x }
      med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      printf "%-22s median %6.2fM  (%6.2fM - %6.2fM)  n=%d  peak_rss_mb=%s\n", k, med / 1e6, v[1] / 1e6, v[n] / 1e6, n, rss[k]
    }
  }' "$OUT" | sort
