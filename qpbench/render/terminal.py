"""The readiness table printed at the end of a run, from the view model every report shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qpbench.render import view
from qpbench.run import clock as run_clock
from qpbench.run.hosts import matrix_lines
from qpbench.verdict import Verdict

MARK = {"ok": "ok", "miss": "miss", "fail": "FAIL", "none": ""}


def cell(c: view.Cell) -> str:
    return f"{c.text} {MARK[c.status]}".rstrip()


def table(verdict: Verdict) -> list[str]:
    targets = view.target_rows(verdict)
    header = ["variant", *[t.short for t in targets], f"x {verdict.reference}", "MB", "score", "ready"]
    target_row = ["target", *[t.target + (" (gate)" if t.hard_gate else "") for t in targets], "", "", "", ""]
    rows = [header, target_row]
    for row in view.variant_rows(verdict):
        rows.append([row.variant, *[cell(c) for c in row.cells], row.speedup, row.artifact_mb, row.score,
                     row.ready_text])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def kernel_table(verdict: Verdict) -> list[str]:
    """Which kernels each variant's heavy operators ran with, and its operations per second
    at batch 1 against the machine's peak for that precision; nothing when not measured."""
    rows = [[row.variant, row.kernels, row.ops] for row in view.variant_rows(verdict)
            if row.kernels != "-" or row.ops != "-"]
    if not rows:
        return []
    rows.insert(0, ["variant", "kernels (heavy operators)", "batch-1 ops/s of peak"])
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return ["  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip() for r in rows]


def summary_lines(verdict: Verdict, json_path: str | None) -> list[str]:
    lines = table(verdict)
    lines.append("")
    speedups = [f"{row.variant} {row.speedup}" for row, v in zip(view.variant_rows(verdict), verdict.variants)
                if v.speedup_vs_reference is not None and v.variant != verdict.reference]
    if speedups:
        lines.append(f"batch-1 median speed-up vs {verdict.reference} (same run): " + ", ".join(speedups))
    lines += kernel_table(verdict)
    for note in (view.score_basis_line(verdict), view.accuracy_samples_line(verdict)):
        if note:
            lines.append(note)
    if verdict.recommended:
        lines.append(f"recommended variant: {verdict.recommended} (score {verdict.recommended_score:.0f})")
    else:
        lines.append("recommended variant: none - no variant passes every hard gate")
    for q in view.quantization_rows(verdict):
        facts = ", ".join(x for x in (
            f"Pearson loss {q.corr_loss}" if q.corr_loss != "-" else "",
            f"MAE {q.mae_increase}" if q.mae_increase != "-" else "",
            f"{q.speedup} faster" if q.speedup != "-" else "",
            f"{q.size_reduction} smaller" if q.size_reduction != "-" else "",
        ) if x)
        verdict_word = "accepted" if q.accepted else "rejected: " + "; ".join(q.reasons)
        lines.append(f"quantization {q.variant}: {facts} - {verdict_word}")
    if verdict.quantization:
        lines.append(f"best quantization method: {verdict.best_quantization or 'none passes the rule'}")
    lines.append("the plan's success criteria:")
    lines += [f"  {row.state.upper():12s} {row.criterion}: {row.detail}" for row in view.plan_rows(verdict)]
    for name, reason in verdict.skipped:
        lines.append(f"skipped variant {name}: {reason}")
    for name, reason in verdict.screened_out:
        lines.append(f"screened out {name} (measured in the screen only): {reason}")
    if verdict.critical_issues:
        lines.append("critical issues:")
        lines += [f"  - {msg}" for msg in verdict.critical_issues]
    if verdict.recommendations:
        lines.append("recommendations:")
        lines += [f"  - {msg}" for msg in verdict.recommendations]
    if json_path:
        lines.append(f"results: {json_path}")
    return lines


def readiness_lines(verdict: Verdict, timing: dict[str, Any] | None, json_path: Path | None, reports: list[Path],
                    report_error: str | None, matrix: dict[str, Any] | None) -> list[str]:
    """The readiness section of the terminal summary: the verdict, where the time went, the files
    written; under --dist each, the first host's, then the matrix of every host's."""
    lines = summary_lines(verdict, None)
    if timing:
        lines.append(run_clock.timing_line(timing))
    if json_path:
        lines.append(f"results: {json_path}")
    lines += [f"report: {path}" for path in reports]
    if report_error:
        lines.append(report_error)
    if matrix:
        hosts = matrix["hosts"]
        lines = [f"host {hosts[0]} (first of {len(hosts)}):", *lines, "", *matrix_lines(matrix)]
    return lines
