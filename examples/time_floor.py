"""What a run would take if every measurement stopped at its profile's floor: a lower bound on the
time of the same run, from the per-call times its own record measured.

    python examples/time_floor.py RESULTS/runs/RECORD.json [...]

For each variant measured in full, the floor of each measurement kind at the record's batch-1
and larger-batch medians: the latency test at every batch size (``min_rounds`` calls and
``latency_min_s``, after ``warmup_rounds``), the paired timing against the reference
(``MEASURE.min_pairs`` pairs), throughput (``throughput_min_s`` after two warm-up batches), the
stress run (``stress_min_iterations`` after ``stress_warmup``), LoadGen (SingleStream and Offline
at ``loadgen_min_queries``, one Server test at the ``server_qps`` target), concurrency
(``concurrency_s`` per configuration) and the accuracy pass (its samples at batch 16). Builds,
kernels, tool agreement and memory are taken as the record measured them. Not counted: starting
worker processes, importing the runtimes, loading models, a stress extension, Server tests beyond
the first, anything a timing measured past its floor to reach its precision. The total
counts the accuracy pass unless the record's predictions came from the build cache (a warm run,
whose builds are then the cache's loads).
"""

from __future__ import annotations

import sys
from collections import defaultdict

from qpbench.config import Targets, get_profile
from qpbench.measure.defaults import MEASURE
from qpbench.record import RunRecord
from qpbench.run.clock import fmt_s as fmt
from qpbench.results import AccuracyResult, LatencyResult, StressResult

ACCURACY_BATCH = 16  # measure/predictions.predictions


def floors(record: RunRecord) -> dict[str, dict[str, float]]:
    """{variant: {measurement kind: seconds at its floor}} for the variants the record measured in full."""
    profile = get_profile(record.profile)
    per_image: dict[str, dict[int, float]] = defaultdict(dict)
    for r in record.results_of(LatencyResult):
        per_image[r.variant][r.batch_size] = r.summary()["per_image_ms"]["p50"] / 1e3
    samples = {r.variant: r.n_samples for r in record.results_of(AccuracyResult)}
    full = {r.variant for r in record.results_of(StressResult)}
    reference = record.verdict.reference
    out: dict[str, dict[str, float]] = {}
    for variant, times in per_image.items():
        if variant not in full or 1 not in times:
            continue
        b1 = times[1]
        latency = sum(max(profile.min_rounds * b * t, profile.latency_min_s) + profile.warmup_rounds * b * t
                      for b, t in times.items())
        paired = max(MEASURE.min_pairs * (b1 + per_image[reference][1]), profile.latency_min_s)
        batch = profile.throughput_batch
        throughput = profile.throughput_min_s + 2 * batch * times.get(batch, b1)
        loadgen = (max(profile.loadgen_min_queries * b1, profile.loadgen_min_duration_s)
                   + max(profile.loadgen_min_queries * min(times.values()), profile.loadgen_min_duration_s)
                   + profile.loadgen_min_queries / Targets().server_qps)
        configurations = len(profile.concurrency_threads) + len([n for n in profile.concurrency_processes if n > 1])
        out[variant] = {
            "accuracy": samples.get(variant, 0) * times.get(ACCURACY_BATCH, b1),
            "latency/throughput": latency + paired + throughput,
            "stress": (profile.stress_min_iterations + profile.stress_warmup) * b1,
            "LoadGen": loadgen,
            "concurrency": configurations * profile.concurrency_s,
        }
    return out


def main(paths: list[str]) -> None:
    for path in paths:
        record = RunRecord.load(path)
        per_variant = floors(record)
        stages = (record.timing or {}).get("stages_s", {})
        kinds = ["accuracy", "latency/throughput", "stress", "LoadGen", "concurrency"]
        total = {k: sum(v[k] for v in per_variant.values()) for k in kinds}
        measured = {k: float(stages.get(k, 0.0)) for k in ("builds", "kernels", "memory")}
        warm = all(r.predictions_from for r in record.results_of(AccuracyResult))
        if warm:
            total["accuracy"] = 0.0  # reused from the build cache
        bound = sum(total.values()) + sum(measured.values())
        print(f"{path}: {len(per_variant)} variants in full, run time {fmt(float((record.timing or {}).get('wall_s', 0)))}")
        print("  at the floor: " + ", ".join(f"{k} {fmt(s)}" for k, s in total.items()))
        print("  as measured: " + ", ".join(f"{k} {fmt(s)}" for k, s in measured.items()))
        print(f"  lower bound: {fmt(bound)} ({'warm: predictions from the build cache' if warm else 'cold'})")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
