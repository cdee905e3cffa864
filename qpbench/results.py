"""Typed measurement records. Units are in the field names; ``_mb`` is MiB (2**20 bytes).

Bench tests create these and hand them to the ``qp_record`` fixture; scoring
reads them. ``to_dict``/``result_from_dict`` are for the JSON edge only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from qpbench import stats
from qpbench.config import MEASURE
from qpbench.variant_info import VariantInfo


@dataclass(frozen=True)
class LatencyResult:
    """Raw per-call times of one variant at one batch size."""

    kind: ClassVar[str] = "latency"
    variant: str
    batch_size: int
    samples_s: tuple[float, ...]  # one wall time per call (a whole batch)
    load: dict[str, float] | None = None  # the noise guard: CPUs others used, % stolen (measure/load_watch.py)
    precision: dict[str, Any] | None = None  # what the stopping rule reached (measure/stopping.py)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.samples_s:
            raise ValueError("a latency result needs at least one sample")

    @cached_property
    def per_batch_ms(self) -> dict[str, float]:
        return {k: v * 1e3 for k, v in stats.percentiles(self.samples_s).items()}

    @cached_property
    def per_image_ms(self) -> dict[str, float]:
        return {k: v / self.batch_size for k, v in self.per_batch_ms.items()}

    @property
    def n_samples(self) -> int:
        return len(self.samples_s)

    def summary(self) -> dict[str, Any]:
        return {"per_batch_ms": self.per_batch_ms, "per_image_ms": self.per_image_ms, "n_samples": self.n_samples}


@dataclass(frozen=True)
class ThroughputResult:
    """Images processed back to back until the mean batch time was precise (or the ceiling)."""

    kind: ClassVar[str] = "throughput"
    variant: str
    batch_size: int
    images: int
    duration_s: float
    load: dict[str, float] | None = None  # the noise guard: CPUs others used, % stolen (measure/load_watch.py)
    precision: dict[str, Any] | None = None  # of the mean batch time (measure/stopping.py)

    @property
    def images_per_s(self) -> float:
        return self.images / self.duration_s if self.duration_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        return {"images_per_s": self.images_per_s}


@dataclass(frozen=True)
class MemoryResult:
    """Peak RSS of a fresh process that loaded the variant and ran inference."""

    kind: ClassVar[str] = "memory"
    variant: str
    baseline_rss_mb: float  # after importing torch and qpbench, before building the model
    peak_rss_mb: float  # the process's peak RSS (VmHWM) over imports, build and inference
    batch_size: int
    iterations: int
    torch_build: str  # e.g. "2.14.1+cu130 (CUDA build)": the baseline depends on it
    # RSS at the end of the run split by kind (Linux RssAnon / RssFile): anonymous memory is the
    # process's own; file-backed pages are mapped shared libraries, shareable between processes,
    # and how many are resident depends on the page cache (torch's CUDA build: 236 vs 442 MB of
    # them after `import torch` in two venvs with identical packages, anonymous 287 MB in both).
    rss_anon_mb: float | None = None
    rss_file_mb: float | None = None

    @property
    def increment_mb(self) -> float:
        return self.peak_rss_mb - self.baseline_rss_mb

    def summary(self) -> dict[str, Any]:
        return {"increment_mb": self.increment_mb}


@dataclass(frozen=True)
class BatchSizeResult:
    """A batch size that fits the memory available, from per-sample memory measured
    on the variant (peak RSS at two batch sizes in fresh processes)."""

    kind: ClassVar[str] = "batch_size"
    variant: str
    per_sample_mb: float  # (peak at batch n - peak at batch 1) / (n - 1)
    fixed_mb: float  # peak at batch 1 minus one sample
    available_mb: float  # memory available on this machine when measured
    headroom: float  # share of the available memory the suggestion may use
    suggested_batch_size: int
    measured_batch_sizes: tuple[int, int]


@dataclass(frozen=True)
class AccuracyResult:
    """Predictions against the labels of the evaluation set."""

    kind: ClassVar[str] = "accuracy"
    variant: str
    n_samples: int
    pearson: float
    spearman: float
    mae: float
    rmse: float
    within_005: float  # share of samples with |error| <= 0.05
    within_010: float
    pearson_by_group: dict[str, float] = field(default_factory=dict)
    dataset: str = ""
    predictions_from: str | None = None  # "build cache": the same build's predictions of the same samples, reused


@dataclass(frozen=True)
class FidelityResult:
    """Predictions against the fp32 reference variant's, on the same samples."""

    kind: ClassVar[str] = "fidelity"
    variant: str
    reference: str
    n_samples: int
    max_abs_diff: float
    mean_abs_diff: float
    correlation: float  # Pearson between the two variants' outputs
    pearson_loss_rel: float  # (ref Pearson vs labels - this one's) / ref's: > 0 is a loss


@dataclass(frozen=True)
class PairedResult:
    """Interleaved A/B timing: calls of the variant and of the reference alternate
    (ABBA order) in the same run, so drift of a shared machine hits both alike.
    The per-pair ratio variant/reference is the speed figure that baselines compare."""

    kind: ClassVar[str] = "paired"
    variant: str
    reference: str
    batch_size: int
    variant_s: tuple[float, ...]  # one wall time per call (a whole batch)
    reference_s: tuple[float, ...]  # the reference's call paired with each
    load: dict[str, float] | None = None  # the noise guard: CPUs others used, % stolen (measure/load_watch.py)
    precision: dict[str, Any] | None = None  # of the median ratio, when the stopping rule ended it
    # The same measurement repeated in fresh processes, each one's figure (compare.process_statistic):
    # taken when this run's figure was out of line with the baseline (suite/speed.py).
    reruns: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if len(self.variant_s) != len(self.reference_s) or not self.variant_s:
            raise ValueError("a paired result needs the same number (>= 1) of variant and reference samples")

    @cached_property
    def ratios(self) -> tuple[float, ...]:
        # A call timed at 0 s is below the clock's resolution: no ratio with it means anything.
        return tuple(v / r for v, r in zip(self.variant_s, self.reference_s) if v > 0 and r > 0)

    def summary(self) -> dict[str, Any]:
        return {"median_ratio": stats.percentiles(self.ratios, (50,))["p50"] if self.ratios else None,
                "n_pairs": len(self.variant_s)}


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
class StressResult:
    """One extended run in a fresh process: per-inference latency and RSS after warm-up.

    The same run gives the leak trend (RSS over inferences) and the latency
    degradation (latency over inferences); both are block trends with a
    confidence interval (``stats.block_trend``), not one start-to-end delta.
    """

    kind: ClassVar[str] = "stress"
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
class ConcurrencyResult:
    """Requests served by ``threads`` caller threads, split over ``processes`` processes,
    each process holding one copy of the variant that its threads share."""

    kind: ClassVar[str] = "concurrency"
    variant: str
    processes: int
    threads: int  # caller threads in all processes together
    batch_size: int
    duration_s: float  # wall span over which the requests ran
    latencies_s: tuple[float, ...]  # per request that succeeded
    errors: int  # requests that raised
    mismatches: int  # requests whose output differs from the serial output for the same input
    max_abs_diff: float  # largest difference from the serial outputs
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
class LoadGenResult:
    """One MLPerf LoadGen test (performance mode), read from its mlperf_log_summary."""

    kind: ClassVar[str] = "loadgen"
    variant: str
    scenario: str  # SingleStream, Offline or Server
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
class ServerSearchResult:
    """The highest Server QPS whose p99 latency LoadGen found within the bound."""

    kind: ClassVar[str] = "server_search"
    variant: str
    latency_bound_ms: float
    max_valid_qps: float  # 0 when no rate tried met the bound
    tried_qps: tuple[float, ...]
    tried_valid: tuple[bool, ...]  # LoadGen's constraints met at each rate tried


@dataclass(frozen=True)
class WorkerFailure:
    """A worker process that crashed, was killed by a signal, hung or printed no report."""

    kind: ClassVar[str] = "worker_failure"
    variant: str
    measurement: str  # "build", "latency", "memory", "stress", "concurrency", ...
    failure: str  # "exit", "signal", "timeout" or "no_report"
    reason: str
    returncode: int | None = None
    detail: str = ""  # the last lines of the worker's stderr (faulthandler's traceback of a crash)


PRECISIONS = ("int8", "bf16", "fp16", "fp32")  # what a heavy operator's kernel computes in


@dataclass(frozen=True)
class KernelsResult:
    """Which kernels the heavy operators (convolutions, matrix products) ran with, read from the
    runtime itself after a batch-1 inference: oneDNN's verbose log (PyTorch paths), the
    TorchScript graph's operators (fbgemm's quantized ops print nothing), OpenVINO's runtime
    model or ONNX Runtime's profile. ``expected`` is the precision the variant's name claims."""

    kind: ClassVar[str] = "kernels"
    variant: str
    source: str  # "onednn_verbose", "torchscript_graph", "openvino_runtime_model", "onnxruntime_profile"
    expected: str  # one of PRECISIONS
    conv: dict[str, int]  # convolutions executed per inference, by precision
    matmul: dict[str, int]  # matrix products / fully connected layers, by precision
    implementations: tuple[str, ...] = ()  # kernel names with their ISA, e.g. "brg_conv_fwd:avx512_core_vnni"
    isa: str = ""  # the widest instruction set the kernels name (or the CPU offers, when they do not say)
    provider: str = ""  # the runtime (and execution provider) that ran them
    flops_per_image: float | None = None  # the model's operations for one image (2 per multiply-add), counted once
    peak_ops_per_s: float | None = None  # the machine's peak for ``expected`` on the threads the variant uses
    note: str = ""

    def __post_init__(self) -> None:
        for name, counts in (("conv", self.conv), ("matmul", self.matmul)):
            unknown = set(counts) - set(PRECISIONS)
            if unknown:
                raise ValueError(f"{name} precisions {sorted(unknown)} unknown: choose from {PRECISIONS}")
        if self.expected not in PRECISIONS:
            raise ValueError(f"expected precision {self.expected!r} unknown: choose from {PRECISIONS}")

    @property
    def conv_total(self) -> int:
        return sum(self.conv.values())

    @property
    def fallback_convs(self) -> int:
        """Convolutions that ran in fp32 in a variant that claims a lower precision."""
        return self.conv.get("fp32", 0) if self.expected != "fp32" else 0

    def label(self) -> str:
        """E.g. "int8 53/53 conv (avx512_core_vnni)"; the heavy family that ran, when no convolution did."""
        counts, what = (self.conv, "conv") if self.conv_total else (self.matmul, "matmul")
        total = sum(counts.values())
        if not total:
            return f"no {what} seen"
        top = max(counts, key=lambda p: (counts[p], p == self.expected))
        shown = self.expected if counts.get(self.expected) else top
        return f"{shown} {counts[shown]}/{total} {what}" + (f" ({self.isa})" if self.isa else "")

    def summary(self) -> dict[str, Any]:
        return {"label": self.label(), "fallback_convs": self.fallback_convs}


AGREES, HARNESS_SLOWER, HARNESS_FASTER = "agrees", "harness slower", "harness faster"


@dataclass(frozen=True)
class ToolAgreementResult:
    """The verdict's batch-1 median (the latency test's figure) beside the runtime's own tool on
    the same artifact and settings (OpenVINO's benchmark_app, a bare ONNX Runtime session loop,
    the bare module)."""

    kind: ClassVar[str] = "tool_agreement"
    variant: str
    tool: str  # "benchmark_app", "onnxruntime InferenceSession.run loop"
    harness_ms: float  # the verdict's batch-1 median per call
    tool_ms: float  # the tool's median on the same artifact
    command: str = ""  # how the tool was run
    harness_interval_ms: tuple[float, float] | None = None  # the verdict figure's 95% interval
    tool_interval_ms: tuple[float, float] | None = None  # over the tool's runs or windows
    remeasured: bool = False  # the figure disagreed once and was measured again before this

    @property
    def ratio(self) -> float:
        """harness / tool: 1.05 means the harness reads 5% slower than the tool."""
        return self.harness_ms / self.tool_ms if self.tool_ms > 0 else float("nan")

    @property
    def ratio_interval(self) -> tuple[float, float]:
        """The ratio's interval from both figures' intervals (the point ratio without them)."""
        h_low, h_high = self.harness_interval_ms or (self.harness_ms, self.harness_ms)
        t_low, t_high = self.tool_interval_ms or (self.tool_ms, self.tool_ms)
        low = h_low / t_high if t_high > 0 else float("nan")
        high = h_high / t_low if t_low > 0 else float("inf")
        return low, high

    @property
    def call(self) -> str:
        """``harness slower`` when the whole interval lies above 1 + tolerance, ``harness faster``
        when it lies below 1 / (1 + tolerance), each also by more than ``tool_agreement_abs_ms``
        per call; else ``agrees``."""
        low, high = self.ratio_interval
        h_low, h_high = self.harness_interval_ms or (self.harness_ms, self.harness_ms)
        t_low, t_high = self.tool_interval_ms or (self.tool_ms, self.tool_ms)
        gap = MEASURE.tool_agreement_abs_ms
        if low > 1.0 + MEASURE.tool_agreement_tolerance and h_low - t_high > gap:
            return HARNESS_SLOWER
        if high < 1.0 / (1.0 + MEASURE.tool_agreement_tolerance) and t_low - h_high > gap:
            return HARNESS_FASTER
        return AGREES

    def summary(self) -> dict[str, Any]:
        return {"ratio": self.ratio, "ratio_interval": list(self.ratio_interval), "call": self.call}


@dataclass(frozen=True)
class HeadToHeadResult:
    """Two variants timed against each other at batch 1, calls alternating (ABBA) in one process
    where neither's runtime disturbs the other's (suite/head_to_head.py); the per-pair ratio
    variant/other decides whether they can be told apart (a tie, scoring.py)."""

    kind: ClassVar[str] = "head_to_head"
    variant: str
    other: str
    variant_s: tuple[float, ...]
    other_s: tuple[float, ...]
    load: dict[str, float] | None = None
    precision: dict[str, Any] | None = None  # of the median ratio (its 95% interval: low, high)

    def __post_init__(self) -> None:
        if len(self.variant_s) != len(self.other_s) or not self.variant_s:
            raise ValueError("a head-to-head result needs the same number (>= 1) of samples on both sides")

    @cached_property
    def ratios(self) -> tuple[float, ...]:
        return tuple(v / o for v, o in zip(self.variant_s, self.other_s) if v > 0 and o > 0)

    @property
    def ratio(self) -> float:
        return float(np.median(self.ratios)) if self.ratios else float("nan")

    @property
    def ratio_interval(self) -> tuple[float, float]:
        p = self.precision or {}
        low, high = p.get("low"), p.get("high")
        return (float("-inf") if low is None else low, float("inf") if high is None else high)

    def summary(self) -> dict[str, Any]:
        return {"median_ratio": self.ratio, "ratio_interval": list(self.ratio_interval), "n_pairs": len(self.variant_s)}


RESULT_TYPES = {
    cls.kind: cls
    for cls in (LatencyResult, ThroughputResult, MemoryResult, BatchSizeResult, AccuracyResult, FidelityResult, VariantInfo,
                PairedResult, StressResult, ConcurrencyResult, LoadGenResult, ServerSearchResult, WorkerFailure,
                KernelsResult, ToolAgreementResult, HeadToHeadResult)
}
Result = (LatencyResult | ThroughputResult | MemoryResult | BatchSizeResult | AccuracyResult | FidelityResult | VariantInfo
          | PairedResult | StressResult | ConcurrencyResult | LoadGenResult | ServerSearchResult | WorkerFailure
          | KernelsResult | ToolAgreementResult | HeadToHeadResult)


def jsonable(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None, tuples as lists: JSON has no NaN,
    and None reads back as "not available". Every record part is written through this."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def to_dict(result: Result) -> dict[str, Any]:
    data = {"kind": result.kind, **asdict(result)}
    if hasattr(result, "summary"):
        data["summary"] = result.summary()
    return jsonable(data)


def result_from_dict(data: dict[str, Any]) -> Result:
    try:
        cls = RESULT_TYPES[data["kind"]]
    except KeyError:
        raise ValueError(f"unknown result kind {data.get('kind')!r}") from None
    names = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    for key in ("pearson", "spearman", "correlation", "pearson_loss_rel", "max_abs_diff", "mean_abs_diff"):
        if key in kwargs and kwargs[key] is None:
            kwargs[key] = float("nan")
    for key in ("samples_s", "measured_batch_sizes", "variant_s", "reference_s", "other_s", "reruns", "latencies_s",
                "rss_mb", "probe_s", "heap_mb", "error_messages", "invalid_reasons", "tried_qps", "tried_valid",
                "implementations", "harness_interval_ms", "tool_interval_ms"):
        if kwargs.get(key) is not None:
            kwargs[key] = tuple(kwargs[key])
    return cls(**kwargs)
