"""Met, missed or too close to call: each criterion's 95% interval against its target.

A figure judged against a target is itself an estimate. Where its samples give an interval,
the call compares the whole interval with the target:

- ``met``: the interval lies on the passing side (the target is met beyond the noise);
- ``missed``: it lies on the failing side;
- ``inconclusive``: it contains the target, so another run could call it either way.

Intervals: the batch-1 p95 from its calls (distribution-free, order statistics: the same
interval the stopping rule keeps measuring on while it contains the target), joined with the
same interval over the stress run's batch-1 calls where there is one (``p95_across_processes``:
a fresh process, hundreds of calls over another stretch of the run), so that two windows of
the run that put the p95 on different sides of the target make it too close to call; throughput from
the precision its stopping rule recorded (mean batch time, Student's t); Pearson from its
samples (Fisher's z); RSS growth (the leak) from its trend's slope over the settled, and
where a trend appeared extended, stress run (the worst run's, as the figure is), when that
growth is significant at all; the slowdown from the whole stress run's latency trend, carried
over its length, when one is reported (it was confirmed on the extension first). Criteria with
one value per run (peak memory) or none (concurrency faults) have no interval and are met or
missed.

How the verdict treats an inconclusive criterion (documented in docs/measurement.md): the score,
``passed`` and readiness use the estimate, as before, so a gate on the score does not flip on
noise it cannot see; the record keeps every criterion's interval and call, the tables mark an
inconclusive figure with "?", and a recommendation line names each inconclusive hard gate with
its interval, so a reader knows which calls another run could reverse.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable


from qpbench.results import AccuracyResult, LatencyResult, Result, StressResult, ThroughputResult
from qpbench.stats import pearson_interval, quantile_interval

MET, MISSED, INCONCLUSIVE = "met", "missed", "inconclusive"
# Passing on the estimate, with too few samples for the interval's far end: neither met nor too
# close to call (a p95 from fewer than 72 calls, stats.samples_to_bound).
UNBOUNDED = "unbounded"
Interval = tuple[float, float]


def throughput_interval(r: ThroughputResult) -> Interval | None:
    """Images per second from the interval of the mean batch time its stopping rule recorded."""
    p = r.precision or {}
    low, high = p.get("low"), p.get("high")
    if not low or not high or low <= 0:
        return None
    return r.batch_size / high, r.batch_size / low


def p95_interval(r: LatencyResult) -> Interval | None:
    """Per-image ms of the p95 of batch-1 calls."""
    low, high = quantile_interval(r.samples_s, 0.95)
    return (low * 1e3 / r.batch_size, high * 1e3 / r.batch_size) if len(r.samples_s) >= 2 else None


def stress_p95_interval(r: StressResult) -> Interval | None:
    """Per-image ms of the p95 of a stress run's calls (after warm-up, its extension included)."""
    if len(r.latencies_s) < 2:
        return None
    low, high = quantile_interval(r.latencies_s, 0.95)
    return low * 1e3 / r.batch_size, high * 1e3 / r.batch_size


def p95_across_processes(latency: Interval | None, stress: Interval | None) -> Interval | None:
    """The batch-1 p95's interval over the windows the run timed it in: the latency test's (a few
    seconds in the variant's worker) and the stress run's (a fresh process, 400 calls or more),
    from the lower of their lower ends to the higher of their upper ends. On the 2-vCPU AMD EPYC
    the stress run's p95 of eager and optimized ResNet-50 read 51-60 ms where the latency test's
    read 34-41 ms (LoadGen's SingleStream, in the latency test's own worker, read 43-57 ms): one
    short window put a target of 50 ms clearly met, the longer ones put it missed."""
    if latency is None or stress is None:
        return latency or stress
    return min(latency[0], stress[0]), max(latency[1], stress[1])


def intervals(results: Iterable[Result]) -> dict[str, dict[str, Interval]]:
    """Per variant, the 95% interval of each criterion whose samples give one."""
    out: dict[str, dict[str, Interval]] = defaultdict(dict)
    best_ips: dict[str, float] = {}
    worst_leak: dict[str, float] = {}
    worst_slowdown: dict[str, float] = {}
    stress_p95: dict[str, Interval] = {}
    results = list(results)
    for r in results:
        if isinstance(r, StressResult) and r.batch_size == 1:
            joined = p95_across_processes(stress_p95.get(r.variant), stress_p95_interval(r))
            if joined is not None:
                stress_p95[r.variant] = joined
    for r in results:
        found: tuple[str, Interval | None] | None = None
        if isinstance(r, LatencyResult) and r.batch_size == 1:
            found = "latency_p95_ms", p95_across_processes(p95_interval(r), stress_p95.get(r.variant))
        elif isinstance(r, ThroughputResult) and r.images_per_s >= best_ips.get(r.variant, 0.0):
            best_ips[r.variant] = r.images_per_s  # the criterion takes the best throughput: its interval too
            found = "throughput_ips", throughput_interval(r)
        elif isinstance(r, AccuracyResult):
            found = "pearson", pearson_interval(r.pearson, r.n_samples)
        elif isinstance(r, StressResult) and r.leak_mb_per_1k > worst_leak.get(r.variant, 0.0):
            worst_leak[r.variant] = r.leak_mb_per_1k  # the criterion takes the worst run: its interval too
            found = "leak_mb_per_1k", r.leak_interval_mb_per_1k
        if found is not None and found[1] is not None:
            out[r.variant][found[0]] = found[1]
        if isinstance(r, StressResult) and r.slowdown_pct > worst_slowdown.get(r.variant, 0.0):
            worst_slowdown[r.variant] = r.slowdown_pct  # the worst run's, as the figure is
            if r.slowdown_interval_pct is not None:
                out[r.variant]["slowdown_pct"] = r.slowdown_interval_pct
    return dict(out)


def call(value: float, interval: Interval | None, target: float, higher_is_better: bool) -> str:
    """met, missed, inconclusive (the interval contains the target) or unbounded (passing on the
    estimate, but the interval's far end is open: too few samples to bound it); met or missed
    without an interval."""
    if not math.isfinite(value):
        return MISSED
    low, high = interval if interval is not None else (value, value)  # an open end (inf) decides nothing
    if higher_is_better:
        if low == -math.inf and value >= target:
            return UNBOUNDED
        return MET if low >= target else MISSED if high < target else INCONCLUSIVE
    if high == math.inf and value <= target:
        return UNBOUNDED
    return MET if high <= target else MISSED if low > target else INCONCLUSIVE
