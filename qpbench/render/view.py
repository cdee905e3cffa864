"""What every report shows, read from a saved run record (a plain dict).

The HTML and Markdown renderers format these rows; they do not reach into
the record themselves, so both say the same thing the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qpbench.config import CRITERIA
from qpbench.render.terminal import SHORT as TERMINAL_SHORT

SHORT = TERMINAL_SHORT  # one set of column labels for the terminal, HTML and Markdown


@dataclass(frozen=True)
class Cell:
    text: str
    status: str  # "ok", "miss" (soft target missed), "fail" (hard gate failed), "none" (not measured)


def number(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    text = f"{value:.3f}" if name in ("pearson", "fidelity_loss") else f"{value:.1f}" if value < 1e4 else f"{value:.0f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]  # a loss of -0.000 (a hair better than the reference) reads as 0.000
    return text


def criterion_cell(c: dict[str, Any]) -> Cell:
    if c.get("value") is None:
        return Cell("-", "none")
    status = "ok" if c["passed"] else ("fail" if c["hard_gate"] else "miss")
    return Cell(number(c["name"], c["value"]), status)


def target_text(name: str, verdict: dict[str, Any]) -> str:
    crit = CRITERIA[name]
    sign = ">=" if crit.higher_is_better else "<="
    return f"{sign} {verdict['targets'][name]:g}" + (f" {crit.unit}" if crit.unit else "")


@dataclass(frozen=True)
class Status:
    ready: bool
    headline: str  # one line: READY / NOT READY and why
    gate: str | None  # the CI gate's PASS/FAIL line, when a gate was set
    gate_failed: bool


def status(record: dict[str, Any]) -> Status:
    verdict = record["verdict"]
    gate = record.get("gate") or {}
    if verdict["recommended"]:
        headline = f"READY: recommended variant {verdict['recommended']} (score {verdict['recommended_score']:.0f}/100)"
    else:
        headline = "NOT READY: no variant passes every hard gate"
    return Status(bool(verdict["recommended"]), headline, gate.get("message"), bool(gate.get("failed")))


def variant_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per judged variant: criteria cells, speed-up, size, score, ready, reasons."""
    rows = []
    for v in record["verdict"]["variants"]:
        by_name = {c["name"]: c for c in v["criteria"]}
        rows.append({
            "variant": v["variant"],
            "recommended": v["variant"] == record["verdict"]["recommended"],
            "cells": [criterion_cell(by_name[n]) if n in by_name else Cell("-", "none") for n in CRITERIA],
            "speedup": f"{v['speedup_vs_reference']:.2f}x" if v.get("speedup_vs_reference") else "-",
            "artifact_mb": f"{v['artifact_mb']:.1f}" if v.get("artifact_mb") else "-",
            "score": f"{v['score']:.0f}",
            "ready": v["ready"],
            "reasons": list(v.get("reasons", [])),
        })
    return rows


def target_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    verdict = record["verdict"]
    return [{
        "name": name,
        "short": SHORT[name],
        "description": crit.description,
        "target": target_text(name, verdict),
        "hard_gate": name in verdict["hard_gates"],
        "weight": verdict["weights"].get(name, 0.0),
    } for name, crit in CRITERIA.items()]


def quantization_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for q in record["verdict"].get("quantization", []):
        rows.append({
            "variant": q["variant"],
            "corr_loss": f"{q['corr_loss']:.1%}" if q.get("corr_loss") is not None else "-",
            "mae_increase": f"{q['mae_increase']:+.1%}" if q.get("mae_increase") is not None else "-",
            "speedup": f"{q['speedup']:.2f}x" if q.get("speedup") is not None else "-",
            "size_reduction": f"{q['size_reduction']:.1f}x" if q.get("size_reduction") is not None else "-",
            "accepted": q["accepted"],
            "reasons": list(q.get("reasons", [])),
        })
    return rows


def machine_line(record: dict[str, Any]) -> str:
    fp = record.get("fingerprint") or {}
    cpu = (fp.get("cpu") or {}).get("brand", "unknown CPU")
    parts = [cpu, f"{fp.get('cores_logical', '?')} logical cores", f"{fp.get('memory_total_mb', '?')} MB RAM",
             f"torch {fp.get('torch', '?')} ({fp.get('build', '?')})", f"{fp.get('num_threads', '?')} threads",
             f"Python {fp.get('python', '?')}"]
    return ", ".join(parts)


def workload_line(record: dict[str, Any]) -> str:
    w = record["workload"]
    line = f"{w['name']} ({w['model_factory']}, input {w['input_size']}px)"
    if record.get("eval_set"):
        line += f"; accuracy on {record['eval_set']['n_samples']} samples"
    return line
