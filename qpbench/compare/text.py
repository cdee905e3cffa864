"""A comparison with a baseline as terminal lines."""

from __future__ import annotations

from qpbench.compare.comparison import Comparison, MetricChange


def fmt_value(c: MetricChange, value: float | None) -> str:
    if value is None:
        return "-"
    if c.family in ("pearson", "fidelity_loss"):
        return f"{value:.4f}"
    if c.family == "speed_ratio":
        return f"{value:.3f}"
    return f"{value:.3g}"


def fmt_change(c: MetricChange) -> str:
    if c.change is None:
        return "-"
    return f"{c.change:+.1%}" if c.relative else f"{c.change:+.4f}"


def fmt_ci(c: MetricChange) -> str:
    if c.ci_low is None or c.ci_high is None:
        return "-"
    return f"[{c.ci_low:+.1%}, {c.ci_high:+.1%}]"


def fmt_threshold(c: MetricChange) -> str:
    return f"{c.threshold:.0%}" if c.relative else f"{c.threshold:g}"


HEADER = ["variant", "metric", "baseline", "current", "change", "95% CI", "threshold", "verdict"]


def rows(comparison: Comparison) -> list[list[str]]:
    out = []
    for c in comparison.changes:
        verdict = c.verdict if c.verdict != "not comparable" else f"not comparable: {c.reason}"
        out.append([c.variant, c.metric, fmt_value(c, c.baseline), fmt_value(c, c.current), fmt_change(c),
                    fmt_ci(c), fmt_threshold(c), verdict])
    return out


def comparison_lines(comparison: Comparison) -> list[str]:
    table = [HEADER, *rows(comparison)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER) - 1)]
    lines = [f"{comparison.current_label} against {comparison.baseline_label}"
             + ("" if comparison.same_machine else " (different machines)")]
    for note in comparison.notes:
        lines.append(f"note: {note}")
    for i, r in enumerate(table):
        lines.append("  ".join(x.ljust(w) for x, w in zip(r, widths)) + "  " + r[-1])
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  -------")
    counts = comparison.counts()
    lines.append(", ".join(f"{n} {k}" for k, n in counts.items()))
    return lines
