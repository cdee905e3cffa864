"""Settings read once from options and ini keys into frozen dataclasses.

Targets default to the deployment plan's; every one can be overridden with
``--qp-target NAME=VALUE`` or the ``qp_targets`` ini key.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from qpbench.errors import ConfigError


@dataclass(frozen=True)
class Criterion:
    name: str
    unit: str
    higher_is_better: bool
    description: str


# The readiness criteria, in the order reports show them.
CRITERIA: dict[str, Criterion] = {
    c.name: c
    for c in (
        Criterion("latency_p95_ms", "ms", False, "batch-1 p95 latency per image"),
        Criterion("throughput_ips", "images/s", True, "sustained throughput"),
        Criterion("peak_rss_mb", "MB", False, "peak RSS of a fresh serving process"),
        Criterion("pearson", "", True, "Pearson correlation with the labels"),
        Criterion("fidelity_loss", "", False, "relative Pearson loss against the fp32 reference"),
        Criterion("leak_mb_per_1k", "MB/1k", False, "significant RSS growth per 1000 inferences (0 when not significant)"),
        Criterion("slowdown_pct", "%", False, "significant latency increase over an extended run (0 when not significant)"),
        Criterion("concurrency_faults", "", False, "requests that failed or disagreed with serial outputs under concurrency"),
        Criterion("server_qps", "QPS", True, "highest Server-scenario QPS with p99 latency within server_p99_ms"),
    )
}


@dataclass(frozen=True)
class Targets:
    latency_p95_ms: float = 50.0
    throughput_ips: float = 20.0
    peak_rss_mb: float = 512.0
    pearson: float = 0.90
    fidelity_loss: float = 0.05
    leak_mb_per_1k: float = 0.25
    slowdown_pct: float = 10.0
    concurrency_faults: float = 0.0
    server_qps: float = 10.0
    server_p99_ms: float = 100.0  # the Server scenario's latency bound (a setting, not a criterion)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or value != value:
                raise ConfigError(f"target {f.name} must be a number, got {value!r}")
        for name in ("latency_p95_ms", "throughput_ips", "peak_rss_mb", "leak_mb_per_1k", "slowdown_pct", "server_qps",
                     "server_p99_ms"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"target {name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.pearson <= 1:
            raise ConfigError(f"target pearson must be in (0, 1], got {self.pearson}")
        if not 0 <= self.fidelity_loss < 1:
            raise ConfigError(f"target fidelity_loss must be in [0, 1), got {self.fidelity_loss}")
        if self.concurrency_faults < 0:
            raise ConfigError(f"target concurrency_faults must be >= 0, got {self.concurrency_faults}")

    def get(self, name: str) -> float:
        return float(getattr(self, name))


DEFAULT_WEIGHTS: dict[str, float] = {
    # Speed and accuracy matter most to the plan; memory is judged too, but the
    # CUDA build of torch alone exceeds 512 MB, so it is not a hard gate by default.
    "latency_p95_ms": 0.30,
    "throughput_ips": 0.15,
    "peak_rss_mb": 0.15,
    "pearson": 0.30,
    "fidelity_loss": 0.10,
    # Long-run behaviour (docs/measurement.md, "Stress, leaks, concurrency and the Server scenario"):
    # soft criteria, each a small share next to the plan's speed and accuracy.
    "leak_mb_per_1k": 0.05,
    "slowdown_pct": 0.05,
    "concurrency_faults": 0.05,
    "server_qps": 0.10,
}
DEFAULT_HARD_GATES: tuple[str, ...] = ("latency_p95_ms", "pearson", "fidelity_loss")


@dataclass(frozen=True)
class QuantThresholds:
    """The plan's rule for accepting a quantization method against the fp32 reference."""

    max_corr_loss: float = 0.05  # relative loss of Pearson vs labels
    max_mae_increase: float = 0.10  # relative increase of MAE vs labels
    min_speedup: float = 1.10  # batch-1 median latency, reference / method

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or value != value or value < 0:
                raise ConfigError(f"quantization threshold {f.name} must be a number >= 0, got {value!r}")


@dataclass(frozen=True)
class ScoringConfig:
    targets: Targets = field(default_factory=Targets)
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    hard_gates: tuple[str, ...] = DEFAULT_HARD_GATES
    quant: QuantThresholds = field(default_factory=QuantThresholds)

    def __post_init__(self) -> None:
        unknown = (set(self.weights) | set(self.hard_gates)) - set(CRITERIA)
        if unknown:
            raise ConfigError(f"unknown criteria {sorted(unknown)}: choose from {list(CRITERIA)}")
        if any(w < 0 or w != w for w in self.weights.values()):
            raise ConfigError(f"weights must be >= 0, got {self.weights}")
        if sum(self.weights.values()) <= 0:
            raise ConfigError("at least one weight must be > 0")


@dataclass(frozen=True)
class Profile:
    """How long measurements run. 'quick' is for smoke tests, 'full' for release sign-off."""

    name: str
    batch_sizes: tuple[int, ...]
    latency_budget_s: float  # time spent per batch size after warm-up
    min_rounds: int
    max_rounds: int
    warmup_rounds: int
    throughput_s: float
    throughput_batch: int
    memory_iterations: int
    eval_images: int | None  # accuracy uses the samples of the first N images (None: all)
    sweep_rounds: int  # timed runs per candidate in the thread sweep
    calibration_batches: int  # batches of 8 real samples for static quantization
    # Stress, concurrency and LoadGen (defaults: the 'default' profile's values).
    stress_iterations: int = 1000  # timed batch-1 inferences in the extended run (the plan's 1000+)
    stress_warmup: int = 100  # kernel and allocator caches fill for a few hundred calls (fx-int8 on the compact model)
    concurrency_threads: tuple[int, ...] = (1, 2, 4)
    concurrency_processes: tuple[int, ...] = (2,)  # the largest thread count split over this many processes
    concurrency_s: float = 1.0  # per thread count
    loadgen_min_duration_s: float = 1.0
    loadgen_min_queries: int = 64  # SingleStream's early-stopping rule needs 64
    server_search_steps: int = 3  # bisection steps for the highest valid Server QPS
    worker_timeout_s: float = 600.0  # a fresh measuring process that runs longer is killed


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("quick", (1, 4), 0.5, 5, 200, 1, 1.0, 4, 3, 25, 3, 2, stress_iterations=800, stress_warmup=200,
                concurrency_s=0.5, loadgen_min_duration_s=0.5, server_search_steps=2, worker_timeout_s=180.0),
        Profile("default", (1, 4, 8, 16), 3.0, 10, 1000, 2, 10.0, 8, 10, 200, 5, 16),
        Profile("full", (1, 4, 8, 16), 15.0, 30, 5000, 5, 60.0, 8, 50, None, 15, 50, stress_iterations=5000,
                stress_warmup=200, concurrency_s=10.0, loadgen_min_duration_s=10.0, loadgen_min_queries=500,
                server_search_steps=5, worker_timeout_s=1800.0),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown profile {name!r}: choose one of {list(PROFILES)}") from None


def parse_pairs(items: list[str], what: str) -> dict[str, float]:
    """'name=value' strings -> {name: float}, with errors naming the bad item."""
    out: dict[str, float] = {}
    for item in items:
        for part in item.replace(",", " ").split():
            name, sep, raw = part.partition("=")
            if not sep:
                raise ConfigError(f"{what} {part!r} must look like NAME=VALUE")
            try:
                out[name.strip()] = float(raw)
            except ValueError:
                raise ConfigError(f"{what} {part!r}: {raw!r} is not a number") from None
    return out


def make_scoring(
    target_items: list[str],
    weight_items: list[str],
    hard_gates: list[str] | None,
    quant_items: list[str] | None = None,
) -> ScoringConfig:
    overrides = parse_pairs(target_items, "target")
    unknown = set(overrides) - {f.name for f in fields(Targets)}
    if unknown:
        raise ConfigError(f"unknown targets {sorted(unknown)}: choose from {[f.name for f in fields(Targets)]}")
    targets = replace(Targets(), **overrides)
    weights = dict(DEFAULT_WEIGHTS)
    weights.update(parse_pairs(weight_items, "weight"))
    gates = DEFAULT_HARD_GATES if hard_gates is None else tuple(g for g in hard_gates if g)
    quant_overrides = parse_pairs(quant_items or [], "quantization threshold")
    unknown = set(quant_overrides) - {f.name for f in fields(QuantThresholds)}
    if unknown:
        raise ConfigError(
            f"unknown quantization thresholds {sorted(unknown)}: choose from {[f.name for f in fields(QuantThresholds)]}"
        )
    quant = replace(QuantThresholds(), **quant_overrides)
    return ScoringConfig(targets=targets, weights=weights, hard_gates=gates, quant=quant)


def parse_fail_under(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"fail-under must be a number between 0 and 100, got {value!r}") from None
    if not 0 <= number <= 100:
        raise ConfigError(f"fail-under must be between 0 and 100, got {number}")
    return number


@dataclass(frozen=True)
class WorkloadChoice:
    """Which workload to run: a built-in name, or a user's factory with its files."""

    name: str = "default"
    model_factory: str | None = None
    checkpoint: str | None = None
    dataset: str | None = None
    input_size: int | None = None


@dataclass(frozen=True)
class Settings:
    workload: WorkloadChoice
    variants: tuple[str, ...]
    profile: Profile
    scoring: ScoringConfig
    fail_under: float | None
    results_dir: str
    eval_images: int | None  # overrides the profile's when set
    report_dir: str | None = None  # report.html and summary.md; None: the results folder


# What `pytest bench/` measures unless --qp-variants says otherwise ("all": every registered one).
# The fp32 reference, the tuned fp32 model, the two static int8 PyTorch paths: fx-int8
# (legacy torch.ao) and pt2e-int8 (torchao, the maintained one), and the runtimes a CPU
# deployment would pick instead, fp32 and int8: ONNX Runtime and OpenVINO (skipped with
# their reason when qpbench[onnx,openvino] is not installed). The others (torchscript,
# compiled, aoti, pruned, dynamic-int8, qat-int8, openvino-fp32-tput) take minutes each
# on the ResNet-50: ask for them, or 'all'.
DEFAULT_VARIANTS: tuple[str, ...] = (
    "eager", "optimized", "fx-int8", "pt2e-int8", "onnx-fp32", "onnx-int8", "openvino-fp32", "openvino-int8",
)


def parse_variants(value: str | list[str] | None) -> tuple[str, ...]:
    if value in (None, "", []):
        return DEFAULT_VARIANTS
    items = value if isinstance(value, list) else [value]
    names = tuple(dict.fromkeys(n.strip() for item in items for n in item.replace(",", " ").split() if n.strip()))
    if not names:
        raise ConfigError("no variants selected")
    return names


def positive_int(value: Any, what: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a positive integer, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{what} must be a positive integer, got {number}")
    return number


# The fp32 variant every other is compared with (speed ratios, fidelity, the quantization rule).
REFERENCE = "eager"


@dataclass(frozen=True)
class BuildOptions:
    """What a variant builder may be told, with each option's default.

    A fresh process (the memory, stress and concurrency workers) gets the built
    variant's ``rebuild_options()`` so it rebuilds the same thing without
    re-measuring: ``threads``, ``cpus``, ``channels_last`` and, for variants with
    a serialized artifact, ``artifact`` (a path to load instead of building),
    ``runtime`` and ``hint``. The others tune one builder each.
    """

    threads: int | None = None  # intra-op threads; None: measured by a sweep (or torch's default)
    cpus: tuple[int, ...] | None = None  # CPU affinity; None: chosen by the builder
    channels_last: bool | None = None  # None: whichever layout measures faster
    artifact: str | None = None  # load this file instead of building
    runtime: str | None = None  # what serves the artifact (onnxruntime, openvino, aoti, ...)
    hint: str | None = None  # OpenVINO performance hint
    sparsity: float = 0.3  # pruned: fraction of Conv2d+Linear weights set to zero
    fold: bool = True  # pruned: fold Conv+BN first
    dynamic_batch: bool = True  # aoti: export with a dynamic batch (False: batch 1 only)
    package: str = "aoti"  # pt2e-int8 / qat-int8: aoti, compile or eager
    compile_batch_sizes: tuple[int, ...] = (1, 8, 16)  # compiled: one example batch per guard range
    qat_steps: int = 30
    qat_lr: float = 1e-5
    qat_freeze_bn: bool = True
    qat_images: int = 96

    @classmethod
    def from_dict(cls, options: Mapping[str, Any] | None) -> "BuildOptions":
        options = dict(options or {})
        unknown = sorted(set(options) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"unknown variant options {unknown}: choose from {[f.name for f in fields(cls)]}")
        for name in ("cpus", "compile_batch_sizes"):
            if options.get(name) is not None:
                options[name] = tuple(int(x) for x in options[name])
        return cls(**options)
