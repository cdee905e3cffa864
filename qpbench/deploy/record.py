"""The run record (results/latest.json) as the deployment package reads it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from qpbench.errors import QPBenchError


class PackageError(QPBenchError):
    """A package cannot be built or does not verify; the message says why."""



def load_run(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise PackageError(f"run record {path} does not exist: run `pytest bench/` first (it writes results/latest.json)")
    try:
        record = json.loads(path.read_text())
    except ValueError as exc:
        raise PackageError(f"run record {path} is not JSON ({exc})") from None
    missing = [k for k in ("workload", "eval_set", "results", "verdict") if k not in record]
    if missing:
        raise PackageError(f"run record {path} lacks {missing}: is it a qpbench run record?")
    record["_path"] = str(path.resolve())
    return record


def resolve_variant(record: dict[str, Any], name: str | None) -> str:
    """``name``, or the run's recommended variant for None / 'recommended'."""
    if name in (None, "recommended"):
        recommended = record["verdict"].get("recommended")
        if not recommended:
            raise PackageError("the run recommends no variant (none is ready for deployment): "
                               "name one with --variant, knowing it misses a hard gate")
        return recommended
    measured = sorted({r["variant"] for r in record["results"]})
    if name not in measured:
        raise PackageError(f"variant {name!r} is not in the run: measured variants {measured}")
    return name


def run_figures(record: dict[str, Any], variant: str) -> dict[str, Any]:
    """The run's measured results for ``variant``, grouped by kind (latency by batch size)."""
    figures: dict[str, Any] = {"latency": {}, "memory": [], "batch_size": [], "throughput": []}
    for r in record["results"]:
        if r["variant"] != variant:
            continue
        kind = r["kind"]
        if kind == "latency":
            figures["latency"][str(r["batch_size"])] = {**r["summary"], "samples_s": r["samples_s"]}
        elif kind in ("memory", "batch_size", "throughput"):
            figures[kind].append({k: v for k, v in r.items() if k not in ("kind", "variant")})
        elif kind in ("accuracy", "fidelity", "variant"):
            figures[kind] = {k: v for k, v in r.items() if k not in ("kind", "variant")}
    figures["verdict"] = next((v for v in record["verdict"].get("variants", []) if v["variant"] == variant), None)
    return figures


EVAL_SOURCE = re.compile(r"\(first (\d+) images\)$")


def eval_images(eval_set: dict[str, Any] | None) -> int | None:
    """How many images a run evaluated on (None: all of the dataset), from its ``eval_set``."""
    match = EVAL_SOURCE.search((eval_set or {}).get("source", ""))
    return int(match.group(1)) if match else None
