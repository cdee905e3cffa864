"""Long-run results: the stress run (leak and slowdown), concurrency, MLPerf LoadGen scenarios and
the Server search.

Units are in the field names; ``_mb`` is MiB (2**20 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

from qpbench.schema.shape import NULL_IS_NAN, Written

import numpy as np

from qpbench import stats


def latency_trend(latencies: Sequence[float], probe_s: Sequence[float | None] | None, start: int, n_blocks: int,
                  confidence: float = 0.95) -> stats.Trend:
    """The latency trend from ``start`` on, in s per inference (block medians). With the probe's
    times, twice the blocks and the probe's block medians fitted beside the call number: a trend
    of the machine's speed is then not the model's."""
    x = range(start, len(latencies))
    # None between probes reads as NaN; the stress loop's own array passes through without a copy.
    covariate = np.asarray(probe_s[start:], dtype=float) if probe_s is not None and len(probe_s) else None
    if covariate is not None and len(covariate) >= 2 * n_blocks and all(
            (~np.isnan(part)).any() for part in np.array_split(covariate, 2 * n_blocks)):
        return stats.block_trend(x, latencies[start:], 2 * n_blocks, confidence, "median", covariate)
    return stats.block_trend(x, latencies[start:], n_blocks, confidence, "median")


@dataclass(frozen=True)
class StressResult(Written):
    """One extended run in a fresh process: per-inference latency and RSS after warm-up.

    The same run gives the leak trend (RSS over inferences) and the latency
    degradation (latency over inferences); both are block trends with a
    confidence interval (``stats.block_trend``), not one start-to-end delta.
    """

    kind: ClassVar[str] = "stress"
    __json_derived__ = ("summary",)  # written for readers of the file
    variant: str
    batch_size: int
    warmup: int  # inferences before the first sample
    baseline_rss_mb: float  # after imports, before building the model
    peak_rss_mb: float  # VmHWM over imports, build, warm-up and the run
    latencies_s: tuple[float, ...]  # one per inference after warm-up
    rss_mb: tuple[float, ...]  # RSS right after each of those inferences
    n_blocks: int = 10
    confidence: float = 0.95
    # The leak trend is fitted on the last part of the run only: allocator caches and
    # kernel workspaces keep growing for a few hundred inferences after warm-up and then
    # stop, while a leak grows at the same rate all along.
    settle_fraction: float = 0.5
    # Inferences added because a trend appeared (measure/stress.confirmed_stress_loop): the leak
    # and the slowdown are then confirmed on this extension, and RSS growth before it that stopped
    # is warm-up growth, not a leak.
    extended: int = 0
    # The machine-speed probe's time after every few inferences (None between: measure/stress.py),
    # aligned with latencies_s; empty where none ran (the torch-free runtime workers).
    probe_s: tuple[float | None, ...] = ()
    # The memory malloc had handed out after each inference (runtime/rss.heap_in_use_mb), aligned
    # with latencies_s; empty without glibc. A leak of malloc'd memory grows it at once, while RSS
    # lags as long as the leak fills heap holes that freed temporaries left.
    heap_mb: tuple[float, ...] = ()
    # The inferences the run was allowed before any extension (the profile's stress_iterations);
    # a run that showed no trend ends earlier (measure/stress.shown_flat). 0: not recorded.
    planned: int = 0

    def __post_init__(self) -> None:
        for name, series in (("probe slots", self.probe_s), ("heap samples", self.heap_mb)):
            if series and len(series) != len(self.latencies_s):
                raise ValueError(f"{len(self.latencies_s)} latencies but {len(series)} {name}")
        if len(self.latencies_s) != len(self.rss_mb):
            raise ValueError(f"{len(self.latencies_s)} latencies but {len(self.rss_mb)} RSS samples")
        if not 0 <= self.settle_fraction < 1:
            raise ValueError(f"settle_fraction must be in [0, 1), got {self.settle_fraction}")
        if len(self.latencies_s) - self.settled_from < 2 * self.n_blocks:
            raise ValueError(f"a stress run needs at least {2 * self.n_blocks} inferences after settling, "
                             f"got {len(self.latencies_s)} in all")

    @property
    def settled_from(self) -> int:
        if self.extended:
            return len(self.rss_mb) - self.extended
        return int(len(self.rss_mb) * self.settle_fraction)

    @property
    def warmup_growth_mb(self) -> float:
        """RSS growth from the start of the run to the start of its settled part (>= 0)."""
        block = max(1, self.iterations // self.n_blocks)
        start = self.settled_from
        return max(0.0, float(np.mean(self.rss_mb[start:start + block]) - np.mean(self.rss_mb[:block])))

    @property
    def iterations(self) -> int:
        return len(self.latencies_s)

    @cached_property
    def rss_trend(self) -> stats.Trend:
        """RSS growth in MB per inference, over the settled part of the run, a step that stands out
        taken out (``stats.memory_trend``: one step is not a leak)."""
        return stats.memory_trend(self.rss_mb, self.settled_from, self.n_blocks, self.confidence)

    @cached_property
    def heap_trend(self) -> stats.Trend | None:
        """Growth of the malloc'd memory in use in MB per inference, over the settled part of the
        run, judged as RSS is; None without heap samples."""
        if not self.heap_mb:
            return None
        return stats.memory_trend(self.heap_mb, self.settled_from, self.n_blocks, self.confidence)

    @cached_property
    def latency_trend(self) -> stats.Trend:
        """Latency change in seconds per inference (block medians: robust to outliers), with the
        machine-speed probe's times held fixed when the run has them."""
        return latency_trend(self.latencies_s, self.probe_s, 0, self.n_blocks, self.confidence)

    @property
    def leak_mb_per_1k(self) -> float:
        """Growth per 1000 inferences of RSS or of the heap in use, whichever is larger among those
        that are significant, else 0."""
        grew = [t.slope * 1000 for t in (self.rss_trend, self.heap_trend) if t is not None and t.significant_increase]
        return max(grew, default=0.0)

    @property
    def leak_interval_mb_per_1k(self) -> tuple[float, float] | None:
        """The 95% interval of ``leak_mb_per_1k``: that of the trend it comes from (RSS or heap),
        in MB per 1000 inferences; None when neither grew significantly."""
        grew = [t for t in (self.rss_trend, self.heap_trend) if t is not None and t.significant_increase]
        if not grew:
            return None
        worst = max(grew, key=lambda t: t.slope)
        return worst.low * 1000, worst.high * 1000

    @property
    def slowdown_interval_pct(self) -> tuple[float, float] | None:
        """The 95% interval of ``slowdown_pct``: the whole run's latency trend carried over its
        length, in % of the median; None when no slowdown is reported."""
        if self.slowdown_pct <= 0:
            return None
        t = self.latency_trend
        scale = 100.0 * self.iterations / float(np.median(self.latencies_s))
        return t.low * scale, t.high * scale

    @property
    def slowdown_pct(self) -> float:
        """Latency change over the whole run, in % of the median, when significant, else 0."""
        t = self.latency_trend
        median = float(np.median(self.latencies_s))
        if not t.significant_increase or median <= 0:
            return 0.0
        if self.extended:  # confirmed only if the extension goes on slowing down
            start = self.settled_from
            tail = latency_trend(self.latencies_s, self.probe_s, start, self.n_blocks, self.confidence)
            if tail.slope <= 0:
                return 0.0
        return 100.0 * t.slope * self.iterations / median

    def summary(self) -> dict[str, Any]:
        r, lat = self.rss_trend, self.latency_trend
        return {
            "iterations": self.iterations,
            "planned": self.planned,
            "rss_mb_per_1k": {"slope": r.slope * 1000, "low": r.low * 1000, "high": r.high * 1000},
            **({"heap_mb_per_1k": {"slope": h.slope * 1000, "low": h.low * 1000, "high": h.high * 1000}}
               if (h := self.heap_trend) is not None else {}),
            "leak_mb_per_1k": self.leak_mb_per_1k,
            "latency_ms_per_1k": {"slope": lat.slope * 1e6, "low": lat.low * 1e6, "high": lat.high * 1e6},
            "slowdown_pct": self.slowdown_pct,
            "warmup_growth_mb": self.warmup_growth_mb,
            "extended": self.extended,
            "latency_ms": {k: v * 1e3 for k, v in stats.percentiles(self.latencies_s).items()},
        }


@dataclass(frozen=True)
class ConcurrencyResult(Written):
    """Requests served by ``threads`` caller threads, split over ``processes`` processes,
    each process holding one copy of the variant that its threads share."""

    kind: ClassVar[str] = "concurrency"
    __json_derived__ = ("summary",)  # written for readers of the file
    variant: str
    processes: int
    threads: int  # caller threads in all processes together
    batch_size: int
    duration_s: float  # wall span over which the requests ran
    latencies_s: tuple[float, ...]  # per request that succeeded
    errors: int  # requests that raised
    mismatches: int  # requests whose output differs from the serial output for the same input
    max_abs_diff: Annotated[float, NULL_IS_NAN]  # largest difference from the serial outputs
    error_messages: tuple[str, ...] = ()

    @property
    def requests(self) -> int:
        return len(self.latencies_s) + self.errors

    @property
    def images_per_s(self) -> float:
        return len(self.latencies_s) * self.batch_size / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def faults(self) -> int:
        return self.errors + self.mismatches

    def summary(self) -> dict[str, Any]:
        lat = {k: v * 1e3 for k, v in stats.percentiles(self.latencies_s).items()} if self.latencies_s else {}
        return {"images_per_s": self.images_per_s, "latency_ms": lat, "faults": self.faults}


@dataclass(frozen=True)
class LoadGenResult(Written):
    """One MLPerf LoadGen test (performance mode), read from its mlperf_log_summary."""

    kind: ClassVar[str] = "loadgen"
    variant: str
    scenario: Literal["SingleStream", "Offline", "Server"]
    valid: bool  # LoadGen's "Result is: VALID"
    samples_per_s: float  # LoadGen's scenario metric (Offline, Server: completed samples per second)
    latency_ms: dict[str, float]  # percentiles LoadGen reports ("p50", "p90", "p99", ...)
    queries: int  # queries LoadGen issued
    target_qps: float | None = None  # Server: the Poisson arrival rate
    latency_bound_ms: float | None = None  # Server: the p99 latency bound
    log_dir: str = ""
    invalid_reasons: tuple[str, ...] = ()  # LoadGen's checks that said no
    constraints_met: bool = False  # every check but early stopping (for Server: p99 within the bound)


@dataclass(frozen=True)
class ServerSearchResult(Written):
    """The highest Server QPS whose p99 latency LoadGen found within the bound."""

    kind: ClassVar[str] = "server_search"
    variant: str
    latency_bound_ms: float
    max_valid_qps: float  # 0 when no rate tried met the bound
    tried_qps: tuple[float, ...]
    tried_valid: tuple[bool, ...]  # LoadGen's constraints met at each rate tried

