"""What every report shows: the one view model of a verdict and its run record.

The terminal summary, the HTML report and the Markdown summary format these rows
and cells; none of them formats a number itself, so all three say the same thing
digit for digit. A verdict scored in this run and one read back from its JSON give
the same rows (a NaN in memory is None on disk: both read "-").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qpbench.config import CRITERIA
from qpbench.record import RunRecord
from qpbench.scoring import CriterionVerdict, Verdict

SHORT = {  # one set of column labels for the terminal, HTML and Markdown
    "latency_p95_ms": "p95 b1 ms/img",
    "throughput_ips": "img/s",
    "peak_rss_mb": "peak RSS MiB",
    "pearson": "Pearson",
    "fidelity_loss": "fidelity loss",
    "leak_mb_per_1k": "leak MB/1k",
    "slowdown_pct": "slowdown %",
    "concurrency_faults": "conc. faults",
    "server_qps": "server QPS",
}
DECIMALS = {"pearson": 3, "fidelity_loss": 3, "leak_mb_per_1k": 2, "concurrency_faults": 0}


@dataclass(frozen=True)
class Cell:
    text: str
    status: str  # "ok", "miss" (soft target missed), "fail" (hard gate failed), "none" (not measured)


def number(name: str, value: float | None) -> str:
    """A criterion's value as every report prints it; "-" when unknown."""
    if value is None or not math.isfinite(value):
        return "-"
    decimals = DECIMALS.get(name, 1 if abs(value) < 1e4 else 0)
    text = f"{value:.{decimals}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]  # a loss of -0.000 (a hair better than the reference) reads as 0.000
    return text


def criterion_cell(c: CriterionVerdict) -> Cell:
    if c.passed is None:
        return Cell("-", "none")
    status = "ok" if c.passed else ("fail" if c.hard_gate else "miss")
    return Cell(number(c.name, c.value), status)


def ratio(value: float | None, spec: str = ".2f") -> str:
    return f"{value:{spec}}x" if value else "-"


@dataclass(frozen=True)
class VariantRow:
    variant: str
    recommended: bool
    cells: tuple[Cell, ...]  # one per criterion, in CRITERIA's order
    speedup: str  # batch-1 median against the reference
    artifact_mb: str
    score: str
    ready: bool
    reasons: tuple[str, ...]
    kernels: str = "-"  # what the heavy operators ran in, e.g. "int8 53/53 conv (avx512_core_vnni)"
    ops: str = "-"  # achieved operations per second against the machine's peak


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
        cells=tuple(criterion_cell(v.criterion(n)) for n in CRITERIA),
        speedup=ratio(v.speedup_vs_reference),
        artifact_mb=f"{v.artifact_mb:.1f}" if v.artifact_mb else "-",
        score=f"{v.score:.0f}",
        ready=v.ready,
        reasons=v.reasons,
        kernels=v.kernels or "-",
        ops=ops_text(v.achieved_ops_per_s, v.peak_ops_per_s),
    ) for v in verdict.variants]


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
    for name, crit in CRITERIA.items():
        sign = ">=" if crit.higher_is_better else "<="
        target = f"{sign} {config.targets.get(name):g}" + (f" {crit.unit}" if crit.unit else "")
        rows.append(TargetRow(name, SHORT[name], crit.description, target, name in config.hard_gates,
                              config.weights.get(name, 0.0)))
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
        line += f"; accuracy on {record.eval_set['n_samples']} samples"
    return line
