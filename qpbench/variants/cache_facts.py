"""What a cached build keeps beside its entry (build_cache.py): facts that cannot change between
runs for the same build, each file checked against its digest before use."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


# Facts of a cached build ------------------------------------------------------------------------
# What cannot change between runs for the same build (its key holds the artifact, libraries, CPU
# and dataset) is kept beside its entry: its predictions of each stretch of the evaluation samples,
# which kernels its operators ran with. ``what`` says which fact and the code that found it (its
# digest), so new code finds it afresh. Each file carries the sha256 of its value; one that fails
# the check is a miss, and is removed.

def fact_path(root: Path, key: str, what: str, folder: str = "facts") -> Path:
    return Path(root) / folder / key[:2] / f"{key}-{hashlib.sha256(what.encode()).hexdigest()[:16]}.json"


def load_fact(root: Path, key: str, what: str, folder: str = "facts") -> Any | None:
    """The cached fact ``what`` of build ``key``, or None."""
    path = fact_path(root, key, what, folder)
    try:
        data = json.loads(path.read_text())
        value = data["value"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if data.get("what") != what or data.get("sha256") != _value_digest(value):
        path.unlink(missing_ok=True)  # corrupt or foreign: found again, never used
        return None
    return value


def store_fact(root: Path, key: str, what: str, value: Any, folder: str = "facts") -> None:
    from qpbench.files import write_json

    write_json({"what": what, "sha256": _value_digest(value), "value": value}, fact_path(root, key, what, folder))


def _value_digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def predictions_path(root: Path, key: str, samples: str) -> Path:
    return fact_path(root, key, samples, "predictions")


def load_predictions(root: Path, key: str, samples: str) -> list[float] | None:
    """The cached predictions of build ``key`` on ``samples`` (a description of the samples), or None."""
    values = load_fact(root, key, samples, "predictions")
    try:
        return [float(x) for x in values] if isinstance(values, list) else None
    except (TypeError, ValueError):
        return None


def store_predictions(root: Path, key: str, samples: str, values: list[float]) -> None:
    store_fact(root, key, samples, [float(v) for v in values], "predictions")
