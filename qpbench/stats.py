"""Statistics over raw samples, on scipy.stats (the distributions and tests every reviewer knows)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from types import ModuleType

PERCENTILES = (50, 90, 95, 99)


def sps() -> ModuleType:
    """``scipy.stats``, imported when a statistic is first computed: importing qpbench's plugin
    (every pytest run in its environment does) loads no scipy."""
    import scipy.stats

    return scipy.stats


def percentiles(samples: Sequence[float], qs: Sequence[float] = PERCENTILES) -> dict[str, float]:
    """Percentiles with linear interpolation (numpy's default), keyed 'p50', 'p95', ..."""
    if len(samples) == 0:
        raise ValueError("percentiles of an empty sample")
    values = np.percentile(np.asarray(samples, dtype=float), list(qs))
    return {f"p{q:g}": float(v) for q, v in zip(qs, values)}


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")  # undefined for constant input; scoring treats NaN as a fail
    return float(sps().pearsonr(a, b).statistic)


def rankdata(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank)."""
    return sps().rankdata(np.asarray(x, dtype=float))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(sps().spearmanr(a, b).statistic)


def t_quantile(p: float, df: int) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    return float(sps().t.ppf(p, df))


@dataclass(frozen=True)
class Trend:
    """A linear trend: slope per unit of x with its confidence interval."""

    slope: float
    low: float
    high: float
    confidence: float
    n_blocks: int

    @property
    def significant_increase(self) -> bool:
        return self.low > 0


STEP_STANDS_OUT = 2.0  # a rise is a step of its own when it is at least this many times every other rise


def without_largest_rise(values: Sequence[float]) -> np.ndarray:
    """``values`` with their largest rise between two neighbouring samples taken out (subtracted
    from every sample after it) when it stands out, at least ``STEP_STANDS_OUT`` times every other
    rise: what a memory trend is fitted on, since one step is not a trend. A leak grows again and
    again in rises alike (pages, or its own chunks), so none of them stands out and its slope is
    kept whole; noise has no rise that stands out either. Memory that grew once and stayed (a heap
    extended past a freed block that no longer fits, a cache filled late) is a step and flat around
    it. In the detector series on the AVX-512 AMD EPYC such steps (84-288 KB of RSS, the next rise
    at most 36 KB, the heap in use flat) fell inside 1000-call extensions of slowing models and had
    read as leaks of 0.31-0.44 MB per 1000 calls."""
    v = np.array(values, dtype=float)
    if len(v) < 2:
        return v
    rises = np.nan_to_num(np.diff(v), nan=0.0)
    at = int(np.argmax(rises))
    others = np.delete(rises, at)
    if rises[at] > 0 and rises[at] >= STEP_STANDS_OUT * others.max(initial=0.0):
        v[at + 1:] -= rises[at]
    return v


def memory_trend(values: Sequence[float], start: int, n_blocks: int, confidence: float) -> Trend:
    """The growth of a memory series (RSS or the heap in use) from ``start`` on, per sample, fitted
    with a step that stands out taken out (``without_largest_rise``): how a leak is judged, both by
    the stress run's own rules and by its result."""
    return block_trend(range(start, len(values)), without_largest_rise(values[start:]), n_blocks, confidence)


def block_trend(
    x: Sequence[float], y: Sequence[float], n_blocks: int = 10, confidence: float = 0.95, center: str = "mean",
    covariate: Sequence[float] | None = None,
) -> Trend:
    """Slope of ``y`` over ``x`` with a confidence interval, from block summaries.

    Consecutive samples of RSS or latency are autocorrelated, so an ordinary
    least-squares interval over the raw samples is far too narrow. The series is
    cut into ``n_blocks`` consecutive blocks; each block's mean (or median, for
    latencies with outliers) is a nearly independent observation, and the OLS
    slope over those, with a t interval on n_blocks - 2 degrees of freedom, is
    the trend.

    ``covariate``, aligned with ``y`` (NaN where it was not sampled), is summarised
    per block the same way and fitted beside ``x``: the slope is then the trend
    with the covariate held fixed (n_blocks - 3 degrees of freedom). The stress run
    passes the machine-speed probe's times here, so the machine slowing down or
    speeding up during the run is not read as the model's trend.
    """
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    if xs.shape != ys.shape or xs.ndim != 1:
        raise ValueError(f"x and y must be 1-d of the same length, got {xs.shape} and {ys.shape}")
    if n_blocks < 3:
        raise ValueError(f"a trend needs at least 3 blocks, got {n_blocks}")
    if len(xs) < n_blocks:
        raise ValueError(f"{len(xs)} samples cannot make {n_blocks} blocks")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    summarize = np.nanmedian if center == "median" else np.nanmean
    parts = np.array_split(np.arange(len(xs)), n_blocks)
    bx = np.array([xs[p].mean() for p in parts])
    by = np.array([summarize(ys[p]) for p in parts])
    columns = [np.ones(n_blocks), bx - bx.mean()]
    if float((columns[1] ** 2).sum()) == 0:
        raise ValueError("x does not vary: no trend can be fitted")
    if covariate is not None:
        cs = np.asarray(covariate, dtype=float)
        if cs.shape != ys.shape:
            raise ValueError(f"the covariate must be aligned with y, got {cs.shape} and {ys.shape}")
        if any(np.isnan(cs[p]).all() for p in parts):
            raise ValueError(f"the covariate has no sample in some of the {n_blocks} blocks")
        bc = np.array([summarize(cs[p]) for p in parts])
        if n_blocks > 3 and bc.std() > 0:  # a covariate that never moved explains nothing
            columns.append(bc - bc.mean())
    design = np.column_stack(columns)
    dof = n_blocks - design.shape[1]
    if design.shape[1] == 2:  # x alone: the closed form (centred x is orthogonal to the intercept)
        dx = columns[1]
        slope = float((dx * (by - by.mean())).sum() / (dx**2).sum())
        resid = by - by.mean() - slope * dx
        se = math.sqrt(float((resid**2).sum()) / dof / float((dx**2).sum()))
    else:
        coef, *_ = np.linalg.lstsq(design, by, rcond=None)
        resid = by - design @ coef
        slope = float(coef[1])
        se = math.sqrt(float((resid**2).sum()) / dof * float(np.linalg.inv(design.T @ design)[1, 1]))
    half = t_quantile(0.5 + confidence / 2, dof) * se
    return Trend(slope, slope - half, slope + half, confidence, n_blocks)
