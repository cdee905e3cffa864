"""What a pytest-xdist worker hands the controller, and how the controller reads it back.

A worker measures; only the controller scores and writes. Each worker sends, in
``workeroutput``, its records, its errors, its machine's fingerprint (another
host's under ``--tx ssh=...``) and the regression thresholds its collection found
in ``qp_regression`` markers (the controller collects nothing itself).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qpbench.results import Result
from qpbench.schema.codec import dump, load

WORKER_KEY = "qpbench_records"


@dataclass
class WorkerPayload:
    records: list[Result] = field(default_factory=list)  # build infos (kind "variant") and measurements
    errors: dict[str, list[str]] = field(default_factory=dict)
    fingerprint: dict[str, Any] | None = None
    regression_overrides: dict[str, dict[str, float]] = field(default_factory=dict)


def send(workeroutput: dict[str, Any], payload: WorkerPayload) -> None:
    workeroutput[WORKER_KEY] = json.dumps({
        "records": [dump(r) for r in payload.records],
        "errors": {variant: list(msgs) for variant, msgs in payload.errors.items()},
        "fingerprint": payload.fingerprint,
        "regression_overrides": {variant: dict(v) for variant, v in payload.regression_overrides.items()},
    })


def receive(workeroutput: Mapping[str, Any]) -> WorkerPayload | None:
    """The worker's payload, or None when it sent none (it crashed, or ran no qpbench test)."""
    text = workeroutput.get(WORKER_KEY)
    if not text:
        return None
    data = json.loads(text)
    return WorkerPayload(records=[load(Result, item) for item in data["records"]], errors=data["errors"],
                         fingerprint=data.get("fingerprint"), regression_overrides=data.get("regression_overrides") or {})
