"""What a run would take if every measurement stopped at its profile's floor: a lower bound on the
time of the same run, from the per-call times its own record measured, and what the rest went to.

    python examples/time_floor.py RESULTS/runs/RECORD.json [...]

For each variant, the floor of each measurement kind it got, at the record's batch-1 and
larger-batch medians: the latency test at every batch size it was timed at (``min_rounds`` calls
and ``latency_min_s``, after ``warmup_rounds``), the paired timing against the reference
(``MEASURE.min_pairs`` pairs) and the accuracy pass (the samples it was judged on, at batch 16);
for a variant measured in full also throughput (``throughput_min_s`` after two warm-up batches),
the stress run (``stress_min_iterations`` after ``stress_warmup``), LoadGen (SingleStream and
Offline at ``loadgen_min_queries``, one Server test at the ``server_qps`` target) and concurrency
(``concurrency_s`` per configuration). Builds, kernels, tool agreement and memory are taken as
the record measured them. The worker processes' start-ups (interpreter and imports, the record's
``timing.workers``: qpbench/measure/startup.py) are printed beside it, and what is left of the
run's time past both: measuring past a floor to reach a precision (a p95 near its target, a
stress extension, the Server tests beyond the first), the head-to-head, the test process's own
work. The accuracy pass counts the samples each variant predicted in the run, not those the
build cache served (a warm run's, whose builds are then the cache's loads).
"""

from __future__ import annotations

import sys
from collections import defaultdict

from qpbench.config import Targets, get_profile
from qpbench.measure.defaults import MEASURE
from qpbench.record import RunRecord
from qpbench.run.clock import fmt_s as fmt
from qpbench.results import AccuracyResult, LatencyResult, PairedResult, StressResult

ACCURACY_BATCH = 16  # measure/predictions.predictions


def predicted_samples(record: RunRecord) -> dict[str, int]:
    """{variant: samples it predicted in this run}: the most it was judged on (the first look's, the
    whole set's) less what the build cache served (``predictions_from``). The reference predicts
    every sample any variant's fidelity was judged on, taken as served by the cache where its own
    accuracy was."""
    fresh: dict[str, int] = defaultdict(int)
    cached: dict[str, int] = defaultdict(int)
    for r in record.results_of(AccuracyResult):
        into = cached if r.predictions_from else fresh
        into[r.variant] = max(into[r.variant], r.n_samples)
    out = {v: max(0, fresh[v] - cached[v]) for v in set(fresh) | set(cached)}
    reference = record.verdict.reference
    if fresh.get(reference):
        out[reference] = max([*fresh.values(), *cached.values()])
    return out


def floors(record: RunRecord) -> dict[str, dict[str, float]]:
    """{variant: {measurement kind: seconds at its floor}} for every variant with a batch-1 timing;
    the long runs for those measured in full only."""
    profile = get_profile(record.profile)
    per_image: dict[str, dict[int, float]] = defaultdict(dict)
    for r in record.results_of(LatencyResult):
        per_image[r.variant][r.batch_size] = r.summary()["per_image_ms"]["p50"] / 1e3
    samples = predicted_samples(record)
    full = {r.variant for r in record.results_of(StressResult)}
    reference = record.verdict.reference
    paired = {r.variant for r in record.results_of(PairedResult) if r.reference == reference}
    out: dict[str, dict[str, float]] = {}
    for variant, times in per_image.items():
        if 1 not in times:
            continue
        b1 = times[1]
        latency = sum(max(profile.min_rounds * b * t, profile.latency_min_s) + profile.warmup_rounds * b * t
                      for b, t in times.items())
        if variant in paired and 1 in per_image.get(reference, {}):
            latency += max(MEASURE.min_pairs * (b1 + per_image[reference][1]), profile.latency_min_s)
        out[variant] = {"accuracy": samples.get(variant, 0) * times.get(ACCURACY_BATCH, b1),
                        "latency/throughput": latency}
        if variant not in full:
            continue
        batch = profile.throughput_batch
        out[variant]["latency/throughput"] += profile.throughput_min_s + 2 * batch * times.get(batch, b1)
        loadgen = (max(profile.loadgen_min_queries * b1, profile.loadgen_min_duration_s)
                   + max(profile.loadgen_min_queries * min(times.values()), profile.loadgen_min_duration_s)
                   + profile.loadgen_min_queries / Targets().server_qps)
        configurations = len(profile.concurrency_threads) + len([n for n in profile.concurrency_processes if n > 1])
        out[variant].update({
            "stress": (profile.stress_min_iterations + profile.stress_warmup) * b1,
            "LoadGen": loadgen,
            "concurrency": configurations * profile.concurrency_s,
        })
    return out


KINDS = ("accuracy", "latency/throughput", "stress", "LoadGen", "concurrency")


def main(paths: list[str]) -> None:
    for path in paths:
        record = RunRecord.load(path)
        per_variant = floors(record)
        timing = record.timing or {}
        stages = timing.get("stages_s", {})
        total = {k: sum(v.get(k, 0.0) for v in per_variant.values()) for k in KINDS}
        measured = {k: float(stages.get(k, 0.0)) for k in ("builds", "kernels", "memory")}
        warm = any(r.predictions_from for r in record.results_of(AccuracyResult))
        bound = sum(total.values()) + sum(measured.values())
        wall = float(timing.get("wall_s", 0))
        full = sum(1 for v in per_variant.values() if "stress" in v)
        print(f"{path}: {len(per_variant)} variants, {full} in full, run time {fmt(wall)}")
        print("  at the floor: " + ", ".join(f"{k} {fmt(s)}" for k, s in total.items()))
        print("  as measured: " + ", ".join(f"{k} {fmt(s)}" for k, s in measured.items()))
        print(f"  lower bound: {fmt(bound)} ({'warm: predictions from the build cache' if warm else 'cold'})")
        workers = timing.get("workers")
        if workers:  # inside the builds and the measurements above: not added to the bound
            print(f"  worker processes: {workers['starts']}, interpreter {fmt(workers['start_s'])}, imports "
                  f"{fmt(workers['imports_s'])}, builds and loads {fmt(workers['load_s'])}")
            past = wall - bound - workers["start_s"] - workers["imports_s"]
            print(f"  past the floors, start-ups and builds: {fmt(past)}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
