#!/bin/bash
# Rerun evidence for the regression gate on this machine: one baseline, N unchanged
# reruns, one rerun with a planted 20% slowdown of one variant ("planted", eager plus
# busy work of 20% of its own call time). Each rerun is gated by qpbench and, on the
# same run, by pytest-benchmark's --benchmark-compare-fail=median:5%.
#
#   examples/regression_evidence/run.sh [OUT_DIR]     (N=5 by default; about 20 s a run)
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$REPO/examples/regression_evidence"
OUT=$(mkdir -p "${1:-/tmp/qp-evidence}" && cd "${1:-/tmp/qp-evidence}" && pwd)
N=${N:-5}
PY=${PY:-$REPO/.venv/bin/python}
cd "$REPO"
export PYTHONPATH="$REPO:$HERE"
COMMON=(bench/test_latency.py bench/test_speed.py --qp-workload=compact --qp-profile=quick
        --qp-variants=eager,planted -p planted --qp-results-dir="$OUT/results"
        --benchmark-storage="file://$OUT/bm" -p no:cacheprovider -q)
GATES=(--qp-compare=base --qp-fail-on-regression --benchmark-compare=0001 --benchmark-compare-fail=median:5%)
rm -rf "$OUT/results" "$OUT/bm" "$OUT/logs"; mkdir -p "$OUT/logs"
"$PY" -m pytest "${COMMON[@]}" --qp-save-baseline=base > "$OUT/logs/base.txt" 2>&1
for i in $(seq 1 "$N"); do
  "$PY" -m pytest "${COMMON[@]}" "${GATES[@]}" --qp-compare-markdown="$OUT/logs/rerun$i.md" > "$OUT/logs/rerun$i.txt" 2>&1
done
QP_PLANT_SLOWDOWN=0.2 "$PY" -m pytest "${COMMON[@]}" "${GATES[@]}" --qp-compare-markdown="$OUT/logs/planted.md" \
    > "$OUT/logs/planted.txt" 2>&1
cd "$OUT/logs"
# qpbench's verdict from the Markdown each run wrote; pytest-benchmark's from its terminal output.
for f in rerun*.txt planted.txt; do
  md="${f%.txt}.md"
  qp=$(grep "^- .*: .*interval" "$md" | grep -v "not gated" | sed 's/^- \([^:]*\):.*/\1/' | paste -sd ';')
  ng=$(grep -c "not gated" "$md")
  pb=$(grep "PercentageRegressionCheck" "$f" | sed 's/.*test_latency\[\([^]]*\)\].*Check: \([0-9.]*\).*/\1 +\2%/' | paste -sd ';')
  printf '%-12s qpbench gate: %-4s [%s] (+%s reported, not gated)   pytest-benchmark median:5%%: %-4s [%s]\n' "$f" \
    "$(grep -q 'FAIL qpbench regression gate' "$md" && echo FAIL || echo pass)" "$qp" "$ng" \
    "$(grep -q 'Performance has regressed' "$f" && echo FAIL || echo pass)" "$pb"
done
