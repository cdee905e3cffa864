"""What a variant is and does: peak memory, batch size from memory, accuracy and fidelity, kernels,
worker failures.

Units are in the field names; ``_mb`` is MiB (2**20 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from qpbench.schema.shape import NULL_IS_NAN, Written


@dataclass(frozen=True)
class MemoryResult(Written):
    """Peak RSS of a fresh process that loaded the variant and ran inference."""

    kind: ClassVar[str] = "memory"
    __json_derived__ = ("summary",)  # written for readers of the file
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
class BatchSizeResult(Written):
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
class AccuracyResult(Written):
    """Predictions against the labels of the evaluation set."""

    kind: ClassVar[str] = "accuracy"
    __json_omit_empty__ = ("eval_samples", "decided")  # records written before have neither
    variant: str
    n_samples: int
    pearson: Annotated[float, NULL_IS_NAN]
    spearman: Annotated[float, NULL_IS_NAN]
    mae: float
    rmse: float
    within_005: float  # share of samples with |error| <= 0.05
    within_010: float
    pearson_by_group: dict[str, float] = field(default_factory=dict)
    dataset: str = ""
    predictions_from: str | None = None  # "build cache": the same build's predictions of the same samples, reused
    eval_samples: int | None = None  # the evaluation set's size: n_samples is where the looks decided
    decided: str | None = None  # at which look, on how many samples, and what the whole set left open


@dataclass(frozen=True)
class FidelityResult(Written):
    """Predictions against the fp32 reference variant's, on the same samples."""

    kind: ClassVar[str] = "fidelity"
    __json_omit_empty__ = ("loss_interval", "mae_increase_rel", "mae_increase_interval", "eval_samples")
    variant: str
    reference: str
    n_samples: int
    max_abs_diff: Annotated[float, NULL_IS_NAN]
    mean_abs_diff: Annotated[float, NULL_IS_NAN]
    correlation: Annotated[float, NULL_IS_NAN]  # Pearson between the two variants' outputs
    pearson_loss_rel: Annotated[float, NULL_IS_NAN]  # (ref Pearson vs labels - this one's) / ref's: > 0 is a loss
    loss_interval: tuple[float, float] | None = None  # of pearson_loss_rel: paired bootstrap, 95%
    mae_increase_rel: float | None = None  # MAE vs labels over the reference's on the same samples, - 1
    mae_increase_interval: tuple[float, float] | None = None
    eval_samples: int | None = None  # the evaluation set's size: n_samples is where the looks decided


@dataclass(frozen=True)
class WorkerFailure(Written):
    """A worker process that crashed, was killed by a signal, hung or printed no report."""

    kind: ClassVar[str] = "worker_failure"
    variant: str
    measurement: str  # "build", "latency", "memory", "stress", "concurrency", ...
    failure: Literal["exit", "signal", "timeout", "no_report"]
    reason: str
    returncode: int | None = None
    detail: str = ""  # the last lines of the worker's stderr (faulthandler's traceback of a crash)


PRECISIONS = ("int8", "bf16", "fp16", "fp32")  # what a heavy operator's kernel computes in


@dataclass(frozen=True)
class KernelsResult(Written):
    """Which kernels the heavy operators (convolutions, matrix products) ran with, read from the
    runtime itself after a batch-1 inference: oneDNN's verbose log (PyTorch paths), the
    TorchScript graph's operators (fbgemm's quantized ops print nothing), OpenVINO's runtime
    model or ONNX Runtime's profile. ``expected`` is the precision the variant's name claims."""

    kind: ClassVar[str] = "kernels"
    __json_omit_empty__ = ("facts_from",)
    __json_derived__ = ("summary",)  # written for readers of the file
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
    facts_from: str | None = None  # "build cache": found for the same build before, read back

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

