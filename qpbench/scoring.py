"""The deployment-readiness verdict: a pure function of results and targets.

Each criterion gets a score in [0, 1] (1 when the target is met, falling with
the ratio to the target when not), a variant's score is the weighted mean over
the criteria that were measured, times 100. A variant is *ready* when every
hard gate was measured and passed and nothing failed while measuring it. The
recommended variant is the fastest ready one (batch-1 median latency).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from qpbench import criteria
from qpbench.config import (
    QuantThresholds,
    ScoringConfig,
    Targets,
)
from qpbench.measure.defaults import MEASURE
from qpbench.criteria import CRITERIA, active
from qpbench.decision import agreement_problems, decide, figures_read, unconfirmed
from qpbench.variant_info import REFERENCE
from qpbench.measure.load_watch import under_load
from qpbench.stats import samples_to_bound
from qpbench.results import (
    AccuracyResult,
    FidelityResult,
    KernelsResult,
    LatencyResult,
    LoadGenResult,
    MemoryResult,
    Result,
    StressResult,
    VariantInfo,
    WorkerFailure,
    jsonable,
)


@dataclass(frozen=True)
class CriterionVerdict:
    name: str
    value: float | None  # None: not measured
    target: float
    unit: str
    higher_is_better: bool
    hard_gate: bool
    weight: float
    passed: bool | None  # None: not measured
    score: float | None  # in [0, 1]
    # The figure's 95% interval where its samples give one, and the call it supports against the
    # target: "met", "missed" or "inconclusive" (criteria.py); None: not measured.
    interval: tuple[float, float] | None = None
    call: str | None = None

    @property
    def inconclusive(self) -> bool:
        return self.call == criteria.INCONCLUSIVE

    @property
    def unbounded(self) -> bool:
        """Passing on the estimate, with too few samples to bound it (not "too close to call")."""
        return self.call == criteria.UNBOUNDED

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CriterionVerdict:
        interval = data.get("interval")  # an open end was written as null
        if interval is not None:
            interval = (-math.inf if interval[0] is None else interval[0], math.inf if interval[1] is None else interval[1])
        return cls(**{**data, "interval": interval})


@dataclass(frozen=True)
class VariantVerdict:
    variant: str
    criteria: tuple[CriterionVerdict, ...]
    score: float  # 0-100 over measured criteria
    ready: bool
    reasons: tuple[str, ...]  # why it is not ready
    batch1_p50_ms: float | None
    speedup_vs_reference: float | None  # reference batch-1 p50 / this one's
    artifact_mb: float | None = None  # serialized artifact on disk, in MB of 10**6 bytes (a file size, not RSS)
    size_reduction: float | None = None  # reference artifact / this one's
    kernels: str | None = None  # e.g. "int8 53/53 conv (avx512_core_vnni)": what the heavy operators ran in
    achieved_ops_per_s: float | None = None  # the model's operations per image / batch-1 median
    peak_ops_per_s: float | None = None  # the machine's peak for the precision the variant claims

    def criterion(self, name: str) -> CriterionVerdict:
        return next(c for c in self.criteria if c.name == name)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VariantVerdict:
        return cls(**{**data, "criteria": tuple(CriterionVerdict.from_dict(c) for c in data["criteria"]),
                      "reasons": tuple(data["reasons"])})


@dataclass(frozen=True)
class QuantCandidate:
    """A quantized variant judged by the plan's rule against the fp32 reference."""

    variant: str
    corr_loss: float | None  # relative Pearson loss vs labels
    mae_increase: float | None  # relative MAE increase vs labels
    speedup: float | None  # batch-1 median, reference / this
    size_reduction: float | None
    accepted: bool
    reasons: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuantCandidate:
        return cls(**{**data, "reasons": tuple(data["reasons"])})


@dataclass(frozen=True)
class Verdict:
    variants: tuple[VariantVerdict, ...]
    recommended: str | None
    critical_issues: tuple[str, ...]
    recommendations: tuple[str, ...]
    reference: str
    config: ScoringConfig = field(repr=False)
    skipped: tuple[tuple[str, str], ...] = ()  # (variant, why the technique does not apply)
    quantization: tuple[QuantCandidate, ...] = ()
    best_quantization: str | None = None  # the fastest accepted quantization method
    screened_out: tuple[tuple[str, str], ...] = ()  # (variant, why it was not measured after the screen)
    tie: tuple[str, ...] = ()  # the fastest variants a head-to-head could not tell apart, the pick first (decision.py)

    @property
    def recommended_score(self) -> float | None:
        for v in self.variants:
            if v.variant == self.recommended:
                return v.score
        return None

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "recommended": self.recommended,
                "recommended_score": self.recommended_score,
                "reference": self.reference,
                "critical_issues": list(self.critical_issues),
                "recommendations": list(self.recommendations),
                "targets": asdict(self.config.targets),
                "weights": dict(self.config.weights),
                "hard_gates": list(self.config.hard_gates),
                "variants": [asdict(v) for v in self.variants],
                "skipped": [{"variant": n, "reason": r} for n, r in self.skipped],
                "quantization": [asdict(q) for q in self.quantization],
                "best_quantization": self.best_quantization,
                "screened_out": [{"variant": n, "reason": r} for n, r in self.screened_out],
                "tie": list(self.tie),
                "quant_thresholds": asdict(self.config.quant),
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        """The verdict a saved record holds (``to_dict``'s output); the scoring config is rebuilt
        from its targets, weights, hard gates and quantization rule."""
        config = ScoringConfig(Targets(**data["targets"]), dict(data["weights"]), tuple(data["hard_gates"]),
                               QuantThresholds(**data["quant_thresholds"]))
        return cls(
            variants=tuple(VariantVerdict.from_dict(v) for v in data["variants"]),
            recommended=data["recommended"],
            critical_issues=tuple(data["critical_issues"]),
            recommendations=tuple(data["recommendations"]),
            reference=data["reference"],
            config=config,
            skipped=tuple((s["variant"], s["reason"]) for s in data["skipped"]),
            quantization=tuple(QuantCandidate.from_dict(q) for q in data["quantization"]),
            best_quantization=data["best_quantization"],
            screened_out=tuple((s["variant"], s["reason"]) for s in data.get("screened_out", ())),
            tie=tuple(data.get("tie", ())),
        )


def criterion_score(value: float, target: float, higher_is_better: bool) -> float:
    """1 when the target is met; otherwise the ratio to the target, in [0, 1). NaN scores 0."""
    if not math.isfinite(value):
        return 0.0
    if higher_is_better:
        if value >= target:
            return 1.0
        return max(0.0, value) / target if target > 0 else 0.0
    if value <= target:
        return 1.0
    return target / value if target > 0 else 0.0


def passes(value: float, target: float, higher_is_better: bool) -> bool:
    if not math.isfinite(value):
        return False
    return value >= target if higher_is_better else value <= target


def collect_metrics(results: Iterable[Result], reference: str
                    ) -> tuple[dict[str, dict[str, criteria.Measured]], dict[str, float]]:
    """Per variant, the value and interval of each criterion that was measured (criteria.py); and
    batch-1 p50s."""
    results = list(results)
    p50 = {r.variant: r.per_image_ms["p50"] for r in results if isinstance(r, LatencyResult) and r.batch_size == 1}
    return criteria.measured(results, reference), p50


def judge_variant(
    name: str,
    values: Mapping[str, float],
    config: ScoringConfig,
    errors: list[str],
    p50: float | None,
    reference_p50: float | None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> VariantVerdict:
    """``bounds``: the 95% intervals of the criteria that have one (criteria.py)."""
    bounds = bounds or {}
    judged = []
    reasons = list(errors)
    for crit in active(config.targets):
        target = config.targets.get(crit.name)
        hard = crit.name in config.hard_gates
        weight = config.weights.get(crit.name, 0.0)
        value = values.get(crit.name)
        if value is None:
            judged.append(CriterionVerdict(crit.name, None, target, crit.unit, crit.higher_is_better, hard, weight, None, None))
            if hard:
                reasons.append(f"{crit.name} not measured")
            continue
        ok = passes(value, target, crit.higher_is_better)
        interval = bounds.get(crit.name)
        judged.append(
            CriterionVerdict(crit.name, value, target, crit.unit, crit.higher_is_better, hard, weight, ok,
                             criterion_score(value, target, crit.higher_is_better), interval,
                             criteria.call(value, interval, target, crit.higher_is_better))
        )
        if hard and not ok:
            sign = ">=" if crit.higher_is_better else "<="
            reasons.append(f"{crit.name} {_fmt(value)} misses the target {sign} {_fmt(target)}{crit.unit and ' ' + crit.unit}")
    measured = [c for c in judged if c.score is not None and c.weight > 0]
    total_weight = sum(c.weight for c in measured)
    score = 100.0 * sum(c.weight * c.score for c in measured) / total_weight if total_weight else 0.0
    speedup = reference_p50 / p50 if (p50 and reference_p50) else None
    return VariantVerdict(name, tuple(judged), round(score, 2), not reasons, tuple(reasons), p50, speedup)


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def score(
    results: Iterable[Result],
    config: ScoringConfig,
    reference: str = REFERENCE,
    errors: Mapping[str, list[str]] | None = None,
    screened_out: Mapping[str, str] | None = None,
) -> Verdict:
    """Results + targets -> verdict. ``errors``: per variant, measurements that crashed;
    ``screened_out``: variants measured no further than the screen, and why (screening.py)."""
    results = figures_read(results)  # each variant's batch-1 figure: the last clean one (decision.py)
    errors = {k: list(v) for k, v in (errors or {}).items()}
    for r in results:
        if isinstance(r, VariantInfo) and r.error:
            errors.setdefault(r.variant, []).append(f"build failed: {r.error}")
        elif isinstance(r, WorkerFailure):
            # The failing test usually reports the same failure; list it once.
            known = errors.setdefault(r.variant, [])
            if not any(r.reason in msg for msg in known):
                known.append(f"{r.measurement} worker {r.reason}")
    for r in results:
        if isinstance(r, KernelsResult) and r.fallback_convs:
            errors.setdefault(r.variant, []).append(fallback_message(r))
    measured, p50 = collect_metrics(results, reference)
    names = list(dict.fromkeys([*measured, *errors]))
    verdicts = [
        judge_variant(n, {c: m.value for c, m in measured.get(n, {}).items()}, config, errors.get(n, []), p50.get(n),
                      p50.get(reference), {c: m.interval for c, m in measured.get(n, {}).items() if m.interval})
        for n in names
    ]
    infos = {r.variant: r for r in results if isinstance(r, VariantInfo)}
    verdicts = [with_size(v, infos, reference) for v in verdicts]
    kernels = {r.variant: r for r in results if isinstance(r, KernelsResult)}
    verdicts = [with_kernels(v, kernels.get(v.variant)) for v in verdicts]
    quant = quantization_candidates(results, infos, reference, config)
    accepted = [q for q in quant if q.accepted]
    best_quant = max(accepted, key=lambda q: q.speedup or 0.0).variant if accepted else None
    # A quantized variant the plan's rule rejects (too much accuracy lost, or no
    # real speed-up) is not ready, even when it passes the readiness gates.
    rejected = {q.variant: q.reasons for q in quant if not q.accepted}
    verdicts = [
        replace(v, ready=False, reasons=(*v.reasons, *(f"quantization rule: {r}" for r in rejected[v.variant])))
        if v.variant in rejected else v
        for v in verdicts
    ]
    bf16_rejected = bf16_rule(results, infos, config)
    verdicts = [
        replace(v, ready=False, reasons=(*v.reasons, f"bf16 rule: {bf16_rejected[v.variant]}"))
        if v.variant in bf16_rejected else v
        for v in verdicts
    ]
    problems = agreement_problems(results)
    candidates = [v for v in verdicts if v.ready and v.variant not in unconfirmed(problems)]
    decision = decide({v.variant: v.batch1_p50_ms for v in candidates}, results, infos)
    recommended = decision.recommended
    if recommended is None and candidates:  # none has a batch-1 figure: the best score
        recommended = max(candidates, key=lambda v: v.score).variant
    return Verdict(
        variants=tuple(verdicts),
        recommended=recommended,
        critical_issues=(*critical_issues(verdicts, errors), *(f"{n}: {msg}" for n, msg in problems.items())),
        recommendations=(*decision.lines, *recommendations(verdicts, results, config, screened_out, recommended)),
        tie=decision.tied,
        reference=reference,
        config=config,
        skipped=tuple((r.variant, r.skipped) for r in results if isinstance(r, VariantInfo) and r.skipped),
        quantization=tuple(quant),
        best_quantization=best_quant,
        screened_out=tuple((screened_out or {}).items()),
    )


def with_size(v: VariantVerdict, infos: Mapping[str, VariantInfo], reference: str) -> VariantVerdict:
    size = infos[v.variant].artifact_bytes if v.variant in infos else None
    ref = infos[reference].artifact_bytes if reference in infos else None
    return replace(
        v,
        artifact_mb=size / 1e6 if size else None,
        size_reduction=ref / size if (size and ref) else None,
    )


def bf16_rule(results: list[Result], infos: Mapping[str, VariantInfo], config: ScoringConfig) -> dict[str, str]:
    """bf16 variants whose fidelity loss against the fp32 reference exceeds the rule, with why."""
    limit = config.quant.max_bf16_fidelity_loss
    fidelity = {r.variant: r for r in results if isinstance(r, FidelityResult)}
    out = {}
    for name, info in infos.items():
        if info.meta.get("precision") != "bf16" or info.error or info.skipped:
            continue
        loss = fidelity[name].pearson_loss_rel if name in fidelity else None
        if loss is None or math.isnan(loss):
            out[name] = "fidelity against the fp32 reference not measured"
        elif loss > limit:
            out[name] = f"fidelity loss {loss:.2%} > {limit:.0%}"
    return out


def fallback_message(r: KernelsResult) -> str:
    """A variant that claims int8 or bf16 whose convolutions ran in fp32: its name misleads."""
    return (f"silent fallback: {r.fallback_convs} of {r.conv_total} convolutions in fp32 "
            f"in a variant that claims {r.expected} ({r.source})")


def with_kernels(v: VariantVerdict, r: KernelsResult | None) -> VariantVerdict:
    """The kernels label and the achieved operations per second against the machine's peak."""
    if r is None:
        return v
    achieved = (r.flops_per_image / (v.batch1_p50_ms / 1e3)
                if r.flops_per_image and v.batch1_p50_ms else None)
    return replace(v, kernels=r.label(), achieved_ops_per_s=achieved, peak_ops_per_s=r.peak_ops_per_s)


def quantization_candidates(
    results: list[Result], infos: Mapping[str, VariantInfo], reference: str, config: ScoringConfig
) -> list[QuantCandidate]:
    """The plan's rule: accuracy loss and MAE increase within bounds, and a real speed-up."""
    acc = {r.variant: r for r in results if isinstance(r, AccuracyResult)}
    p50 = {r.variant: r.per_image_ms["p50"] for r in results if isinstance(r, LatencyResult) and r.batch_size == 1}
    rule = config.quant
    out = []
    for name, info in infos.items():
        if not info.meta.get("quantized") or info.error or info.skipped:
            continue
        reasons = []
        ref_acc, this_acc = acc.get(reference), acc.get(name)
        corr_loss = mae_inc = speedup = None
        if ref_acc and this_acc and ref_acc.pearson and ref_acc.mae:
            corr_loss = (ref_acc.pearson - this_acc.pearson) / ref_acc.pearson
            mae_inc = (this_acc.mae - ref_acc.mae) / ref_acc.mae
            if not corr_loss <= rule.max_corr_loss:
                reasons.append(f"Pearson loss {corr_loss:.1%} > {rule.max_corr_loss:.0%}")
            if not mae_inc <= rule.max_mae_increase:
                reasons.append(f"MAE increase {mae_inc:.1%} > {rule.max_mae_increase:.0%}")
        else:
            reasons.append("accuracy not measured for it and the reference")
        if name in p50 and reference in p50:
            speedup = p50[reference] / p50[name]
            if speedup < rule.min_speedup:
                reasons.append(f"speed-up {speedup:.2f}x < {rule.min_speedup:.2f}x")
        else:
            reasons.append("batch-1 latency not measured for it and the reference")
        ref_size = infos[reference].artifact_bytes if reference in infos else None
        size = info.artifact_bytes
        out.append(QuantCandidate(name, corr_loss, mae_inc, speedup,
                                  ref_size / size if (ref_size and size) else None, not reasons, tuple(reasons)))
    return out


def critical_issues(verdicts: list[VariantVerdict], errors: Mapping[str, list[str]]) -> list[str]:
    issues = [f"{name}: {msg}" for name, msgs in errors.items() for msg in msgs]
    if not verdicts:
        return ["no variant was measured"]
    if not any(v.ready for v in verdicts):
        issues.insert(0, "no variant is ready for deployment: every variant fails a hard gate")
    by_reason: dict[str, list[str]] = defaultdict(list)
    for v in verdicts:
        for c in v.criteria:
            if c.hard_gate and c.passed is False:
                by_reason[c.name].append(f"{v.variant} {_fmt(c.value)}")
    for name, where in by_reason.items():
        crit = CRITERIA[name]
        sign = ">=" if crit.higher_is_better else "<="
        target = next(c.target for c in verdicts[0].criteria if c.name == name)
        issues.append(f"{crit.description} misses the target {sign} {_fmt(target)} {crit.unit}".rstrip() + f": {', '.join(where)}")
    return issues


def recommendations(verdicts: list[VariantVerdict], results: list[Result], config: ScoringConfig,
                    screened_out: Mapping[str, str] | None = None, recommended: str | None = None) -> list[str]:
    out: list[str] = []
    best = {name: min((v.criterion(name).value for v in verdicts if v.criterion(name).value is not None),
                      default=None) for name in ("latency_p95_ms", "peak_rss_mb")}
    t = config.targets
    if best["latency_p95_ms"] is not None and best["latency_p95_ms"] > t.latency_p95_ms:
        factor = best["latency_p95_ms"] / t.latency_p95_ms
        out.append(
            f"The fastest variant's batch-1 p95 is {factor:.1f}x the {t.latency_p95_ms:g} ms target: "
            "this model needs fewer operations per image (int8 quantization, a smaller backbone or input) "
            "or more cores than this machine has."
        )
    memory = [r for r in results if isinstance(r, MemoryResult) and r.batch_size == 1]
    if best["peak_rss_mb"] is not None and best["peak_rss_mb"] > t.peak_rss_mb and memory:
        lowest = min(memory, key=lambda r: r.peak_rss_mb)
        out.append(
            f"Peak RSS {lowest.peak_rss_mb:.0f} MB exceeds {t.peak_rss_mb:g} MB, of which {lowest.baseline_rss_mb:.0f} MB "
            f"is the process after imports (torch {lowest.torch_build}) and {lowest.increment_mb:.0f} MB the model: "
            "serve with a CPU-only torch build, or from a runtime that does not load torch."
        )
    for v in verdicts:
        sp = v.speedup_vs_reference
        if sp is not None and sp < 1.0 and v.ready is False and v.criterion("latency_p95_ms").value is not None:
            out.append(f"{v.variant} is not faster than the reference at batch 1 ({sp:.2f}x in this run): "
                       "its optimizations do not pay off on this model and machine.")
    out += long_run_advice(verdicts, config)
    out += screen_advice(verdicts, screened_out or {}, recommended)
    out += under_load_advice(results)
    out += too_close_to_call(verdicts)
    out += not_bounded(verdicts)
    out += latency_story(results)
    out += warmup_growth_advice(results, config.targets)
    if not out and any(v.ready for v in verdicts):
        out.append("All hard gates pass; save this run as a baseline and gate CI on its score.")
    return out


def screen_advice(verdicts: list[VariantVerdict], screened_out: Mapping[str, str],
                  recommended: str | None) -> list[str]:
    """A variant the screen left out that ends within the margin of the recommended one's score:
    it was not measured in full, so say so and how to measure it."""
    rec = next((v for v in verdicts if v.variant == recommended), None)
    if rec is None or not screened_out:
        return []
    return [f"{v.variant} was measured only in the screen ({screened_out[v.variant]}) yet scores {v.score:.0f}, "
            f"within {MEASURE.screen_margin_points:g} points of the recommended {rec.variant}'s {rec.score:.0f}: "
            f"--qp-long-run={v.variant} measures it in full."
            for v in verdicts if v.variant in screened_out and v.score >= rec.score - MEASURE.screen_margin_points]


def too_close_to_call(verdicts: list[VariantVerdict]) -> list[str]:
    """Hard gates whose 95% interval contains the target: called on the point estimate, which
    another run could put on the other side."""
    close = [f"{v.variant} {c.name} {_fmt(c.value)} [{_fmt(c.interval[0])}, {_fmt(c.interval[1])}] against "
             f"{_fmt(c.target)}{c.unit and ' ' + c.unit} ({'met' if c.passed else 'missed'} on the estimate)"
             for v in verdicts for c in v.criteria if c.hard_gate and c.inconclusive and c.interval is not None]
    if not close:
        return []
    return [f"Too close to call (the 95% interval contains the target): {'; '.join(close)}. The verdict uses the "
            "estimate; --qp-profile=full measures longer and may decide it."]


def not_bounded(verdicts: list[VariantVerdict]) -> list[str]:
    """Hard gates passing on the estimate whose samples are too few to bound the interval's far end."""
    few = [f"{v.variant} {c.name} {_fmt(c.value)}" for v in verdicts for c in v.criteria if c.hard_gate and c.unbounded]
    if not few:
        return []
    return [f"Not enough samples to bound it: {'; '.join(few)} (a p95 needs at least "
            f"{samples_to_bound(0.95)} calls for a 95% interval); the verdict uses the estimate."]


def under_load_advice(results: list[Result]) -> list[str]:
    """The noise guard's marks: figures that stayed under load after being measured again."""
    marked = []
    for r in results:
        load = getattr(r, "load", None)
        if under_load(load):
            what = f"{r.variant} {r.kind}" + (f" b{r.batch_size}" if r.kind == "latency" else "")
            marked.append(f"{what} (others {load['others_cpu']:.2f} CPU, steal {load['steal_pct']:.0f}%)")
    if not marked:
        return []
    return [f"Taken under load, after a second try: {', '.join(marked)}. Other processes shared the CPU while "
            "these figures were timed; rerun on a quiet machine before trusting them."]


def warmup_growth_advice(results: list[Result], targets: Targets) -> list[str]:
    """RSS that grew early in the stress run and then stopped: its size, said as what it is."""
    grew = [f"{r.variant} {r.warmup_growth_mb:.1f} MB in the first {r.settled_from} inferences"
            for r in results if isinstance(r, StressResult) and r.leak_mb_per_1k <= targets.leak_mb_per_1k
            and r.warmup_growth_mb >= MEASURE.warmup_growth_note_mb]
    if not grew:
        return []
    return [f"RSS grew and then stayed flat ({', '.join(grew)}): warm-up growth of allocator and runtime "
            "arenas, not a leak; count it in the memory budget."]


def latency_story(results: list[Result]) -> list[str]:
    """LoadGen's SingleStream p50 and the latency test's batch-1 p50 time the same call in the same
    worker: where they differ by more than ``MEASURE``'s tolerance, say so rather than let two tables
    disagree silently."""
    single = {r.variant: r.latency_ms.get("p50") for r in results
              if isinstance(r, LoadGenResult) and r.scenario == "SingleStream"}
    direct = {r.variant: r.per_batch_ms["p50"] for r in results if isinstance(r, LatencyResult) and r.batch_size == 1}
    apart = [f"{v} {single[v]:.2f} vs {direct[v]:.2f} ms" for v in single
             if single[v] and direct.get(v) and abs(single[v] / direct[v] - 1) > MEASURE.latency_story_tolerance]
    if not apart:
        return []
    return [f"LoadGen SingleStream p50 and the latency test's batch-1 p50 differ by more than "
            f"{MEASURE.latency_story_tolerance:.0%} ({', '.join(apart)}): LoadGen adds its own issue and completion "
            "path per query; trust the latency test for the model's time and LoadGen for a served request's."]


def long_run_advice(verdicts: list[VariantVerdict], config: ScoringConfig) -> list[str]:
    """What a flagged leak, slowdown, concurrency fault or low Server QPS means for a deployment."""
    t = config.targets
    flagged: dict[str, list[str]] = defaultdict(list)
    in_doubt: dict[str, list[str]] = defaultdict(list)  # a leak or slowdown whose interval holds the target
    for v in verdicts:
        for name in ("leak_mb_per_1k", "slowdown_pct", "concurrency_faults", "server_qps"):
            c = v.criterion(name)
            if c.passed is False and name in ("leak_mb_per_1k", "slowdown_pct") and c.inconclusive \
                    and c.interval is not None:
                in_doubt[name].append(f"{v.variant} {_fmt(c.value)} [{_fmt(c.interval[0])}, {_fmt(c.interval[1])}]")
            elif c.passed is False:
                flagged[name].append(f"{v.variant} {_fmt(c.value)}")
    out = []
    if flagged["leak_mb_per_1k"]:
        out.append(f"RSS grows significantly, above {t.leak_mb_per_1k:g} MB per 1000 inferences "
                   f"({', '.join(flagged['leak_mb_per_1k'])}): something keeps references to inputs or outputs; "
                   "a long-running server will run out of memory.")
    if in_doubt["leak_mb_per_1k"]:
        out.append(f"RSS still grew at the end of the stress run, by an estimate above {t.leak_mb_per_1k:g} MB per "
                   f"1000 inferences whose 95% interval holds the target ({', '.join(in_doubt['leak_mb_per_1k'])}): "
                   "too close to call between a leak and a runtime's arena still warming up; --qp-profile=full runs "
                   "longer and may decide it.")
    if flagged["slowdown_pct"]:
        out.append(f"Latency rises significantly over the extended run, by more than {t.slowdown_pct:g}% "
                   f"({', '.join(flagged['slowdown_pct'])}): look for growing state or caches, or a noisy machine.")
    if in_doubt["slowdown_pct"]:
        out.append(f"Latency still rose over the extended run, by an estimate above {t.slowdown_pct:g}% whose 95% "
                   f"interval holds the target ({', '.join(in_doubt['slowdown_pct'])}): too close to call between "
                   "the model slowing down and the machine's speed wandering; --qp-profile=full runs longer and may "
                   "decide it.")
    if flagged["concurrency_faults"]:
        out.append(f"Requests fail or disagree with serial outputs under concurrency ({', '.join(flagged['concurrency_faults'])}): "
                   "serve these variants from one thread per process.")
    if flagged["server_qps"]:
        out.append(f"In the Server scenario no variant keeps p99 within {t.server_p99_ms:g} ms at {t.server_qps:g} QPS "
                   f"({', '.join(flagged['server_qps'])}): add replicas or cores, or relax the latency bound."
                   if len(flagged["server_qps"]) == len(verdicts) else
                   f"Below {t.server_qps:g} QPS at p99 <= {t.server_p99_ms:g} ms in the Server scenario: "
                   f"{', '.join(flagged['server_qps'])}.")
    return out
