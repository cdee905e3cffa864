#!/bin/bash
# Rerun evidence on the default ResNet-50 workload: RUNS unchanged runs of `pytest bench/` (default
# workload, profile and selection) with every long-run measurement on every variant
# (--qp-long-run=all). The first is saved as baseline "reruns"; each later one is gated against it
# (--qp-compare=reruns --qp-fail-on-regression). reruns.py then reads every record: leak and
# slowdown flags, the recommended variant, the scores, what the gate said, and the run's timing.
#
#   examples/regression_evidence/reruns.sh [OUT_DIR]       (RUNS=3 by default; 15-25 minutes a run
#                                                          on a 2-vCPU machine, the first with builds)
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mkdir -p "${1:-/tmp/qp-reruns}" && cd "${1:-/tmp/qp-reruns}" && pwd)
RUNS=${RUNS:-3}
PY=${PY:-$REPO/.venv/bin/python}
cd "$REPO"
COMMON=(bench/ --qp-long-run=all --qp-results-dir="$OUT/results" -p no:cacheprovider -q)
rm -rf "$OUT/results" "$OUT/logs"; mkdir -p "$OUT/logs"
"$PY" -m pytest "${COMMON[@]}" --qp-save-baseline=reruns > "$OUT/logs/run1.txt" 2>&1
for i in $(seq 2 "$RUNS"); do
  "$PY" -m pytest "${COMMON[@]}" --qp-compare=reruns --qp-fail-on-regression > "$OUT/logs/run$i.txt" 2>&1
  echo "run $i: pytest exit $?" >> "$OUT/logs/exits.txt"
done
"$PY" "$REPO/examples/regression_evidence/reruns.py" "$OUT" | tee "$OUT/logs/summary.txt"
