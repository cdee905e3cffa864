"""A comparison with a baseline and the regression gate as Markdown, for a CI job to publish."""

from __future__ import annotations

from qpbench.compare.comparison import IMPROVED, REGRESSED, Comparison
from qpbench.compare.text import fmt_change, fmt_ci, fmt_threshold, fmt_value
from qpbench.render.md_escape import escape as _cell

ICON = {REGRESSED: "regressed :x:", IMPROVED: "improved :white_check_mark:"}


def comparison_markdown(comparison: Comparison, gate_lines: list[str] | None = None) -> str:
    out = [f"## qpbench: {_cell(comparison.current_label)} against {_cell(comparison.baseline_label)}", ""]
    if gate_lines:
        out += [f"**{_cell(gate_lines[0])}**", ""]
        out += [f"- {_cell(line.strip(' -'))}" for line in gate_lines[1:]]
        if len(gate_lines) > 1:
            out.append("")
    counts = comparison.counts()
    out += [_cell(", ".join(f"{n} {k}" for k, n in counts.items())), ""]
    if comparison.notes:
        out += [f"> {_cell(n)}" for n in comparison.notes] + [""]
    out += ["| variant | metric | baseline | current | change | 95% CI | threshold | verdict |",
            "|---|---|---:|---:|---:|---|---:|---|"]
    for c in comparison.changes:
        verdict = ICON.get(c.verdict, c.verdict)
        if c.verdict == "not comparable":
            verdict = f"not comparable: {c.reason}"
        out.append("| " + " | ".join(_cell(x) for x in (
            c.variant, c.metric, fmt_value(c, c.baseline), fmt_value(c, c.current), fmt_change(c), fmt_ci(c),
            fmt_threshold(c), verdict)) + " |")
    return "\n".join(out) + "\n"
