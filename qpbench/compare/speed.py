"""How a speed figure changed from the baseline's: the ratios timed in pairs in the same run
(a variant against the reference, the reference against the machine-speed probe), judged per
run on the median over its processes, against the spread of the baseline's runs, and only
while the machine ran at its usual speed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qpbench import stats
from qpbench.compare.judge import COMPARISON
from qpbench.record import RunRecord
from qpbench.results import PairedResult


def bootstrap_probe_change(baseline: PairedResult, current: PairedResult,
                           quantile: float = COMPARISON.latency_quantile) -> tuple[float, float, float]:
    """How the reference's time against the probe changed: the ratio of the two sides' low
    quantiles (p10) in each run, current over baseline, minus 1, with its bootstrap interval."""
    return stats.bootstrap_ratio_change((baseline.variant_s, baseline.reference_s),
                                        (current.variant_s, current.reference_s), quantile,
                                        COMPARISON.bootstrap_resamples, COMPARISON.confidence)


def probe_ratio(r: PairedResult, quantile: float = COMPARISON.latency_quantile) -> float:
    """The reference's low-quantile time over the probe's."""
    return float(np.quantile(r.variant_s, quantile)) / probe_speed(r, quantile)


def speed_samples(record: RunRecord) -> dict[tuple[str, str], PairedResult]:
    """(variant, metric) -> the interleaved A/B result: ``speed_ratio_b1`` of a variant against the
    reference, ``time_vs_probe_b1`` of the reference against the machine-speed probe (measure/probe.py).
    Its ``ratios`` are the per-pair time ratios compared."""
    return {(r.variant, speed_metric(r)): r for r in record.results_of(PairedResult)}


def speed_metric(r: PairedResult) -> str:
    return f"time_vs_probe_b{r.batch_size}" if r.reference.startswith("probe") else f"speed_ratio_b{r.batch_size}"


def process_statistic(r: PairedResult) -> float:
    """The figure the speed comparison judges, from one process's pairs: the median per-pair
    ratio, or the reference's p10 time over the probe's."""
    return probe_ratio(r) if r.reference.startswith("probe") else float(np.median(r.ratios))


def run_statistic(r: PairedResult) -> float:
    """The run's figure: its process's, or the median over it and its reruns in fresh processes."""
    return float(np.median([process_statistic(r), *r.reruns])) if r.reruns else process_statistic(r)


def run_statistics(record: RunRecord) -> dict[str, float]:
    """'VARIANT METRIC' -> the statistic the speed comparison judges, for one run (``run_statistic``);
    and 'probe-vN p10_s', the machine's speed in that run (the probe's own p10)."""
    out = {}
    for (variant, metric), r in speed_samples(record).items():
        if len(r.variant_s) < 2:
            continue
        out[f"{variant} {metric}"] = run_statistic(r)
        if metric.startswith("time_vs_probe"):
            out[f"{r.reference} p10_s"] = probe_speed(r)
    return out


def probe_speed(r: PairedResult, quantile: float = COMPARISON.latency_quantile) -> float:
    """The probe's own p10 in seconds: how fast the machine ran while the pair was timed."""
    return float(np.quantile(r.reference_s, quantile))


def at_usual_speed(speed: float, usual: float, tolerance: float = COMPARISON.probe_speed_tolerance) -> bool:
    return abs(math.log(speed / usual)) <= math.log1p(tolerance)


def machine_speed_apart(speeds: Sequence[float], current: float) -> str | None:
    """Why the reference/probe ratio is not compared: the machine ran at another speed than it
    usually did in the baseline's runs (the median of their probe p10s), beyond the tolerance."""
    if not speeds:
        return None
    usual = float(np.median(speeds))
    if at_usual_speed(current, usual):
        return None
    return (f"the machine ran {abs(current / usual - 1):.0%} {'slower' if current > usual else 'faster'} than in the "
            f"baseline (probe p10 {current * 1e3:.2f} vs {usual * 1e3:.2f} ms): in such spells the model and the "
            "probe do not change speed alike, so their ratio is not compared; rerun")


def usual_runs(runs: Sequence[float], speeds: Sequence[float | None]) -> list[float]:
    """The baseline runs taken at the machine's usual speed (those without a speed are kept)."""
    known = [s for s in speeds if s]
    if not known:
        return list(runs)
    usual = float(np.median(known))
    return [r for r, s in zip(runs, speeds) if not s or at_usual_speed(s, usual)]


def baseline_runs(record: RunRecord) -> list[dict[str, float]]:
    """The statistics of every run a baseline holds: its own, then the runs added to it
    (--qp-add-to-baseline)."""
    return [run_statistics(record), *({k: float(v) for k, v in run["statistics"].items()}
                                      for run in (record.baseline or {}).get("runs", []))]


@dataclass(frozen=True)
class SpeedChange:
    """A speed figure's change from the baseline, with the interval the verdict compares."""

    base: float
    cur: float
    change: float
    low: float
    high: float
    basis: str  # what the interval holds, for the verdict's reason


def speed_change(variant: str, metric: str, ra: PairedResult, rb: PairedResult,
                 runs: Sequence[Mapping[str, float]]) -> SpeedChange | str:
    """How a speed figure changed from the baseline's (``ra``, with the statistics of the
    baseline's ``runs``), or why it is not compared.

    The interval holds the variation within the run (a bootstrap over the pairs) and, when the
    baseline holds two runs or more, the variation between runs (``over_runs``). A run whose figure
    was measured again in fresh processes (``reruns``) is judged on the median over its processes:
    the interval of its pairs is moved to that median, and the spread is that of its processes
    against the baseline's runs (a two-sample t interval on the logs, ``scipy.stats.ttest_ind``),
    so processes that disagree widen it."""
    against_probe = metric.startswith("time_vs_probe")
    name = f"{variant} {metric}"
    values = [run[name] for run in runs if name in run]
    if against_probe:  # the ratio holds only while the machine runs at its usual speed
        speeds = [run.get(f"{ra.reference} p10_s") for run in runs if name in run]
        why = machine_speed_apart([s for s in speeds if s], probe_speed(rb))
        if why:
            return why
        values = usual_runs(values, speeds)
    if len(ra.ratios) < 2 or len(rb.ratios) < 2:
        return "fewer than two paired samples"
    base, cur = run_statistic(ra), run_statistic(rb)
    change, low, high = (bootstrap_probe_change(ra, rb) if against_probe
                         else stats.bootstrap_median_ratio(ra.ratios, rb.ratios, COMPARISON.bootstrap_resamples,
                                                           COMPARISON.confidence))
    shift = (cur / process_statistic(rb)) / (base / process_statistic(ra))
    change, low, high = ((1 + x) * shift - 1 for x in (change, low, high))
    basis = ""
    if len(values) >= 2:  # the baseline's runs give the rerun-to-rerun spread: the interval holds both
        change, spread_low, spread_high = stats.over_runs(values, cur, COMPARISON.confidence)
        base = float(np.exp(np.mean(np.log(values))))  # what the change is from
        if rb.reruns:  # this run's processes against the baseline's runs: Student's t on the logs
            spread_low, spread_high = stats.log_ratio_interval([process_statistic(rb), *rb.reruns], values,
                                                               COMPARISON.confidence)
        low, high = min(low, spread_low), max(high, spread_high)
        basis = f" (over {len(values)} baseline runs and this run's own)"
    if rb.reruns:
        basis += (f"; this run's figure is the median of {1 + len(rb.reruns)} processes (out of line with the "
                  f"baseline in the first: {process_statistic(rb):.4g}, then "
                  + ", ".join(f"{x:.4g}" for x in rb.reruns) + " in fresh processes)")
    return SpeedChange(base, cur, change, low, high, basis)
