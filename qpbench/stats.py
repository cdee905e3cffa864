"""Statistics over raw samples, on scipy.stats (the distributions and tests every reviewer knows)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
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


def pearson_along(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Pearson's r of many pairs of samples at once, along ``axis`` (a bootstrap's resamples),
    in plain numpy: ``pearson`` one pair at a time through scipy would cost a call per resample."""
    xc = x - x.mean(axis=axis, keepdims=True)
    yc = y - y.mean(axis=axis, keepdims=True)
    return (xc * yc).sum(axis=axis) / np.sqrt((xc**2).sum(axis=axis) * (yc**2).sum(axis=axis))


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


CONFIDENCE = 0.95  # of every interval unless said otherwise
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_BATCH = 250  # resamples held at once: bounds the memory of a bootstrap over thousands of pairs


def quantile_interval(samples: Sequence[float], q: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The distribution-free interval of the ``q`` quantile: the order statistics
    ``scipy.stats.quantile_test`` gives; an end the samples are too few to bound is infinite."""
    x = np.asarray(samples, dtype=np.float64)
    if len(x) == 0:
        return -math.inf, math.inf
    ci = sps().quantile_test(x, q=0.0, p=q).confidence_interval(confidence)
    low, high = float(ci.low), float(ci.high)
    return (-math.inf if math.isnan(low) else low), (math.inf if math.isnan(high) else high)


def samples_to_bound(q: float, confidence: float = CONFIDENCE) -> int:
    """The fewest samples whose ``q`` quantile has a finite upper end in ``quantile_interval``
    (72 for the p95 at 95%, 368 for the p99: both ends, as every interval here): fewer cannot say the quantile is under any target."""
    alpha = 1.0 - confidence
    n = 1
    while int(sps().binom.ppf(1 - alpha / 2, n, q)) + 1 > n:
        n += 1
    return n


def mean_interval(samples: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student's t interval of the mean."""
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < 2:
        return -math.inf, math.inf
    scale = float(x.std(ddof=1)) / math.sqrt(len(x))
    if scale == 0:  # every sample alike: the mean is known exactly (scipy's t has no zero scale)
        return float(x.mean()), float(x.mean())
    low, high = sps().t.interval(confidence, len(x) - 1, loc=float(x.mean()), scale=scale)
    return float(low), float(high)


def windows_interval(samples: Sequence[float], windows: int, low: float, high: float) -> tuple[float, float]:
    """(low, high) widened to every window's median: consecutive parts of the samples, each of at
    least 3 (fewer samples: unchanged)."""
    if windows < 2 or len(samples) < 3 * windows:
        return low, high
    medians = [float(np.median(part)) for part in np.array_split(np.asarray(samples, dtype=np.float64), windows)]
    return min(low, *medians), max(high, *medians)


def pearson_interval(r: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Fisher's z interval of a Pearson correlation from ``n`` pairs."""
    if n < 4 or not math.isfinite(r) or abs(r) >= 1.0:
        return None
    half = float(sps().norm.ppf(0.5 + confidence / 2)) / math.sqrt(n - 3)
    z = math.atanh(r)
    return math.tanh(z - half), math.tanh(z + half)


def over_runs(runs: Sequence[float], current: float, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """The current run's statistic against the spread of independent baseline runs: its change from
    their geometric mean, and the prediction interval a new unchanged run falls in (Student's t on
    the logs, R-1 degrees of freedom, widened by sqrt(1 + 1/R)), moved to the current value."""
    logs = np.log(np.asarray(runs, dtype=float))
    n = len(logs)
    if n < 2 or current <= 0 or not np.isfinite(logs).all():
        raise ValueError("a spread over runs needs at least two positive baseline runs")
    shift = math.log(current) - float(logs.mean())
    half = float(sps().t.ppf(0.5 + confidence / 2, n - 1)) * float(logs.std(ddof=1)) * math.sqrt(1 + 1 / n)
    return math.expm1(shift), math.expm1(shift - half), math.expm1(shift + half)


def log_ratio_interval(current: Sequence[float], baseline: Sequence[float],
                       confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The interval of current / baseline - 1 from independent runs of each: the two-sample t
    interval (``scipy.stats.ttest_ind``, pooled variance) on the logs, turned back into a change."""
    ci = sps().ttest_ind(np.log(np.asarray(current, dtype=float)),
                         np.log(np.asarray(baseline, dtype=float))).confidence_interval(confidence)
    return math.expm1(ci.low), math.expm1(ci.high)


def bootstrap_median_ratio(
    baseline: Sequence[float], current: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE, seed: int = 0, quantile: float = 0.5,
) -> tuple[float, float, float]:
    """q(current) / q(baseline) - 1 for the median (or another ``quantile``), with a
    percentile bootstrap interval.

    The two samples are resampled independently (they come from different runs), by
    ``scipy.stats.bootstrap``. Deterministic for a given seed.
    """
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(current, dtype=float)
    if a.size < 2 or b.size < 2:
        raise ValueError("a bootstrap interval needs at least two samples on each side")
    if (a <= 0).any() or (b <= 0).any() or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("samples must be finite and > 0")

    def change(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.quantile(y, quantile, axis=axis) / np.quantile(x, quantile, axis=axis) - 1.0

    interval = sps().bootstrap((a, b), change, n_resamples=resamples, confidence_level=confidence,
                               method="percentile", vectorized=True, rng=np.random.default_rng(seed)
                               ).confidence_interval
    return float(change(a, b)), float(interval.low), float(interval.high)


def bootstrap_ratio_change(
    baseline: tuple[Sequence[float], Sequence[float]], current: tuple[Sequence[float], Sequence[float]],
    quantile: float, resamples: int = BOOTSTRAP_RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0,
) -> tuple[float, float, float]:
    """How the ratio of two samples' ``quantile`` changed, current (a, b) over baseline (a, b),
    minus 1, with a percentile bootstrap interval that resamples the four samples independently
    (``scipy.stats.bootstrap``). Deterministic for a given seed."""
    samples = [np.asarray(x, dtype=float) for x in (*baseline, *current)]
    if min(x.size for x in samples) < 2:
        raise ValueError("a bootstrap interval needs at least two samples on each side")

    def change(av: np.ndarray, ar: np.ndarray, bv: np.ndarray, br: np.ndarray, axis: int = -1) -> np.ndarray:
        def q(x: np.ndarray) -> np.ndarray:
            return np.quantile(x, quantile, axis=axis)

        return (q(bv) / q(br)) / (q(av) / q(ar)) - 1.0

    interval = sps().bootstrap(samples, change, n_resamples=resamples, confidence_level=confidence,
                               method="percentile", vectorized=True, rng=np.random.default_rng(seed)
                               ).confidence_interval
    return float(change(*samples)), float(interval.low), float(interval.high)


def paired_bootstrap(
    statistic: Callable[..., np.ndarray], samples: Sequence[np.ndarray], confidence: float = CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A statistic of paired samples (one value or several, each computed along the last axis)
    with its percentile bootstrap interval, resampling the pairs together
    (``scipy.stats.bootstrap`` with ``paired=True``). Deterministic for a given seed.
    (value, low, high), each an array with one entry per value of the statistic."""
    arrays = [np.asarray(x, dtype=float) for x in samples]
    if arrays[0].size < 2:
        raise ValueError("a bootstrap interval needs at least two pairs")
    value = np.atleast_1d(statistic(*arrays, axis=-1))
    interval = sps().bootstrap(arrays, statistic, n_resamples=resamples, confidence_level=confidence,
                               method="percentile", vectorized=True, paired=True, batch=BOOTSTRAP_BATCH,
                               rng=np.random.default_rng(seed)).confidence_interval
    return value, np.atleast_1d(interval.low), np.atleast_1d(interval.high)


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
    if design.shape[1] == 2:  # x alone: ordinary least squares
        if float(np.ptp(by)) == 0:  # a flat series: no slope, known exactly (linregress gives NaN)
            slope, se = 0.0, 0.0
        else:
            fit = sps().linregress(bx, by)
            slope, se = float(fit.slope), float(fit.stderr)
    else:  # with the covariate: least squares on both, the slope's standard error from (X'X)^-1
        coef, *_ = np.linalg.lstsq(design, by, rcond=None)
        resid = by - design @ coef
        slope = float(coef[1])
        se = math.sqrt(float((resid**2).sum()) / dof * float(np.linalg.inv(design.T @ design)[1, 1]))
    half = t_quantile(0.5 + confidence / 2, dof) * se
    return Trend(slope, slope - half, slope + half, confidence, n_blocks)
