"""The Markdown summary: short enough for a CI job summary (GITHUB_STEP_SUMMARY).

Every value from the record (variant names, labels, messages, paths) goes through
``md_escape.escape``: GitHub renders inline HTML in Markdown, and ``|`` would split a cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qpbench.compare.comparison import IMPROVED, REGRESSED, Comparison
from qpbench.record import RunRecord
from qpbench.render import view
from qpbench.render.md_escape import escape

MARK = {"ok": "", "miss": " (miss)", "fail": " **FAIL**", "none": ""}


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_markdown(record: RunRecord | Mapping[str, Any], report_path: str | None = None) -> str:
    """The summary of ``record``; ``report_path`` names the HTML report to link to."""
    record = RunRecord.of(record)
    verdict = record.verdict
    st = view.status(record)
    lines = [f"## qpbench: {escape(record.workload.name)} - {escape(st.headline)}", ""]
    lines.append(f"{escape(view.workload_line(record))}. Machine: {escape(view.machine_line(record))}. "
                 f"Profile {escape(record.profile['name'])}, {escape(record.created)}.")
    lines.append("")
    if st.gate:
        lines += [f"**{escape(st.gate)}**", ""]
    targets = view.target_rows(verdict)
    header = ["variant", *[escape(t.short) for t in targets], f"x {escape(verdict.reference)}", "MB", "score", "ready"]
    lines.append(_row(header))
    lines.append(_row(["---", *["---:"] * (len(header) - 1)]))
    lines.append(_row(["*target*", *[escape(t.target) + (" (gate)" if t.hard_gate else "") for t in targets],
                       "", "", "", ""]))
    for row in view.variant_rows(verdict):
        name = escape(row.variant)
        lines.append(_row([f"**{name}**" if row.recommended else name,
                           *[escape(c.text) + MARK[c.status] for c in row.cells],
                           escape(row.speedup), escape(row.artifact_mb), escape(row.score),
                           row.ready_text]))
    lines.append("")
    for note in (view.score_basis_line(verdict), view.accuracy_samples_line(verdict)):
        if note:
            lines += [escape(note[0].upper() + note[1:]) + ".", ""]
    lines += kernel_section(verdict)
    if verdict.best_quantization or verdict.quantization:
        lines.append(f"Best quantization method: {escape(verdict.best_quantization or 'none passes the rule')}.")
        lines.append("")
    lines.append("### The plan's success criteria")
    lines += [f"- **{escape(row.state)}**: {escape(row.criterion)} ({escape(row.detail)})" for row in view.plan_rows(verdict)]
    lines.append("")
    if verdict.critical_issues:
        lines.append("### Critical issues")
        lines += [f"- {escape(msg)}" for msg in verdict.critical_issues]
        lines.append("")
    if verdict.recommendations:
        lines.append("### Recommendations")
        lines += [f"- {escape(msg)}" for msg in verdict.recommendations]
        lines.append("")
    if verdict.skipped:
        lines.append("Skipped: " + "; ".join(f"{escape(name)} ({escape(reason)})" for name, reason in verdict.skipped))
        lines.append("")
    if verdict.screened_out:
        lines.append("Screened out (measured in the screen only): "
                     + "; ".join(f"{escape(name)} ({escape(reason)})" for name, reason in verdict.screened_out))
        lines.append("")
    lines += comparison_section(record.comparison)
    if report_path:
        lines += [f"Full report: {escape(report_path)}", ""]
    return "\n".join(lines)


def kernel_section(verdict: Any) -> list[str]:
    """Which kernels ran and the operations per second against the peak, when measured (a list:
    the summary keeps one table, the verdict's)."""
    rows = [r for r in view.variant_rows(verdict) if r.kernels != "-" or r.ops != "-"]
    if not rows:
        return []
    lines = ["Kernels (heavy operators) and batch-1 operations per second against the machine's peak:"]
    lines += [f"- {escape(r.variant)}: {escape(r.kernels)}; {escape(r.ops)}" for r in rows]
    return [*lines, ""]


def comparison_section(comparison: Comparison | None) -> list[str]:
    """The run against its baseline (--qp-compare): counts, the changes that matter, the gate."""
    if comparison is None:
        return []
    lines = [f"### Against {escape(comparison.baseline_label)}",
             ", ".join(f"{n} {escape(v)}" for v, n in comparison.counts().items())
             + ("" if comparison.same_machine else " (different machine: absolute figures not compared)"),
             ""]
    moved = [c for c in comparison.changes if c.verdict in (REGRESSED, IMPROVED)]
    if moved:
        lines.append(_row(["variant", "metric", "change", "95% CI", "verdict"]))
        lines.append(_row(["---", "---", "---:", "---", "---"]))
        for c in moved:
            pct = (lambda x: f"{x:+.1%}") if c.relative else (lambda x: f"{x:+.4f}")
            ci = f"[{pct(c.ci_low)}, {pct(c.ci_high)}]" if c.ci_low is not None else "-"
            change = pct(c.change) if c.change is not None else "-"
            lines.append(_row([escape(c.variant), escape(c.metric), escape(change), escape(ci), escape(c.verdict)]))
        lines.append("")
    lines += [f"- {escape(line)}" for line in (comparison.gate or {}).get("lines", [])]
    return lines + [""]
