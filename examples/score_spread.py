"""Each variant's score over several records of the same workload, as the recorded verdict gave it
and as this checkout's scoring gives it from the same results (the spread is the most minus the
least): how much a score moves between unchanged runs; each record's ready set, recorded and
rescored, with the variants not ready only for a hard gate too close to call ("at gate"); and the
reference's batch-1 median at its thread count (its latency test) beside its time at one thread
against the machine-speed probe (the 10th percentiles of the paired calls, measure/probe.py): a
score that moves with the first while the second stays put moved with the machine's parallel
speed, not with the model.

    python examples/score_spread.py RECORD.json [RECORD.json ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from qpbench.measure.probe import PROBE
from qpbench.record import RunRecord
from qpbench.results import LatencyResult, PairedResult
from qpbench.verdict import Verdict, scoring


def ready_set(verdict: Verdict) -> str:
    return ", ".join(sorted(v.variant for v in verdict.variants if v.ready)) or "none"


def reference_speed(record: RunRecord) -> str:
    reference = record.verdict.reference
    latency = next((r for r in record.results_of(LatencyResult) if r.variant == reference and r.batch_size == 1), None)
    probe = next((r for r in record.results_of(PairedResult) if r.variant == reference and r.reference == PROBE), None)
    parts = [f"{reference} batch-1 median {np.median(latency.samples_s) * 1e3:.1f} ms" if latency else "no batch-1 timing"]
    if probe:
        mine, probe_s = np.percentile(probe.variant_s, 10) * 1e3, np.percentile(probe.reference_s, 10) * 1e3
        parts.append(f"at one thread {mine:.1f} ms, the probe {probe_s:.2f} ms (ratio {mine / probe_s:.1f})")
    return "; ".join(parts)


def main(paths: list[str]) -> None:
    before: dict[str, list[float]] = {}
    after: dict[str, list[float]] = {}
    for path in paths:
        record = RunRecord.load(Path(path))
        screened = dict(record.verdict.screened_out)
        verdict = scoring.score(record.results, record.verdict.config, record.verdict.reference, record.errors,
                                screened_out=screened)
        for v in record.verdict.variants:
            before.setdefault(v.variant, []).append(v.score)
        for v in verdict.variants:
            after.setdefault(v.variant, []).append(v.score)
        print(f"{path}: recommended {verdict.recommended} (recorded {record.verdict.recommended}); "
              f"screened out {', '.join(screened) or 'none'}; score basis {', '.join(verdict.score_basis) or 'all'}")
        print(f"  ready: {ready_set(verdict)} (recorded {ready_set(record.verdict)}); at gate: "
              + (", ".join(v.variant for v in verdict.variants if v.at_gate) or "none"))
        print("  " + reference_speed(record))
    print(f"{'variant':16s} {'recorded scores':40s} spread  {'rescored':40s} spread")
    for name in before:
        b, a = before[name], after.get(name, [])
        fmt = lambda xs: " ".join(f"{x:.0f}" for x in xs)  # noqa: E731
        print(f"{name:16s} {fmt(b):40s} {max(b) - min(b):5.1f}   {fmt(a):40s} {max(a) - min(a) if a else 0:5.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
