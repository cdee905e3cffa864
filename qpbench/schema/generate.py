"""The run record's JSON schema, generated from its types (``python -m qpbench.schema`` writes it;
tests/test_schema_types.py fails when the committed copy is stale)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qpbench.files import write_text
from qpbench.record import RunRecord
from qpbench.schema import codec

SCHEMA_PATH = Path(__file__).with_name("run.schema.json")
COMMAND = "python -m qpbench.schema"
HEAD = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://qpbench.invalid/schema/run.schema.json",
    "title": "qpbench run record",
    "description": "One `pytest bench/` run: what was measured, on what, and the verdict. Written to "
                   "results/latest.json and results/runs/<stamp>-<workload>.json; every report (HTML, Markdown, "
                   "terminal) is rendered from it.",
    "$comment": f"Generated from qpbench.record.RunRecord and the types it holds by `{COMMAND}`: edit the types, "
                "not this file.",
}


def record_schema() -> dict[str, Any]:
    generated = codec.json_schema(RunRecord)
    generated.pop("title", None)
    return {**HEAD, **generated}


def text() -> str:
    return json.dumps(record_schema(), indent=2, ensure_ascii=False) + "\n"


def write(path: Path = SCHEMA_PATH) -> Path:
    write_text(text(), path)
    return path
