"""Timing results: latency by batch size, throughput, paired speed against the reference, the
runtime's own tool's check, head to head.

Units are in the field names; ``_mb`` is MiB (2**20 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from qpbench.schema.shape import Written

import numpy as np

from qpbench import stats


# The verdict's batch-1 figure against the runtime's own tool (measure/agreement.py): harness
# slower than its tool with the ratio's whole interval above 1 + this is measured again once,
# then reported unconfirmed; harness faster by more than this is a broken comparison.
TOOL_AGREEMENT_TOLERANCE = 0.05
# ... and further apart than this per call: a Python call (argument checks, the output's copy)
# costs tens of microseconds, which a 0.06 ms model's own tool does not pay and a deployment
# in Python does (the compact model's openvino-int8: 0.15 ms here, benchmark_app 0.06 ms).
TOOL_AGREEMENT_ABS_MS = 0.1


@dataclass(frozen=True)
class LatencyResult(Written):
    """Raw per-call times of one variant at one batch size."""

    kind: ClassVar[str] = "latency"
    __json_derived__ = ("summary",)  # written for readers of the file
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
class ThroughputResult(Written):
    """Images processed back to back until the mean batch time was precise (or the ceiling)."""

    kind: ClassVar[str] = "throughput"
    __json_derived__ = ("summary",)  # written for readers of the file
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
class PairedResult(Written):
    """Interleaved A/B timing: calls of the variant and of the reference alternate
    (ABBA order) in the same run, so drift of a shared machine hits both alike.
    The per-pair ratio variant/reference is the speed figure that baselines compare."""

    kind: ClassVar[str] = "paired"
    __json_derived__ = ("summary",)  # written for readers of the file
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


AGREES, HARNESS_SLOWER, HARNESS_FASTER = "agrees", "harness slower", "harness faster"


@dataclass(frozen=True)
class ToolAgreementResult(Written):
    """The verdict's batch-1 median (the latency test's figure) beside the runtime's own tool on
    the same artifact and settings (OpenVINO's benchmark_app, a bare ONNX Runtime session loop,
    the bare module)."""

    kind: ClassVar[str] = "tool_agreement"
    __json_derived__ = ("summary",)  # written for readers of the file
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
        when it lies below 1 / (1 + tolerance), each also by more than ``TOOL_AGREEMENT_ABS_MS``
        per call; else ``agrees``."""
        low, high = self.ratio_interval
        h_low, h_high = self.harness_interval_ms or (self.harness_ms, self.harness_ms)
        t_low, t_high = self.tool_interval_ms or (self.tool_ms, self.tool_ms)
        gap = TOOL_AGREEMENT_ABS_MS
        if low > 1.0 + TOOL_AGREEMENT_TOLERANCE and h_low - t_high > gap:
            return HARNESS_SLOWER
        if high < 1.0 / (1.0 + TOOL_AGREEMENT_TOLERANCE) and t_low - h_high > gap:
            return HARNESS_FASTER
        return AGREES

    def summary(self) -> dict[str, Any]:
        return {"ratio": self.ratio, "ratio_interval": list(self.ratio_interval), "call": self.call}


@dataclass(frozen=True)
class HeadToHeadResult(Written):
    """Two variants timed against each other at batch 1, calls alternating (ABBA) in one process
    where neither's runtime disturbs the other's (suite/head_to_head.py); the per-pair ratio
    variant/other decides whether they can be told apart (a tie, verdict/scoring.py)."""

    kind: ClassVar[str] = "head_to_head"
    __json_derived__ = ("summary",)  # written for readers of the file
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

