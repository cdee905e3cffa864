#!/bin/bash
# Rerun evidence for the default regression gate on this machine, on the compact model given as a
# user model (examples/regression_evidence/planted.py:slowed_compact, the shipped compact CNN and
# checkpoint; bench/test_latency.py and bench/test_speed.py, quick profile, eager + planted).
#
# Baselines: "base", R unchanged runs (--qp-save-baseline, then --qp-add-to-baseline), and
# "single", the first of them alone. Then candidate runs, each gated against "base" by the run
# itself (--qp-compare=base --qp-fail-on-regression) and by pytest-benchmark's
# --benchmark-compare-fail=median:5% (against run 1); judge.py then judges every candidate's record
# against both baselines and counts:
#   clean   N unchanged reruns                                   (a flag is a false alarm)
#   model   M runs with the whole model 20% slower (QP_PLANT_MODEL_SLOWDOWN=0.2: eager and
#           every variant slow together, as a code change in the model would do)
#   variant M runs with one variant 20% slower (QP_PLANT_SLOWDOWN=0.2: "planted", eager plus
#           busy work of 20% of its own call time)
#   hog     K unchanged reruns with a busy loop on one vCPU during the run (a flag is a false alarm)
#
#   examples/regression_evidence/run.sh [OUT_DIR]     (R=5 N=5 M=3 K=2 by default; about 15 s a run,
#                                                       a few minutes a hog run)
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$REPO/examples/regression_evidence"
OUT=$(mkdir -p "${1:-/tmp/qp-evidence}" && cd "${1:-/tmp/qp-evidence}" && pwd)
R=${R:-5}; N=${N:-5}; M=${M:-3}; K=${K:-2}
PY=${PY:-$REPO/.venv/bin/python}
cd "$REPO"
export PYTHONPATH="$REPO:$HERE"
COMMON=(bench/test_latency.py bench/test_speed.py --qp-model-factory=planted:slowed_compact
        --qp-checkpoint=qpbench/models/weights/qp_compact.pt --qp-input-size=64 --qp-profile=quick
        --qp-variants=eager,planted -p planted --qp-results-dir="$OUT/results"
        --benchmark-storage="file://$OUT/bm" -p no:cacheprovider -q)
GATES=(--qp-compare=base --qp-fail-on-regression --benchmark-compare=0001 --benchmark-compare-fail=median:5%)
rm -rf "$OUT/results" "$OUT/bm" "$OUT/logs"; mkdir -p "$OUT/logs"
"$PY" -m pytest "${COMMON[@]}" --qp-save-baseline=base > "$OUT/logs/base1.txt" 2>&1
for i in $(seq 2 "$R"); do
  "$PY" -m pytest "${COMMON[@]}" --qp-add-to-baseline=base > "$OUT/logs/base$i.txt" 2>&1
done
candidate() {  # NAME: one gated run (judge.py judges its record against both baselines again)
  "$PY" -m pytest "${COMMON[@]}" "${GATES[@]}" --qp-compare-markdown="$OUT/logs/$1.md" > "$OUT/logs/$1.txt" 2>&1
}
for i in $(seq 1 "$N"); do candidate "clean$i"; done
for i in $(seq 1 "$M"); do QP_PLANT_MODEL_SLOWDOWN=0.2 candidate "model$i"; done
for i in $(seq 1 "$M"); do QP_PLANT_SLOWDOWN=0.2 candidate "variant$i"; done
for i in $(seq 1 "$K"); do
  "$PY" -c "while True: pass" & HOG=$!
  candidate "hog$i"
  kill "$HOG"
done
"$PY" "$HERE/judge.py" "$OUT" | tee "$OUT/logs/summary.txt"
