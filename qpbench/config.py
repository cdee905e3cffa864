"""What a user sets: the profiles, the targets, weights and hard gates, the quantization and
regression thresholds, the variants and run options, and the ``Settings`` read once from
options and ini keys into frozen dataclasses (with the parsers of their values).

Targets default to the deployment plan's; every one can be overridden with
``--qp-target NAME=VALUE`` or the ``qp_targets`` ini key. The help texts of the
pytest options and of the ``qpbench`` commands print these values
(``argparse_help.show_default``), so they cannot disagree with what a run uses.
Constants a user does not set live beside the code that uses them (``measure/defaults.py``,
``compare/``, ``deploy/revalidate.py``, ...); no build reaches this module, so editing a
target keeps the build cache.

Units: memory figures (fields ending ``_mb``) are MiB (2**20 bytes), as RSS is
read; the one exception is ``artifact_mb``, a file size in MB (10**6 bytes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, make_dataclass, replace
from typing import Any

from qpbench.criteria import CRITERIA, check_target
from qpbench.errors import ConfigError
from qpbench.schema.shape import Written


def _check_targets(self: Any) -> None:
    for f in fields(self):
        value = getattr(self, f.name)
        if value is None and f.name in CRITERIA and CRITERIA[f.name].target is None:
            continue  # a criterion that is off by default and was not set
        try:
            check_target(f.name, value)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


def _get(self: Any, name: str) -> float:
    return float(getattr(self, name))


# Every criterion's target (criteria.py: its default; None: off until set), and the Server
# scenario's latency bound (a setting, not a criterion).
Targets = make_dataclass(
    "Targets",
    [*((c.name, float if c.target is not None else float | None, field(default=c.target)) for c in CRITERIA.values()),
     ("server_p99_ms", float, field(default=100.0))],
    bases=(Written,), frozen=True,
    namespace={"__post_init__": _check_targets, "get": _get, "__module__": __name__,
               "__doc__": "The targets a variant is judged against (criteria.py).",
               # a criterion that is off unless targeted is left out of the file while it is off
               "__json_omit_empty__": tuple(c.name for c in CRITERIA.values() if c.target is None)})

DEFAULT_WEIGHTS: dict[str, float] = {c.name: c.weight for c in CRITERIA.values()}
DEFAULT_HARD_GATES: tuple[str, ...] = tuple(c.name for c in CRITERIA.values() if c.gate)


@dataclass(frozen=True)
class QuantThresholds:
    """The plan's rule for accepting a quantization method against the fp32 reference."""

    max_corr_loss: float = 0.05  # relative loss of Pearson vs labels
    max_mae_increase: float = 0.10  # relative increase of MAE vs labels
    min_speedup: float = 1.10  # batch-1 median latency, reference / method
    # The bf16 rule, beside it: bf16 keeps fp32's range, so a trained model loses little; more
    # than 1% of relative Pearson loss against the fp32 reference means a layer that needs fp32.
    max_bf16_fidelity_loss: float = 0.01

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"quantization threshold {f.name} must be a finite number >= 0, got {value!r}")


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
        untargeted = [name for name in self.hard_gates if getattr(self.targets, name) is None]
        if untargeted:
            raise ConfigError(f"hard gates {untargeted} have no target: set one with --qp-target=NAME=VALUE")
        if any(not math.isfinite(w) or w < 0 for w in self.weights.values()):
            raise ConfigError(f"weights must be >= 0 and finite, got {self.weights}")
        if sum(self.weights.values()) <= 0:
            raise ConfigError("at least one weight must be > 0")


# A fresh measuring (or re-measuring) process that runs longer than this is killed.
WORKER_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Profile:
    """How long measurements run. 'quick' is for smoke tests, 'full' for release sign-off."""

    name: str
    batch_sizes: tuple[int, ...]
    # Timings stop once precise enough (measure/stopping.py): when the 95% interval of their
    # statistic is narrower than ``precision`` times the estimate, between a floor and a ceiling.
    latency_budget_s: float  # ceiling: seconds per batch size after warm-up (the floor of rounds still holds)
    min_rounds: int  # floor of timed calls (pairs: at least MEASURE.min_pairs)
    max_rounds: int  # ceiling of timed calls
    warmup_rounds: int
    throughput_s: float  # ceiling: seconds of back-to-back batches
    throughput_batch: int
    memory_iterations: int
    eval_images: int | None  # accuracy uses the samples of the first N images (None: all)
    sweep_rounds: int  # timed runs per candidate in the thread sweep
    calibration_batches: int  # batches of 8 real samples for static quantization
    # Stress, concurrency and LoadGen (defaults: the 'default' profile's values).
    stress_iterations: int = 1000  # timed batch-1 inferences in the extended run (the plan's 1000+)
    stress_warmup: int = 100  # kernel and allocator caches fill for a few hundred calls (fx-int8 on the compact model)
    # The stress run may end from here on, once it has shown no trend and 99% bounds on its leak and
    # slowdown below their targets (measure/stress.shown_flat); a run with any trend goes on.
    stress_min_iterations: int = 400
    concurrency_threads: tuple[int, ...] = (1, 2, 4)
    concurrency_processes: tuple[int, ...] = (2,)  # the largest thread count split over this many processes
    concurrency_s: float = 1.0  # per thread count
    loadgen_min_duration_s: float = 1.0
    loadgen_min_queries: int = 64  # SingleStream's early-stopping rule needs 64
    server_search_steps: int = 3  # bisection steps for the highest valid Server QPS
    worker_timeout_s: float = WORKER_TIMEOUT_S  # a fresh measuring process that runs longer is killed
    precision: float = 0.05  # the relative width of a timing's 95% interval that is precise enough
    latency_min_s: float = 0.5  # floor: seconds per batch size (and of paired calls)
    throughput_min_s: float = 2.0  # floor: seconds of back-to-back batches


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(name="quick", batch_sizes=(1, 4), latency_budget_s=0.5, min_rounds=5, max_rounds=200,
                warmup_rounds=1, throughput_s=1.0, throughput_batch=4, memory_iterations=3, eval_images=25,
                sweep_rounds=3, calibration_batches=2, stress_iterations=800, stress_warmup=200,
                stress_min_iterations=400, concurrency_s=0.5, loadgen_min_duration_s=0.5, server_search_steps=2,
                worker_timeout_s=180.0,
                precision=0.10, latency_min_s=0.2, throughput_min_s=0.3),
        Profile(name="default", batch_sizes=(1, 4, 8, 16), latency_budget_s=3.0, min_rounds=5, max_rounds=1000,
                warmup_rounds=2, throughput_s=10.0, throughput_batch=8, memory_iterations=10, eval_images=200,
                sweep_rounds=5, calibration_batches=16),
        Profile(name="full", batch_sizes=(1, 4, 8, 16), latency_budget_s=15.0, min_rounds=30, max_rounds=5000,
                warmup_rounds=5, throughput_s=60.0, throughput_batch=8, memory_iterations=50, eval_images=None,
                sweep_rounds=15, calibration_batches=50, stress_iterations=5000, stress_warmup=200,
                stress_min_iterations=1000, concurrency_s=10.0, loadgen_min_duration_s=10.0, loadgen_min_queries=500,
                server_search_steps=5,
                worker_timeout_s=1800.0, precision=0.02, latency_min_s=3.0, throughput_min_s=10.0),
    )
}


def get_profile(name: str | Mapping[str, Any]) -> Profile:
    """A profile by name, or from its fields (a profile scaled to a budget travels to workers so)."""
    if isinstance(name, Mapping):
        return Profile(**{k: tuple(v) if isinstance(v, list) else v for k, v in name.items()})
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown profile {name!r}: choose one of {list(PROFILES)}") from None


def scaled(profile: Profile, share: float) -> Profile:
    """``profile`` with its time ceilings and floors, and its stress run, cut to ``share`` (a time
    budget's, run_clock.budget_scale); counts of samples and the plan's batch sizes stay."""
    if share >= 1.0:
        return profile
    return replace(
        profile,
        latency_budget_s=profile.latency_budget_s * share, latency_min_s=profile.latency_min_s * share,
        throughput_s=profile.throughput_s * share, throughput_min_s=profile.throughput_min_s * share,
        concurrency_s=profile.concurrency_s * share, loadgen_min_duration_s=profile.loadgen_min_duration_s * share,
        stress_iterations=max(MIN_STRESS_ITERATIONS, int(profile.stress_iterations * share)),
        stress_min_iterations=max(MIN_STRESS_ITERATIONS, int(profile.stress_min_iterations * share)),
    )


# A stress run scaled to a budget keeps at least this many inferences: fewer cannot tell a leak
# from warm-up growth.
MIN_STRESS_ITERATIONS = 300


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


def _number(value: Any, ok: Callable[[float], bool], must: str) -> float | None:
    """``value`` as a number that passes ``ok``, None when unset; ConfigError saying what it ``must`` be."""
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{must}, got {value!r}") from None
    if not (math.isfinite(number) and ok(number)):
        raise ConfigError(f"{must}, got {number}")
    return number


def parse_budget(value: Any) -> float | None:
    """--qp-budget / qp_budget: minutes, a number > 0 (None: no budget)."""
    return _number(value, lambda n: n > 0, "budget must be a number of minutes > 0")


def parse_fail_under(value: Any) -> float | None:
    return _number(value, lambda n: 0 <= n <= 100, "fail-under must be a number between 0 and 100")


# Which variants get the measurements after the screen: those that can still be recommended.
DEFAULT_LONG_RUN: tuple[str, ...] = ("contenders",)


@dataclass(frozen=True)
class Settings:
    workload: Any  # a workload.WorkloadChoice (config sits below the workload layer)
    variants: tuple[str, ...]
    profile: Profile
    scoring: ScoringConfig
    fail_under: float | None
    results_dir: str
    eval_images: int | None  # overrides the profile's when set
    report_dir: str | None = None  # report.html and summary.md; None: the results folder
    budget_min: float | None = None  # --qp-budget: minutes the run should fit in (run_clock.py)
    long_run: tuple[str, ...] = ("contenders",)  # DEFAULT_LONG_RUN: the variants measured after the screen (screening.py)
    build_cache: str | None = None  # --qp-build-cache: a folder or 'off'; None: the default (BUILD_CACHE_DEFAULT)
    rebuild: bool = False  # --qp-rebuild: cached builds are not used, and this run's replace them


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


def parse_variants(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value in (None, "", []):
        return DEFAULT_VARIANTS
    names = parse_names(value)
    if not names:
        raise ConfigError("no variants selected")
    return names


# Run options without a config value of their own -------------------------


@dataclass(frozen=True)
class RunDefaults:
    """What a pytest run uses when an option and its ini key are both unset."""

    workload: str = "default"  # the built-in ResNet-50, the plan's model
    profile: str = "default"
    results_dir: str = "results"  # under the rootdir; git-ignored


RUN = RunDefaults()
# Built variants are kept across runs here (qpbench/variants/build_cache.py decides it).
BUILD_CACHE_DEFAULT = "$QPBENCH_BUILD_CACHE_DIR, else $QPBENCH_CACHE_DIR/builds, else ~/.cache/qpbench/builds"


# Comparison with a baseline and the regression gate ----------------------

# Metric families: each has a threshold (ini key qp_regression_thresholds, option
# --qp-regression-threshold, marker qp_regression). Relative ones are fractions
# of the baseline; absolute ones are in the metric's own unit.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "speed_ratio": 0.10,  # variant/eager and eager/probe time ratios (same run, interleaved), relative
    "latency": 0.10,  # low quantile (p10) of the latency per batch size, relative; same machine only
    "peak_rss": 0.10,  # peak RSS of a fresh process at batch 1, relative; same machine only
    "pearson": 0.01,  # Pearson vs labels, absolute drop
    "fidelity_loss": 0.01,  # relative Pearson loss vs the reference, absolute rise
}
FAMILY_HELP = {
    "speed_ratio": "relative change of the variant/eager batch-1 time ratio, and of eager's against the machine-speed probe",
    "latency": "relative change of the p10 latency",
    "peak_rss": "relative change of the peak RSS",
    "pearson": "absolute drop of Pearson",
    "fidelity_loss": "absolute rise of the fidelity loss",
}
# What fails the gate unless --qp-regression-gate-on says otherwise: the figures that hold still on a
# shared machine. Absolute latency is compared and reported, but gated only when asked ("latency" or
# "all"): between two quiet runs on the same 2-core VM every absolute time moved by up to +80%
# together (neighbours on the host), while the same-run ratios did not move.
DEFAULT_GATE_ON: tuple[str, ...] = ("speed_ratio", "peak_rss", "pearson", "fidelity_loss")
# What the regression gate does when --qp-compare='NAME-{cpu}' names a baseline this CPU has none
# of: 'warn' says so and passes (a new runner type is not a regression), 'fail' fails the gate (a
# fleet of runners where a gate silently off on one type would go unseen).
MISSING_BASELINE_MODES: tuple[str, ...] = ("warn", "fail")
DEFAULT_MISSING_BASELINE = "warn"


def parse_missing_baseline(value: Any) -> str:
    """--qp-missing-baseline / qp_missing_baseline: 'warn' or 'fail' (unset: the default)."""
    if value in (None, ""):
        return DEFAULT_MISSING_BASELINE
    text = str(value).strip().lower()
    if text not in MISSING_BASELINE_MODES:
        raise ConfigError(f"missing-baseline must be one of {', '.join(MISSING_BASELINE_MODES)}, got {value!r}")
    return text


# Parsing option values ----------------------------------------------------


def parse_names(value: str | Sequence[str] | None, what: str = "name",
                choices: Sequence[str] | None = None) -> tuple[str, ...]:
    """The one list parser: 'a,b c' or ['a,b', 'c'] -> ('a', 'b', 'c').

    Commas and spaces separate; a repeated name counts once. With ``choices``, a name
    outside them is an error naming the known ones.
    """
    items = [value] if isinstance(value, str) else list(value or [])
    names = tuple(dict.fromkeys(n for item in items for n in str(item).replace(",", " ").split()))
    unknown = [n for n in names if choices is not None and n not in choices]
    if unknown:
        raise ConfigError(f"unknown {what}(s) {unknown}: choose from {', '.join(choices or ())}")
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
