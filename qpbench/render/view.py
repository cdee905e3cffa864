"""What every report shows: the one view model of a verdict and its run record.

The terminal summary, the HTML report and the Markdown summary format these rows
and cells; none of them formats a number itself, so all three say the same thing
digit for digit. A verdict scored in this run and one read back from its JSON give
the same rows (a NaN in memory is None on disk: both read "-").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qpbench.criteria import CRITERIA, active
from qpbench.record import RunRecord
from qpbench.verdict import CriterionVerdict, Verdict

@dataclass(frozen=True)
class Cell:
    text: str
    status: str  # "ok", "miss" (soft target missed), "fail" (hard gate failed), "none" (not measured)


def number(name: str, value: float | None) -> str:
    """A criterion's value as every report prints it; "-" when unknown."""
    if value is None or not math.isfinite(value):
        return "-"
    crit = CRITERIA.get(name)
    decimals = crit.decimals if crit is not None and crit.decimals is not None else (1 if abs(value) < 1e4 else 0)
    text = f"{value:.{decimals}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]  # a loss of -0.000 (a hair better than the reference) reads as 0.000
    return text


def criterion_cell(c: CriterionVerdict) -> Cell:
    if c.passed is None:
        return Cell("-", "none")
    status = "ok" if c.passed else ("fail" if c.hard_gate else "miss")
    # "?": the 95% interval contains the target, so another run could call it the other way;
    # "*": passing on the estimate, with too few samples to bound the interval's far end.
    mark = "?" if c.inconclusive else "*" if c.unbounded else ""
    return Cell(number(c.name, c.value) + mark, status)


def ratio(value: float | None, spec: str = ".2f") -> str:
    return f"{value:{spec}}x" if value else "-"


@dataclass(frozen=True)
class VariantRow:
    variant: str
    recommended: bool
    cells: tuple[Cell, ...]  # one per judged criterion, in CRITERIA's order (criteria.active)
    speedup: str  # batch-1 median against the reference
    artifact_mb: str
    score: str
    ready: bool
    reasons: tuple[str, ...]
    at_gate: bool = False  # not ready only for a hard gate too close to call (VariantVerdict.at_gate)
    kernels: str = "-"  # what the heavy operators ran in, e.g. "int8 53/53 conv (avx512_core_vnni)"
    ops: str = "-"  # achieved operations per second against the machine's peak

    @property
    def ready_text(self) -> str:
        """'yes', 'no', or 'at gate': not ready only because a hard gate is too close to call."""
        if self.ready:
            return "yes"
        return "at gate" if self.at_gate else "no"


def ops_text(achieved: float | None, peak: float | None) -> str:
    """E.g. "61 of 358 GOP/s (17%)": the model's operations per image over the batch-1 median."""
    if not achieved:
        return "-"
    if not peak:
        return f"{achieved / 1e9:.0f} GOP/s"
    return f"{achieved / 1e9:.0f} of {peak / 1e9:.0f} GOP/s ({achieved / peak:.0%})"


def variant_rows(verdict: Verdict) -> list[VariantRow]:
    """One row per judged variant: criteria cells, speed-up, size, score, ready, reasons."""
    return [VariantRow(
        variant=v.variant,
        recommended=v.variant == verdict.recommended,
        cells=tuple(criterion_cell(v.criterion(c.name)) for c in active(verdict.config.targets)),
        speedup=ratio(v.speedup_vs_reference),
        artifact_mb=f"{v.artifact_mb:.1f}" if v.artifact_mb else "-",
        score=f"{v.score:.0f}",
        ready=v.ready,
        reasons=v.reasons,
        at_gate=v.at_gate,
        kernels=v.kernels or "-",
        ops=ops_text(v.achieved_ops_per_s, v.peak_ops_per_s),
    ) for v in verdict.variants]


def score_basis_line(verdict: Verdict) -> str | None:
    """What the scores rest on, where the run measured some criteria for some variants only
    (Verdict.score_basis); None where every variant got every criterion."""
    if not verdict.score_basis:
        return None
    crits = active(verdict.config.targets)
    scored = [c.short for c in crits if c.name in verdict.score_basis]
    some = [c.short for c in crits if c.name not in verdict.score_basis and verdict.config.weights.get(c.name, 0.0) > 0
            and any(v.criterion(c.name).value is not None for v in verdict.variants)]
    return (f"scores rest on what every variant got in this run: {', '.join(scored)}"
            + (f"; {', '.join(some)} measured for some variants only: judged, not scored" if some else ""))


def accuracy_samples_line(verdict: Verdict) -> str | None:
    """Which variants' accuracy figures rest on fewer samples than the whole set (the looks
    decided them: measure/accuracy.py); None where every one rests on the whole set."""
    part = [v for v in verdict.variants if v.accuracy_samples]
    if not part:
        return None
    groups: dict[tuple[int, int], list[str]] = {}
    for v in part:
        groups.setdefault(tuple(v.accuracy_samples), []).append(v.variant)
    said = "; ".join(f"{', '.join(names)} on {n} of {total} samples" for (n, total), names in groups.items())
    whole = [v.variant for v in verdict.variants if not v.accuracy_samples
             and v.criteria and any(c.name == "pearson" and c.value is not None for c in v.criteria)]
    return (f"accuracy judged until decided: {said}" + (f"; {', '.join(whole)} on the whole set" if whole else "")
            + " (Pearson moves with the samples: across variants, compare the fidelity loss, each on the reference's same samples)")


@dataclass(frozen=True)
class TargetRow:
    name: str
    short: str
    description: str
    target: str  # e.g. "<= 50 ms"
    hard_gate: bool
    weight: float


def target_rows(verdict: Verdict) -> list[TargetRow]:
    config = verdict.config
    rows = []
    for crit in active(config.targets):
        sign = ">=" if crit.higher_is_better else "<="
        target = f"{sign} {config.targets.get(crit.name):g}" + (f" {crit.unit}" if crit.unit else "")
        rows.append(TargetRow(crit.name, crit.short, crit.description, target, crit.name in config.hard_gates,
                              config.weights.get(crit.name, 0.0)))
    return rows


@dataclass(frozen=True)
class QuantRow:
    variant: str
    corr_loss: str
    mae_increase: str
    speedup: str
    size_reduction: str
    accepted: bool
    reasons: tuple[str, ...]


def quantization_rows(verdict: Verdict) -> list[QuantRow]:
    return [QuantRow(
        variant=q.variant,
        corr_loss=f"{q.corr_loss:.1%}" if q.corr_loss is not None else "-",
        mae_increase=f"{q.mae_increase:+.1%}" if q.mae_increase is not None else "-",
        speedup=f"{q.speedup:.2f}x" if q.speedup is not None else "-",
        size_reduction=f"{q.size_reduction:.1f}x" if q.size_reduction is not None else "-",
        accepted=q.accepted,
        reasons=q.reasons,
    ) for q in verdict.quantization]


@dataclass(frozen=True)
class PlanRow:
    """One of the deployment plan's own success criteria, said plainly."""

    criterion: str
    state: str  # "met", "missed", "inconclusive" (the interval contains the target), "unbounded" or "not measured"
    detail: str


PLAN_TARGETS = (  # criterion name, what the plan asks, in words
    ("latency_p95_ms", "batch-1 p95 per image"),
    ("throughput_ips", "throughput"),
    ("peak_rss_mb", "peak memory"),
    ("pearson", "correlation with the measured SSIM"),
)


def plan_rows(verdict: Verdict) -> list[PlanRow]:
    """The plan's success criteria, each met / missed / inconclusive / not measured with the variants that meet it."""
    rows = [_target_plan_row(verdict, name, words) for name, words in PLAN_TARGETS]
    return [*rows, _size_plan_row(verdict), _tuning_plan_row(verdict)]


def _target_plan_row(verdict: Verdict, name: str, words: str) -> PlanRow:
    crit = CRITERIA[name]
    target = f"{'>=' if crit.higher_is_better else '<='} {verdict.config.targets.get(name):g}" + (
        f" {crit.unit}" if crit.unit else "")
    measured = [(v.variant, v.criterion(name)) for v in verdict.variants if v.criterion(name).value is not None]
    if not measured:
        return PlanRow(f"{words} {target}", "not measured", "no variant measured it")
    # Met: by a variant whose interval is clear of the target (an estimate that passes within the
    # noise is too close to call); inconclusive: no clear one, but one whose interval holds the target.
    meeting = [f"{n} {number(name, c.value)}" for n, c in measured
               if c.passed and not (c.inconclusive or c.unbounded)]
    if meeting:
        return PlanRow(f"{words} {target}", "met", "by " + ", ".join(meeting))
    close = [f"{n} {number(name, c.value)} [{number(name, c.interval[0])}, {number(name, c.interval[1])}]"
             for n, c in measured if c.inconclusive and c.interval is not None]
    if close:
        return PlanRow(f"{words} {target}", "inconclusive", "the 95% interval contains the target: " + ", ".join(close))
    unbounded = [f"{n} {number(name, c.value)}" for n, c in measured if c.unbounded]
    if unbounded:
        return PlanRow(f"{words} {target}", "unbounded", "not enough samples to bound it: " + ", ".join(unbounded))
    best = (max if crit.higher_is_better else min)(measured, key=lambda m: m[1].value)
    return PlanRow(f"{words} {target}", "missed", f"best {best[0]} {number(name, best[1].value)}")


def _size_plan_row(verdict: Verdict) -> PlanRow:
    label = "model > 2x smaller by quantization"
    sized = [q for q in verdict.quantization if q.size_reduction is not None]
    if not sized:
        return PlanRow(label, "not measured", "no quantized variant with an artifact size in this run")
    meeting = [f"{q.variant} {q.size_reduction:.1f}x" for q in sized if q.size_reduction > 2]
    notes = [f"{q.variant} {q.size_reduction:.2f}x: dynamic int8 quantizes Linear layers only, and a CNN's weights "
             "are in its convolutions" for q in sized if q.variant == "dynamic-int8" and q.size_reduction <= 2]
    if meeting:
        return PlanRow(label, "met", "by " + ", ".join(meeting) + ("; " + "; ".join(notes) if notes else ""))
    best = max(sized, key=lambda q: q.size_reduction)
    return PlanRow(label, "missed", "; ".join(notes) or f"best {best.variant} {best.size_reduction:.2f}x")


def _tuning_plan_row(verdict: Verdict) -> PlanRow:
    label = "CPU tuning alone > 20% faster"
    tuned = next((v for v in verdict.variants if v.variant == "optimized"), None)
    if tuned is None or tuned.speedup_vs_reference is None:
        return PlanRow(label, "not measured", "select the optimized variant (Conv+BN folding, layout, threads)")
    met = tuned.speedup_vs_reference > 1.2
    detail = f"optimized {tuned.speedup_vs_reference:.2f}x {verdict.reference} at batch 1" + (
        "" if met else ": tuning without quantization or a runtime does not reach it on this model and machine")
    return PlanRow(label, "met" if met else "missed", detail)


@dataclass(frozen=True)
class Status:
    ready: bool
    headline: str  # one line: READY / NOT READY and why
    gate: str | None  # the CI gate's PASS/FAIL line, when a gate was set
    gate_failed: bool


def status(record: RunRecord) -> Status:
    verdict = record.verdict
    if verdict.recommended:
        score = verdict.recommended_score  # None when no judged variant bears the recommended name
        headline = f"READY: recommended variant {verdict.recommended}" + (
            f" (score {score:.0f}/100)" if score is not None else "")
    else:
        headline = "NOT READY: no variant passes every hard gate"
    partial = record.extra.get("partial")
    if partial:  # a run that stopped before its end: a verdict on what it measured, not on the run
        headline = f"PARTIAL ({partial.get('reason', 'the run did not finish')}): {headline}"
    return Status(bool(verdict.recommended), headline, record.gate.message, record.gate.failed)


def machine_line(record: RunRecord) -> str:
    fp = record.fingerprint
    cpu = (fp.get("cpu") or {}).get("brand", "unknown CPU")
    parts = [cpu, f"{fp.get('cores_logical', '?')} logical cores", f"{fp.get('memory_total_mb', '?')} MB RAM",
             f"torch {fp.get('torch', '?')} ({fp.get('build', '?')})", f"{fp.get('num_threads', '?')} threads",
             f"Python {fp.get('python', '?')}"]
    return ", ".join(parts)


def workload_line(record: RunRecord) -> str:
    w = record.workload
    line = f"{w.name} ({w.model_factory}, input {w.input_size}px)"
    if record.eval_set:
        looks = record.eval_set.get("looks")
        if looks and len(looks) > 1:
            line += f"; accuracy on up to {record.eval_set['n_samples']} samples, looked at {'/'.join(map(str, looks))} until decided"
        else:
            line += f"; accuracy on {record.eval_set['n_samples']} samples"
    return line
