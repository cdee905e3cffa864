"""The deployment-readiness verdict: a pure function of results and targets.

Each criterion gets a score in [0, 1] (1 when the target is met, falling with
the ratio to the target when not), a variant's score is the weighted mean over
the criteria that were measured, times 100. A variant is *ready* when every
hard gate was measured and met beyond the noise (a figure whose 95% interval
holds its target is too close to call: not shown to meet it, whatever side its
estimate is on) and nothing failed while measuring it. The recommended variant
is the fastest ready one (batch-1 median latency).

Every score of a run rests on the same criteria (``score_basis``): those measured for every
variant that nothing failed for. A criterion the run measured for some variants only (the
screen left the others out, docs/engine.md) is judged for them, a hard gate still decides
readiness, but it weighs in no score: a variant measured in full in one run and screened in the
next keeps its score, and two variants' scores compare.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace

from qpbench import criteria
from qpbench.verdict.advice import critical_issues, fmt, recommendations
from qpbench.config import ScoringConfig
from qpbench.criteria import active
from qpbench.verdict.decision import agreement_problems, decide, figures_read, unconfirmed
from qpbench.variant_info import REFERENCE
from qpbench.results import AccuracyResult, FidelityResult, KernelsResult, LatencyResult, Result, VariantInfo, WorkerFailure
from qpbench.verdict import TOO_CLOSE, CriterionVerdict, QuantCandidate, VariantReason, VariantVerdict, Verdict


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


def score_basis(measured: Mapping[str, Mapping[str, object]], errors: Mapping[str, list[str]],
                config: ScoringConfig) -> tuple[str, ...]:
    """The criteria that weigh in a score and were measured for every variant nothing failed for
    (``measured``: per variant, its criteria; ``errors``: per variant, what failed); empty when
    that is every such criterion any variant got, so each score rests on all it measured."""
    weighed = [c.name for c in active(config.targets) if config.weights.get(c.name, 0.0) > 0]
    whole = [names for variant, names in measured.items() if names and not errors.get(variant)]
    if not whole:
        return ()
    basis = tuple(c for c in weighed if all(c in names for names in whole))
    anywhere = {c for names in measured.values() for c in names}
    return () if set(basis) >= anywhere & set(weighed) else basis


def judge_variant(
    name: str,
    values: Mapping[str, float],
    config: ScoringConfig,
    errors: list[str],
    p50: float | None,
    reference_p50: float | None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    basis: tuple[str, ...] = (),
) -> VariantVerdict:
    """``bounds``: the 95% intervals of the criteria that have one (criteria.py); ``basis``: the
    criteria the score rests on (``score_basis``; empty: every measured one)."""
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
        sign = ">=" if crit.higher_is_better else "<="
        if hard and not ok:
            reasons.append(f"{crit.name} {fmt(value)} misses the target {sign} {fmt(target)}{crit.unit and ' ' + crit.unit}")
        elif hard and judged[-1].inconclusive and interval is not None:  # met on the estimate only
            reasons.append(f"{crit.name} {fmt(value)} {TOO_CLOSE} {sign} {fmt(target)}"
                           f"{crit.unit and ' ' + crit.unit} (95% interval {fmt(interval[0])}-{fmt(interval[1])}):"
                           " not shown to meet it")
    measured = [c for c in judged if c.score is not None and c.weight > 0 and (not basis or c.name in basis)]
    total_weight = sum(c.weight for c in measured)
    score = 100.0 * sum(c.weight * c.score for c in measured) / total_weight if total_weight else 0.0
    speedup = reference_p50 / p50 if (p50 and reference_p50) else None
    return VariantVerdict(name, tuple(judged), round(score, 2), not reasons, tuple(reasons), p50, speedup)


def score(
    results: Iterable[Result],
    config: ScoringConfig,
    reference: str = REFERENCE,
    errors: Mapping[str, list[str]] | None = None,
    screened_out: Mapping[str, str] | None = None,
) -> Verdict:
    """Results + targets -> verdict. ``errors``: per variant, measurements that crashed;
    ``screened_out``: variants measured no further than the screen, and why (screening.py)."""
    results = figures_read(results)  # each variant's batch-1 figure: the last clean one (verdict/decision.py)
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
    basis = score_basis(measured, errors, config)
    verdicts = [
        judge_variant(n, {c: m.value for c, m in measured.get(n, {}).items()}, config, errors.get(n, []), p50.get(n),
                      p50.get(reference), {c: m.interval for c, m in measured.get(n, {}).items() if m.interval}, basis)
        for n in names
    ]
    infos = {r.variant: r for r in results if isinstance(r, VariantInfo)}
    verdicts = [with_size(v, infos, reference) for v in verdicts]
    kernels = {r.variant: r for r in results if isinstance(r, KernelsResult)}
    verdicts = [with_kernels(v, kernels.get(v.variant)) for v in verdicts]
    judged = {r.variant: r for r in results if isinstance(r, AccuracyResult)}  # the last: the whole set's, where made
    verdicts = [replace(v, accuracy_samples=(judged[v.variant].n_samples, judged[v.variant].eval_samples))
                if v.variant in judged and (judged[v.variant].eval_samples or 0) > judged[v.variant].n_samples else v
                for v in verdicts]
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
    return Verdict.of(
        config,
        variants=tuple(verdicts),
        recommended=recommended,
        critical_issues=(*critical_issues(verdicts, errors), *(f"{n}: {msg}" for n, msg in problems.items())),
        recommendations=(*decision.lines, *recommendations(verdicts, results, config, screened_out, recommended, basis)),
        tie=decision.tied,
        reference=reference,
        skipped=tuple(VariantReason(r.variant, r.skipped) for r in results if isinstance(r, VariantInfo) and r.skipped),
        quantization=tuple(quant),
        best_quantization=best_quant,
        screened_out=tuple(VariantReason(n, why) for n, why in (screened_out or {}).items()),
        score_basis=basis,
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
    paired = {r.variant: r for r in results if isinstance(r, FidelityResult) and r.mae_increase_rel is not None}
    p50 = {r.variant: r.per_image_ms["p50"] for r in results if isinstance(r, LatencyResult) and r.batch_size == 1}
    rule = config.quant
    out = []
    for name, info in infos.items():
        if not info.meta.get("quantized") or info.error or info.skipped:
            continue
        reasons = []
        ref_acc, this_acc = acc.get(reference), acc.get(name)
        corr_loss = mae_inc = speedup = None
        if name in paired:  # both on the same samples, against the reference's predictions of them
            corr_loss, mae_inc = paired[name].pearson_loss_rel, paired[name].mae_increase_rel
        elif ref_acc and this_acc and ref_acc.pearson and ref_acc.mae:  # a record written before
            corr_loss = (ref_acc.pearson - this_acc.pearson) / ref_acc.pearson
            mae_inc = (this_acc.mae - ref_acc.mae) / ref_acc.mae
        if corr_loss is not None and mae_inc is not None:
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
