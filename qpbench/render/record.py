"""The run record's JSON Schema, and reading a saved record back.

``schema/run.schema.json`` documents every key a run writes. ``load_record``
is what ``qpbench report`` reads with: a record that is not valid JSON, is of
another schema version or does not match the schema is refused with the file
and the problem named, before anything is rendered.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

from qpbench.errors import RecordError
from qpbench.render.json_report import SCHEMA_VERSION

MAX_ERRORS = 5  # the first few problems name the fix; hundreds would bury it


@functools.cache
def schema() -> dict[str, Any]:
    return json.loads(resources.files("qpbench.render").joinpath("schema/run.schema.json").read_text())


@functools.cache
def _validator() -> Any:
    import jsonschema

    cls = jsonschema.Draft202012Validator
    return cls(schema(), format_checker=cls.FORMAT_CHECKER)


def result_kinds() -> list[str]:
    """The result kinds the schema knows, in the order of ``$defs.result.oneOf``."""
    refs = [branch["$ref"] for branch in schema()["$defs"]["result"]["oneOf"]]
    return [schema()["$defs"][ref.rsplit("/", 1)[1]]["properties"]["kind"]["const"] for ref in refs]


def _where(error: Any) -> str:
    return error.json_path.replace("$", "record", 1)


def _explain(error: Any) -> list[str]:
    """One line per problem; a result that matches no kind is judged against its own kind's definition."""
    instance = error.instance
    if error.validator == "oneOf" and isinstance(instance, dict) and "kind" in instance:
        kinds = result_kinds()
        if instance["kind"] not in kinds:
            return [f"{_where(error)}: unknown result kind {instance['kind']!r} (known: {', '.join(kinds)})"]
        branch = kinds.index(instance["kind"])
        inner = [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == branch]
        if inner:
            return [f"{_where(e)}: {e.message}" for e in inner]
    return [f"{_where(error)}: {error.message}"]


def validation_errors(record: Any) -> list[str]:
    """Every way ``record`` departs from the schema (empty: it is valid)."""
    problems: list[str] = []
    for error in sorted(_validator().iter_errors(record), key=lambda e: list(e.absolute_path).__repr__()):
        problems += _explain(error)
    return problems


def check_record(record: Any, source: str = "run record") -> None:
    """Raise RecordError naming ``source`` and the first problems when ``record`` is not valid."""
    if isinstance(record, dict) and "schema_version" in record and record["schema_version"] != SCHEMA_VERSION:
        raise RecordError(f"{source}: schema_version {record['schema_version']!r} is not the {SCHEMA_VERSION} "
                          f"this qpbench reads; render it with the qpbench version that wrote it")
    problems = validation_errors(record)
    if problems:
        more = f" (and {len(problems) - MAX_ERRORS} more)" if len(problems) > MAX_ERRORS else ""
        raise RecordError(f"{source}: not a qpbench run record: " + "; ".join(problems[:MAX_ERRORS]) + more)


def load_record(path: str | Path) -> dict[str, Any]:
    """Read and validate a saved run record."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"{path}: no such file (a run writes results/latest.json)") from None
    except IsADirectoryError:
        raise RecordError(f"{path}: is a folder, not a run record (give the .json file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: cannot be read: {exc}") from None
    if not text.strip():
        raise RecordError(f"{path}: the file is empty")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path}: not valid JSON (corrupt or truncated?): {exc.msg} "
                          f"(line {exc.lineno}, column {exc.colno})") from None
    check_record(record, str(path))
    return record
