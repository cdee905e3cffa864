"""The readiness criteria: one entry each, and everything about a criterion is in its entry.

An entry knows which results its value comes from and how several are combined (the best
throughput, the worst stress run), the 95% interval of the value it took, its direction, unit,
column label and decimals, whether the screen measures it, and its default target, weight and
hard gate. ``config.Targets``, the scoring (``verdict/scoring.py``), the too-close-to-call calls
(``criterion_calls.py``) and every report (``render/view.py``) read this table, so a new
criterion is a new entry.

A criterion whose default target is None is off: it is not judged, shown or measured for until
a user sets a target (``--qp-target=NAME=VALUE``). A latency criterion with ``bounds_quantile``
makes the batch-1 timing take the samples that bound that quantile once its target is set.

This module reads results by their ``kind`` and attributes and imports no other part of
qpbench but ``stats``, so the settings (config.py) can be built from it.

Met, missed or too close to call (``call``): each criterion's 95% interval against its target.

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

How the verdict treats an inconclusive criterion (documented in docs/scoring.md): the score and
``passed`` use the estimate, so a gate on the score does not flip on noise it cannot see; a hard
gate must be met beyond the noise for the variant to be ready (an inconclusive one is a reason
it is not: "too close to call", on whichever side its estimate fell, so a variant at the gate
is not ready in one run and ready in the next); the record keeps every criterion's interval and
call, the tables mark an inconclusive figure with "?", and a recommendation line names each
inconclusive hard gate with its interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from qpbench.stats import pearson_interval, quantile_interval

Interval = tuple[float, float]
MET, MISSED, INCONCLUSIVE = "met", "missed", "inconclusive"
# Passing on the estimate, with too few samples for the interval's far end: neither met nor too
# close to call (a p95 from fewer than 72 calls, stats.samples_to_bound).
UNBOUNDED = "unbounded"
SCREEN, AFTER_SCREEN = "screen", "after screen"  # when a criterion's measurement runs (screening.py)


def positive(value: float) -> str | None:
    return None if value > 0 else "> 0"


def non_negative(value: float) -> str | None:
    return None if value >= 0 else ">= 0"


def correlation(value: float) -> str | None:
    return None if 0 < value <= 1 else "in (0, 1]"


def fraction(value: float) -> str | None:
    return None if 0 <= value < 1 else "in [0, 1)"


@dataclass(frozen=True)
class Criterion:
    name: str
    unit: str
    higher_is_better: bool
    description: str
    short: str  # the column label of every report
    kind: str  # the kind of result the value comes from
    value: Callable[[Any], float | None]  # from one result of that kind; None: this one does not count
    combine: str = "last"  # over several results of a variant: "last", "best", "worst" (floored at 0), "sum"
    # The 95% interval of the value taken, from the result it came from and every result of the variant.
    interval: Callable[[Any, Sequence[Any]], Interval | None] | None = None
    decimals: int | None = None  # None: 1, or 0 from 10,000 on
    stage: str = AFTER_SCREEN
    target: float | None = None  # the default target; None: off until a user sets one
    weight: float = 0.0  # the default weight in the score
    gate: bool = False  # a hard gate by default
    valid: Callable[[float], str | None] = positive  # a target's requirement, said when it fails
    reference_value: float | None = None  # the reference variant's own value, where it has an accuracy result
    bounds_quantile: float | None = None  # the batch-1 calls' quantile the timing must bound when targeted


def _per_image_ms(r: Any, q: float) -> Interval | None:
    if len(r.samples_s) < 2:
        return None
    low, high = quantile_interval(r.samples_s, q)
    return low * 1e3 / r.batch_size, high * 1e3 / r.batch_size


def _stress_per_image_ms(r: Any, q: float) -> Interval | None:
    if len(r.latencies_s) < 2:
        return None
    low, high = quantile_interval(r.latencies_s, q)
    return low * 1e3 / r.batch_size, high * 1e3 / r.batch_size


def joined(a: Interval | None, b: Interval | None) -> Interval | None:
    """From the lower of two intervals' lower ends to the higher of their upper ends."""
    if a is None or b is None:
        return a or b
    return min(a[0], b[0]), max(a[1], b[1])


def across_processes(q: float) -> Callable[[Any, Sequence[Any]], Interval | None]:
    """The batch-1 ``q`` quantile's interval over the windows the run timed it in: the latency
    test's (a few seconds in the variant's worker) joined with every stress run's (a fresh process,
    400 calls or more). On the 2-vCPU AMD EPYC the stress run's p95 of eager and optimized ResNet-50
    read 51-60 ms where the latency test's read 34-41 ms: one short window put a target of 50 ms
    clearly met, the longer ones put it missed."""
    def interval(r: Any, results: Sequence[Any]) -> Interval | None:
        stress = None
        for s in results:
            if s.kind == "stress" and s.batch_size == 1:
                stress = joined(stress, _stress_per_image_ms(s, q))
        return joined(_per_image_ms(r, q), stress)
    return interval


def _throughput_interval(r: Any, results: Sequence[Any]) -> Interval | None:
    """Images per second from the interval of the mean batch time its stopping rule recorded."""
    p = r.precision or {}
    low, high = p.get("low"), p.get("high")
    if not low or not high or low <= 0:
        return None
    return r.batch_size / high, r.batch_size / low


def _batch1(attr: str, key: str | None = None) -> Callable[[Any], float | None]:
    def value(r: Any) -> float | None:
        if r.batch_size != 1:
            return None
        v = getattr(r, attr)
        return v[key] if key is not None else v
    return value


# The readiness criteria, in the order reports show them.
CRITERIA: dict[str, Criterion] = {c.name: c for c in (
    Criterion("latency_p95_ms", "ms", False, "batch-1 p95 latency per image", "p95 b1 ms/img", "latency",
              _batch1("per_image_ms", "p95"), interval=across_processes(0.95), stage=SCREEN, target=50.0,
              weight=0.30, gate=True, bounds_quantile=0.95),
    # Off until a target is set (--qp-target=latency_p99_ms=N): then the batch-1 timing takes the
    # samples that bound a p99 (368) and the criterion is judged, shown and weighted.
    Criterion("latency_p99_ms", "ms", False, "batch-1 p99 latency per image", "p99 b1 ms/img", "latency",
              _batch1("per_image_ms", "p99"), interval=across_processes(0.99), stage=SCREEN, weight=0.10,
              bounds_quantile=0.99),
    Criterion("throughput_ips", "images/s", True, "sustained throughput", "img/s", "throughput",
              lambda r: r.images_per_s, combine="best", interval=_throughput_interval, target=20.0, weight=0.15),
    # Memory is judged too, but the CUDA build of torch alone exceeds 512 MiB: not a hard gate by default.
    Criterion("peak_rss_mb", "MiB", False, "peak RSS of a fresh serving process", "peak RSS MiB", "memory",
              _batch1("peak_rss_mb"), target=512.0, weight=0.15),  # batch 1: the serving case the target means
    Criterion("pearson", "", True, "Pearson correlation with the labels", "Pearson", "accuracy",
              lambda r: r.pearson, interval=lambda r, _: pearson_interval(r.pearson, r.n_samples), decimals=3,
              stage=SCREEN, target=0.90, weight=0.30, gate=True, valid=correlation),
    Criterion("fidelity_loss", "", False, "relative Pearson loss against the fp32 reference", "fidelity loss",
              "fidelity", lambda r: r.pearson_loss_rel, interval=lambda r, _: r.loss_interval, decimals=3,
              stage=SCREEN, target=0.05, weight=0.10,
              gate=True, valid=fraction, reference_value=0.0),
    # Long-run behaviour (docs/measurement.md, "Stress, leaks, concurrency and the Server scenario"):
    # soft criteria, each a small share next to the plan's speed and accuracy.
    Criterion("leak_mb_per_1k", "MiB/1k", False, "significant RSS growth per 1000 inferences (0 when not significant)",
              "leak MB/1k", "stress", lambda r: r.leak_mb_per_1k, combine="worst",
              interval=lambda r, _: r.leak_interval_mb_per_1k, decimals=2, target=0.25, weight=0.05),
    Criterion("slowdown_pct", "%", False, "significant latency increase over an extended run (0 when not significant)",
              "slowdown %", "stress", lambda r: r.slowdown_pct, combine="worst",
              interval=lambda r, _: r.slowdown_interval_pct, target=10.0, weight=0.05),
    Criterion("concurrency_faults", "", False,
              "requests that failed or disagreed with serial outputs under concurrency", "conc. faults",
              "concurrency", lambda r: float(r.faults), combine="sum", decimals=0, target=0.0, weight=0.05,
              valid=non_negative),
    Criterion("server_qps", "QPS", True, "highest Server-scenario QPS with p99 latency within server_p99_ms",
              "server QPS", "server_search", lambda r: r.max_valid_qps, target=10.0, weight=0.10),
)}


@dataclass(frozen=True)
class Measured:
    value: float
    interval: Interval | None


def measure(crit: Criterion, results: Sequence[Any]) -> Measured | None:
    """The criterion's value from one variant's results, and the interval of the result it took."""
    found = [(r, v) for r in results if r.kind == crit.kind for v in [crit.value(r)] if v is not None]
    if not found:
        return None
    if crit.combine == "sum":
        return Measured(float(sum(v for _, v in found)), None)
    if crit.combine == "best":  # the highest; of equal ones the last
        chosen, value = max(reversed(found), key=lambda rv: rv[1] if crit.higher_is_better else -rv[1])
    elif crit.combine == "worst":  # the highest; of equal ones the first; 0 when none is above it
        chosen, value = max(found, key=lambda rv: rv[1])
        if not value > 0:
            return Measured(0.0, None)
    else:
        chosen, value = found[-1]
    interval = crit.interval(chosen, results) if crit.interval is not None else None
    return Measured(float(value), interval)


def measured(results: Iterable[Any], reference: str) -> dict[str, dict[str, Measured]]:
    """Per variant, each criterion it has a value for, in the order the results first give the
    variant one (a built variant appears even with none)."""
    by_kind: dict[str, list[Criterion]] = {}
    for crit in CRITERIA.values():
        by_kind.setdefault(crit.kind, []).append(crit)
    by_variant: dict[str, list[Any]] = {}
    order: dict[str, None] = {}
    for r in results:
        by_variant.setdefault(r.variant, []).append(r)
        if (r.kind == "variant" and not r.skipped) or any(c.value(r) is not None for c in by_kind.get(r.kind, ())):
            order.setdefault(r.variant)
    out: dict[str, dict[str, Measured]] = {}
    for variant in order:
        rs = by_variant[variant]
        values = {}
        for crit in CRITERIA.values():
            m = measure(crit, rs)
            if m is None and crit.reference_value is not None and variant == reference \
                    and any(r.kind == "accuracy" for r in rs):
                m = Measured(crit.reference_value, None)  # the reference against itself
            if m is not None:
                values[crit.name] = m
        out[variant] = values
    return out


def active(targets: Any) -> list[Criterion]:
    """The criteria judged under ``targets`` (config.Targets): those with a target."""
    return [c for c in CRITERIA.values() if getattr(targets, c.name) is not None]


def tail_targets_s(targets: Any) -> list[list[float]]:
    """(quantile, per-call seconds at batch 1) of every tail latency criterion with a target: what
    the batch-1 timing must bound and decide (the p95's by default)."""
    return [[c.bounds_quantile, getattr(targets, c.name) / 1e3] for c in active(targets) if c.bounds_quantile]


def check_target(name: str, value: Any) -> None:
    """Raises ValueError naming the requirement a target value misses."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"target {name} must be a finite number, got {value!r}")
    crit = CRITERIA.get(name)
    need = crit.valid(value) if crit is not None else positive(value)
    if need is not None:
        raise ValueError(f"target {name} must be {need}, got {value}")


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
