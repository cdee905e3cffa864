"""When a timing measurement stops: once its statistic is known well enough for the decision
it feeds, between a floor and a ceiling (docs/engine.md, "How long").

A ``StopRule`` names the statistic (the median per call, the mean per batch, the median of
paired ratios), the relative width of its 95% interval that is precise enough, and the
floor and ceiling of samples and seconds. A latency at batch 1 feeds the p95 target too: it
also needs the p95's interval on one side of the target ("decided"). The worker checks the
rule between blocks of calls (``measure_until``), as MLPerf LoadGen's early stopping checks
its percentile between queries; what the measurement reached is kept with the figure
(``Precision``).

Intervals: a quantile's is distribution-free, between order statistics whose ranks come
(scipy.stats.quantile_test, qpbench.stats); a mean's is Student's t. Where too few
samples exist for an order statistic, that end of the interval is infinite.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from qpbench.config import Profile
from qpbench.measure.defaults import MEASURE
from qpbench.timing import time_calls
from qpbench.stats import mean_interval, quantile_interval, samples_to_bound, windows_interval

STATISTICS = ("median", "mean")


@dataclass(frozen=True)
class StopRule:
    statistic: str  # "median" (of per-call times or of paired ratios) or "mean" (per batch, for throughput)
    rel_width: float  # precise enough: the interval's full width over the estimate
    min_samples: int
    max_samples: int
    min_s: float
    max_s: float
    # (quantile, per-call seconds) of every tail criterion with a target (the p95's by default,
    # criteria.py): the timing goes on until each quantile's interval is clear of its target.
    tail_targets: tuple[tuple[float, float], ...] = ()
    # The median's interval spans the medians of this many consecutive windows of the samples: a
    # timing that sat in one of the machine's levels for a second cannot look precise.
    windows: int = 1

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {STATISTICS}, got {self.statistic!r}")
        if not (self.rel_width > 0 and 1 <= self.min_samples <= self.max_samples and 0 <= self.min_s <= self.max_s):
            raise ValueError(f"inconsistent stopping rule {self}")


@dataclass(frozen=True)
class Precision:
    """What a measurement reached when it stopped."""

    statistic: str
    estimate: float
    low: float
    high: float
    rel_width: float  # inf when the interval is open at one end
    wanted_rel_width: float
    n: int
    elapsed_s: float
    stopped: str  # "precise", or the ceiling that stopped it: "max_samples", "max_s"
    p95_decided: bool | None = None  # whether the p95 is clear of its target; None: no p95 target

    @property
    def precise(self) -> bool:
        return self.rel_width <= self.wanted_rel_width

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else
                    (round(v, 6) if isinstance(v, float) else v)) for k, v in asdict(self).items()}


def precision_of(samples: Sequence[float], rule: StopRule, elapsed_s: float, stopped: str = "") -> Precision:
    if rule.statistic == "median":
        estimate = float(np.median(samples))
        low, high = windows_interval(samples, rule.windows, *quantile_interval(samples, 0.5))
    else:
        estimate = float(np.mean(samples))
        low, high = mean_interval(samples)
    width = (high - low) / estimate if estimate > 0 and math.isfinite(high - low) else math.inf
    p95 = dict(rule.tail_targets).get(0.95)
    decided = None if p95 is None else tail_decided(samples, 0.95, p95)
    return Precision(rule.statistic, estimate, low, high, width, rule.rel_width, len(samples), elapsed_s, stopped,
                     decided)


def tail_decided(samples: Sequence[float], q: float, target: float) -> bool:
    """Whether the ``q`` quantile's interval lies wholly on one side of ``target`` (clearly met or
    clearly missed)."""
    low, high = quantile_interval(samples, q)
    return high <= target or low > target


def check(samples: Sequence[float], rule: StopRule, elapsed_s: float) -> Precision | None:
    """The precision reached when the rule says stop now; None to go on."""
    n = len(samples)
    if n >= rule.max_samples:
        return precision_of(samples, rule, elapsed_s, "max_samples")
    if n < rule.min_samples:  # the floor of samples holds even past the time ceiling
        return None
    if elapsed_s >= rule.max_s:
        return precision_of(samples, rule, elapsed_s, "max_s")
    if elapsed_s < rule.min_s:
        return None
    reached = precision_of(samples, rule, elapsed_s, "precise")
    if reached.precise and all(tail_decided(samples, q, target) for q, target in rule.tail_targets):
        return reached
    return None


def rule_for(kind: str, profile: Profile, tail_targets_s: Sequence[Sequence[float]] = ()) -> StopRule:
    """The profile's rule for a ``kind`` of timing: "latency" (per batch size, its median's interval
    over ``MEASURE.latency_windows`` windows; with per-call tail targets ((quantile, seconds): the
    p95's at batch 1), at least the samples that bound each quantile), "paired" (ratios, at least
    ``MEASURE.min_pairs``) or "throughput"."""
    if kind == "throughput":
        return StopRule("mean", profile.precision, 2, 10**6, profile.throughput_min_s, profile.throughput_s)
    if kind == "paired":
        floor = max(MEASURE.min_pairs, profile.min_rounds)
        return StopRule("median", profile.precision, floor, max(floor, profile.max_rounds), profile.latency_min_s,
                        profile.latency_budget_s)
    # A timing that feeds a tail target takes the samples that bound that quantile before it is judged
    # (72 for a p95, 368 for a p99: both ends of a 95% interval).
    tails = tuple((float(q), float(target)) for q, target in tail_targets_s)
    floor = max([profile.min_rounds, *(samples_to_bound(q) for q, _ in tails)])
    return StopRule("median", profile.precision, floor, max(floor, profile.max_rounds), profile.latency_min_s,
                    profile.latency_budget_s, tails, windows=MEASURE.latency_windows)


def block_size(call_s: float, rule: StopRule, block_s: float = 0.25) -> int:
    """Calls between two checks: about ``block_s`` of them, never past the sample ceiling."""
    per_block = int(block_s // call_s) if call_s > 0 and math.isfinite(call_s) else rule.max_samples
    return max(1, min(rule.max_samples, per_block))


def measure_until(fn: Callable[[], object], rule: StopRule, call_s: float, warmup: int = 0,
                  timer: Callable[[], float] = time.perf_counter) -> tuple[list[float], Precision]:
    """Per-call times of ``fn`` (through ``qpbench.timing``) in blocks until ``rule`` says stop."""
    block = block_size(call_s, rule)
    samples = time_calls(fn, 0, timer, warmup)
    start = timer()
    while True:
        samples += time_calls(fn, min(block, rule.max_samples - len(samples)), timer)
        reached = check(samples, rule, timer() - start)
        if reached is not None:
            return samples, reached

