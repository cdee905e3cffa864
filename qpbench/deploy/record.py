"""The run record (results/latest.json) as the deployment package reads it: a ``RunRecord``."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from qpbench.errors import QPBenchError, RecordError
from qpbench.files import SAFE_NAME_RULE, is_safe_name
from qpbench.record import RunRecord
from qpbench.schema.codec import dump


class PackageError(QPBenchError):
    """A package cannot be built or does not verify; the message says why."""



def load_run(path: str | Path) -> RunRecord:
    """The run record at ``path`` (RunRecord.load); a bad one is a PackageError that says what to do."""
    path = Path(path)
    try:
        record = RunRecord.load(path)
    except RecordError as exc:
        if exc.problem == "missing":
            raise PackageError(f"run record {path} does not exist: run `pytest bench/` first "
                               "(it writes results/latest.json)") from None
        raise PackageError(str(exc)) from None
    return replace(record, source=str(path.resolve()))


def resolve_variant(record: RunRecord, name: str | None) -> str:
    """``name``, or the run's recommended variant for None / 'recommended'."""
    if name in (None, "recommended"):
        if not record.verdict.recommended:
            raise PackageError("the run recommends no variant (none is ready for deployment): "
                               "name one with --variant, knowing it misses a hard gate")
        name = record.verdict.recommended
    if not is_safe_name(name):  # it names files while packaging
        raise PackageError(f"variant name {name!r} must be {SAFE_NAME_RULE}")
    measured = sorted({r.variant for r in record.results})
    if name not in measured:
        raise PackageError(f"variant {name!r} is not in the run: measured variants {measured}")
    return name


def run_figures(record: RunRecord, variant: str) -> dict[str, Any]:
    """The run's measured results for ``variant`` as its JSON holds them, grouped by kind
    (latency by batch size): what the package's report keeps and re-validation checks."""
    figures: dict[str, Any] = {"latency": {}, "memory": [], "batch_size": [], "throughput": []}
    for r in (dump(r) for r in record.results if r.variant == variant):
        kind = r["kind"]
        if kind == "latency":
            figures["latency"][str(r["batch_size"])] = {**r["summary"], "samples_s": r["samples_s"]}
        elif kind in ("memory", "batch_size", "throughput"):
            figures[kind].append({k: v for k, v in r.items() if k not in ("kind", "variant")})
        elif kind in ("accuracy", "fidelity", "variant"):
            figures[kind] = {k: v for k, v in r.items() if k not in ("kind", "variant")}
    figures["verdict"] = next((v for v in dump(record.verdict)["variants"] if v["variant"] == variant), None)
    return figures


EVAL_SOURCE = re.compile(r"\(first (\d+) images\)$")


def eval_images(eval_set: dict[str, Any] | None) -> int | None:
    """How many images a run evaluated on (None: all of the dataset), from its ``eval_set``."""
    match = EVAL_SOURCE.search((eval_set or {}).get("source", ""))
    return int(match.group(1)) if match else None
