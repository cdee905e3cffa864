"""Small, dependency-free statistics over raw samples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

PERCENTILES = (50, 90, 95, 99)


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
    return float(np.corrcoef(a, b)[0, 1])


def rankdata(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), as scipy.stats.rankdata."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=float)
    sorted_x = x[order]
    boundaries = np.flatnonzero(np.diff(sorted_x)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(x)]])
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e - 1) / 2.0 + 1.0
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return pearson(rankdata(a), rankdata(b))


def t_quantile(p: float, df: int) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom.

    Cornish-Fisher expansion around the normal quantile (Abramowitz & Stegun
    26.7.5): within 0.05 of the exact value for df >= 3 at p <= 0.995 (0.001 at df >= 8), which is
    all a confidence interval over a handful of blocks needs.
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))  # Cauchy: exact
    if df == 2:
        return (2 * p - 1) * math.sqrt(2.0 / (4 * p * (1 - p)))  # exact
    z = NormalDist().inv_cdf(p)
    v = float(df)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
            + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4))


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


def block_trend(
    x: Sequence[float], y: Sequence[float], n_blocks: int = 10, confidence: float = 0.95, center: str = "mean"
) -> Trend:
    """Slope of ``y`` over ``x`` with a confidence interval, from block summaries.

    Consecutive samples of RSS or latency are autocorrelated, so an ordinary
    least-squares interval over the raw samples is far too narrow. The series is
    cut into ``n_blocks`` consecutive blocks; each block's mean (or median, for
    latencies with outliers) is a nearly independent observation, and the OLS
    slope over those, with a t interval on n_blocks - 2 degrees of freedom, is
    the trend.
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
    summarize = np.median if center == "median" else np.mean
    parts = np.array_split(np.arange(len(xs)), n_blocks)
    bx = np.array([xs[p].mean() for p in parts])
    by = np.array([summarize(ys[p]) for p in parts])
    dx = bx - bx.mean()
    sxx = float((dx**2).sum())
    if sxx == 0:
        raise ValueError("x does not vary: no trend can be fitted")
    slope = float((dx * (by - by.mean())).sum() / sxx)
    resid = by - by.mean() - slope * dx
    se = math.sqrt(float((resid**2).sum()) / (n_blocks - 2) / sxx)
    half = t_quantile(0.5 + confidence / 2, n_blocks - 2) * se
    return Trend(slope, slope - half, slope + half, confidence, n_blocks)
