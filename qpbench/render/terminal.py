"""The readiness table printed at the end of a run."""

from __future__ import annotations

from qpbench.config import CRITERIA
from qpbench.scoring import CriterionVerdict, Verdict

SHORT = {
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


def cell(c: CriterionVerdict) -> str:
    if c.value is None:
        return "-"
    value = f"{c.value:.3f}" if c.name in ("pearson", "fidelity_loss") else f"{c.value:.1f}"
    if c.name in ("leak_mb_per_1k", "concurrency_faults"):
        value = f"{c.value:.2f}" if c.name == "leak_mb_per_1k" else f"{c.value:.0f}"
    if value.startswith("-") and float(value) == 0:
        value = value[1:]  # a loss of -0.000 (a hair better than the reference) reads as 0.000
    mark = "ok" if c.passed else ("FAIL" if c.hard_gate else "miss")
    return f"{value} {mark}"


def table(verdict: Verdict) -> list[str]:
    names = list(CRITERIA)
    targets = verdict.config.targets
    header = ["variant", *[SHORT[n] for n in names], "x eager", "MB", "score", "ready"]
    target_row = ["target", *[("<= " if not CRITERIA[n].higher_is_better else ">= ") + f"{targets.get(n):g}"
                              + (" (gate)" if n in verdict.config.hard_gates else "") for n in names], "", "", "", ""]
    rows = [header, target_row]
    for v in verdict.variants:
        speed = f"{v.speedup_vs_reference:.2f}" if v.speedup_vs_reference else "-"
        size = f"{v.artifact_mb:.1f}" if v.artifact_mb else "-"
        rows.append([v.variant, *[cell(v.criterion(n)) for n in names], speed, size, f"{v.score:.0f}",
                     "yes" if v.ready else "no"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def summary_lines(verdict: Verdict, json_path: str | None, gate: str | None) -> list[str]:
    lines = table(verdict)
    lines.append("")
    speedups = [f"{v.variant} {v.speedup_vs_reference:.2f}x" for v in verdict.variants
                if v.speedup_vs_reference is not None and v.variant != verdict.reference]
    if speedups:
        lines.append(f"batch-1 median speed-up vs {verdict.reference} (same run): " + ", ".join(speedups))
    if verdict.recommended:
        lines.append(f"recommended variant: {verdict.recommended} (score {verdict.recommended_score:.0f})")
    else:
        lines.append("recommended variant: none - no variant passes every hard gate")
    for q in verdict.quantization:
        facts = ", ".join(x for x in (
            f"Pearson loss {q.corr_loss:.1%}" if q.corr_loss is not None else "",
            f"MAE {q.mae_increase:+.1%}" if q.mae_increase is not None else "",
            f"{q.speedup:.2f}x faster" if q.speedup is not None else "",
            f"{q.size_reduction:.1f}x smaller" if q.size_reduction is not None else "",
        ) if x)
        verdict_word = "accepted" if q.accepted else "rejected: " + "; ".join(q.reasons)
        lines.append(f"quantization {q.variant}: {facts} - {verdict_word}")
    if verdict.quantization:
        lines.append(f"best quantization method: {verdict.best_quantization or 'none passes the rule'}")
    for name, reason in verdict.skipped:
        lines.append(f"skipped variant {name}: {reason}")
    if verdict.critical_issues:
        lines.append("critical issues:")
        lines += [f"  - {msg}" for msg in verdict.critical_issues]
    if verdict.recommendations:
        lines.append("recommendations:")
        lines += [f"  - {msg}" for msg in verdict.recommendations]
    if json_path:
        lines.append(f"results: {json_path}")
    if gate:
        lines.append(gate)
    return lines
