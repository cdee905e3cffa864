"""Small, dependency-free statistics over raw samples."""

from __future__ import annotations

import math
from collections.abc import Sequence

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


def is_finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
