#!/bin/bash
# Does the recommendation hold? RUNS unchanged default runs of `pytest bench/` (the first with an
# empty build cache), then one with torch work planted between a runtime variant's calls
# (planted.py: openvino-int8-torch-between, added to the default selection); after each, the
# runtimes' own tools on the run's artifacts (recommendation.py tools). Then the summary.
#
#   examples/regression_evidence/recommendation.sh [OUT_DIR]     (RUNS=5 unchanged, PLANT_AT=6; 10-16 minutes a run)
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mkdir -p "${1:-/tmp/qp-recommendation}" && cd "${1:-/tmp/qp-recommendation}" && pwd)
RUNS=${RUNS:-5}
PY=${PY:-$REPO/.venv/bin/python}
HERE="$REPO/examples/regression_evidence"
cd "$REPO"
export QPBENCH_CACHE_DIR="$OUT/cache"
rm -rf "$OUT/results" "$OUT/logs" "$OUT/cache"; mkdir -p "$OUT/logs"
after() {  # the tools on the run's artifacts, right after it
  record=$(sed -n 's/^results: \(.*\.json\)$/\1/p' "$OUT/logs/$1.txt" | tail -1)
  [ -n "$record" ] && "$PY" "$HERE/recommendation.py" tools "$record" > "$OUT/logs/$1.tools.json" 2>>"$OUT/logs/$1.txt"
}
DEFAULT=eager,optimized,fx-int8,pt2e-int8,onnx-fp32,onnx-int8,openvino-fp32,openvino-int8
PLANT_AT=${PLANT_AT:-$((RUNS + 1))}  # which run is the planted one (the others are unchanged)
for i in $(seq 1 $((RUNS + 1))); do
  if [ "$i" = "$PLANT_AT" ]; then
    PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m pytest bench/ -q -p no:cacheprovider -p planted \
      --qp-results-dir="$OUT/results" --qp-variants="$DEFAULT,openvino-int8-torch-between" > "$OUT/logs/run$i.txt" 2>&1
    echo "run $i (planted): pytest exit $? at $(date -u +%H:%M)" >> "$OUT/logs/exits.txt"
  else
    "$PY" -m pytest bench/ -q -p no:cacheprovider --qp-results-dir="$OUT/results" > "$OUT/logs/run$i.txt" 2>&1
    echo "run $i: pytest exit $? at $(date -u +%H:%M)" >> "$OUT/logs/exits.txt"
  fi
  after "run$i"
done
"$PY" "$HERE/recommendation.py" summary "$OUT" | tee "$OUT/logs/summary.txt"
