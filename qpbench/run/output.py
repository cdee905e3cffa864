"""What a run presents: the files it leaves (its record as JSON, one per run and latest.json;
report.html, summary.md and the CI job summary) and the terminal summary's sections."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qpbench.compare.gate import GateSummary
from qpbench.compare.regression import RegressionStep
from qpbench.files import json_text, write_new_text
from qpbench.record import RunRecord
from qpbench.render.terminal import readiness_lines
from qpbench.schema.codec import dump
from qpbench.verdict import Verdict


@dataclass(frozen=True)
class ReportsWritten:
    paths: dict[str, Path] = field(default_factory=dict)  # "html", "md"
    error: str | None = None  # why no report was written


def write_record(record: RunRecord, results_dir: str | Path) -> Path:
    """``runs/<stamp>-<workload>.json`` (``-2``, ``-3``... when a run of the same second has the
    name: never replaced) and ``latest.json``; returns the first."""
    out = Path(results_dir)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in record.workload.name)
    path = write_new_run(record, out / "runs", f"{stamp}-{name}")
    record.write(out / "latest.json")
    return path


def write_new_run(record: RunRecord, runs_dir: Path, stem: str, attempts: int = 1000) -> Path:
    """The record under ``runs_dir/<stem>.json``, or the first free ``<stem>-N.json``: created
    exclusively, so two runs finishing in the same second (xdist hosts, parallel CI jobs)
    each keep their file."""
    text = json_text(dump(record))
    for n in range(1, attempts + 1):
        path = runs_dir / (f"{stem}.json" if n == 1 else f"{stem}-{n}.json")
        try:
            return write_new_text(text, path)
        except FileExistsError:
            continue
    raise FileExistsError(f"{runs_dir}: {attempts} run files named {stem}* already exist")


def write_reports(record: RunRecord, out: Path, source: Path | None) -> ReportsWritten:
    """report.html and summary.md in ``out``, and the CI job summary.

    A report that cannot be drawn is told, not raised: it does not change the
    verdict or the gate, which the JSON already holds.
    """
    from qpbench.render.reports import append_step_summary
    from qpbench.render.reports import write_reports as render_reports

    paths: dict[str, Path] = {}
    try:
        paths = render_reports(record, out, source=str(source) if source else None)
        append_step_summary(paths["md"].read_text(encoding="utf-8"))
    except Exception as exc:  # a plotting or template failure must not hide the verdict
        return ReportsWritten(paths, f"reports not written: {type(exc).__name__}: {exc}")
    return ReportsWritten(paths)


@dataclass(frozen=True)
class SummarySection:
    """A titled block of the terminal summary."""

    title: str
    lines: list[str]
    regressions_red: bool = False  # colour the comparison's "regressed" rows too


def summary_sections(verdict: Verdict, written: RunRecord | None, json_path: Path | None, reports: list[Path],
                     report_error: str | None, matrix: dict[str, Any] | None, gate: GateSummary,
                     regression: RegressionStep) -> list[SummarySection]:
    """The readiness verdict with the score gate; with a baseline, the comparison with the regression gate."""
    lines = readiness_lines(verdict, written.timing if written is not None else None, json_path, reports,
                            report_error, matrix)
    sections = [SummarySection("qpbench deployment readiness", [*lines, *gate.score.lines])]
    if regression.active:
        sections.append(SummarySection("qpbench comparison with a baseline",
                                       [*regression.report_lines(), *gate.regression.lines], regressions_red=True))
    return sections
