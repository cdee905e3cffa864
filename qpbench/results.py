"""Typed measurement records. Units are in the field names.

Bench tests create these and hand them to the ``qp_record`` fixture; scoring
reads them. ``to_dict``/``result_from_dict`` are for the JSON edge only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from typing import Any, ClassVar

from qpbench import stats


@dataclass(frozen=True)
class LatencyResult:
    """Raw per-call times of one variant at one batch size."""

    kind: ClassVar[str] = "latency"
    variant: str
    batch_size: int
    samples_s: tuple[float, ...]  # one wall time per call (a whole batch)

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
    """Images processed back to back over a fixed duration."""

    kind: ClassVar[str] = "throughput"
    variant: str
    batch_size: int
    images: int
    duration_s: float

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

    def __post_init__(self) -> None:
        if len(self.variant_s) != len(self.reference_s) or not self.variant_s:
            raise ValueError("a paired result needs the same number (>= 1) of variant and reference samples")

    @cached_property
    def ratios(self) -> tuple[float, ...]:
        return tuple(v / r for v, r in zip(self.variant_s, self.reference_s) if r > 0)

    def summary(self) -> dict[str, Any]:
        return {"median_ratio": stats.percentiles(self.ratios, (50,))["p50"] if self.ratios else None,
                "n_pairs": len(self.variant_s)}


@dataclass(frozen=True)
class VariantInfo:
    """How a variant was built (or why it could not be)."""

    kind: ClassVar[str] = "variant"
    variant: str
    description: str
    build_time_s: float
    artifact_bytes: int | None  # size of the serialized artifact on disk
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # the builder crashed: a critical issue
    skipped: str | None = None  # the technique does not apply here: recorded, not an issue


RESULT_TYPES = {
    cls.kind: cls
    for cls in (LatencyResult, ThroughputResult, MemoryResult, BatchSizeResult, AccuracyResult, FidelityResult, VariantInfo,
                PairedResult)
}
Result = (LatencyResult | ThroughputResult | MemoryResult | BatchSizeResult | AccuracyResult | FidelityResult | VariantInfo
          | PairedResult)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; None reads back as "not available"
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def to_dict(result: Result) -> dict[str, Any]:
    data = {"kind": result.kind, **asdict(result)}
    if hasattr(result, "summary"):
        data["summary"] = result.summary()
    return _jsonable(data)


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
    for key in ("samples_s", "measured_batch_sizes", "variant_s", "reference_s"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key])
    return cls(**kwargs)
