"""The run record: what one ``pytest bench/`` run measured, on what, and the verdict, typed.

A run builds one ``RunRecord`` and writes it as JSON (results/latest.json, a baseline);
every reader (``qpbench report``, ``qpbench compare``, the regression gate, ``qpbench
package``) reads it back with :meth:`RunRecord.load`, which refuses a missing, corrupt,
truncated or foreign file with one error type, ``RecordError``, naming the file and the
problem. The types are the schema: ``qpbench.schema.codec`` writes and reads them, and
``python -m qpbench.schema`` writes ``schema/run.schema.json`` from them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, TypeVar

from qpbench.compare.comparison import Comparison
from qpbench.errors import RecordError
from qpbench.files import write_json
from qpbench.compare.gate import GateResult
from qpbench.results import Result
from qpbench.schema import codec
from qpbench.schema.fingerprint import Fingerprint
from qpbench.schema.shape import UTC_STAMP, Written
from qpbench.verdict import Verdict
from qpbench.workload import WorkloadSpec

SCHEMA_VERSION = 1  # of the run record's JSON (schema/run.schema.json): bumped when a change breaks readers
MAX_ERRORS = 5  # the first few problems name the fix; hundreds would bury it
R = TypeVar("R")


@dataclass(frozen=True)
class HostRun(Written):
    """One host's part of a ``--dist each`` run."""

    fingerprint: Fingerprint | None
    results: tuple[Result, ...]
    errors: Mapping[str, list[str]]
    verdict: Verdict


@dataclass(frozen=True)
class RunRecord(Written):
    __json_order__ = ("schema_version", "qpbench_version", "created", "workload", "eval_set", "profile",
                      "selected_variants", "fail_under", "gate", "fingerprint", "results", "errors", "verdict", "hosts",
                      "matrix", "comparison", "baseline", "timing", "extra")
    __json_omit_empty__ = ("hosts", "matrix", "comparison", "baseline", "timing", "extra")
    __json_skip__ = ("source",)

    workload: WorkloadSpec
    eval_set: Mapping[str, Any] | None  # {"source", "n_samples", "looks"}; None where the controller loaded no data
    profile: Mapping[str, Any]  # config.Profile's fields
    selected_variants: tuple[str, ...]
    fail_under: float | None
    gate: GateResult  # the score gate (--qp-fail-under); the regression gate is in the comparison
    fingerprint: Fingerprint  # system.fingerprint(), as the hooks extended it (schema/fingerprint.py)
    results: tuple[Result, ...]
    errors: Mapping[str, list[str]]  # per variant, measurements that crashed
    verdict: Verdict
    created: Annotated[str, UTC_STAMP]  # UTC, ISO 8601
    qpbench_version: str
    schema_version: int = SCHEMA_VERSION
    hosts: Mapping[str, HostRun] | None = None  # --dist each: every host's part (the top level is the first's)
    matrix: Mapping[str, Any] | None = None  # --dist each: hosts.readiness_matrix
    comparison: Comparison | None = None  # --qp-compare: this run against a baseline
    baseline: Mapping[str, Any] | None = None  # a saved baseline's name, save time, git commit
    extra: dict[str, Any] = field(default_factory=dict)  # what pytest_qpbench_update_record added (JSON values)
    # Where the run's time went (run_clock.py): wall time, seconds per stage, the budget and its share.
    timing: Mapping[str, Any] | None = None
    source: str | None = field(default=None, compare=False)  # the file it was loaded from

    # Reading ---------------------------------------------------------------------

    @classmethod
    def of(cls, record: RunRecord | Mapping[str, Any]) -> RunRecord:
        """``record`` typed: a RunRecord as it is, a record's JSON data read (RecordError if it is not one)."""
        return record if isinstance(record, RunRecord) else parse(record)

    @classmethod
    def load(cls, path: str | Path) -> RunRecord:
        """Read, validate and type a saved record; RecordError says what is wrong."""
        return replace(parse(read_json(path), str(path)), source=str(path))

    # Writing ---------------------------------------------------------------------

    def write(self, path: str | Path) -> Path:
        """Atomically: never a half-written record, whatever stops the write."""
        return write_json(codec.dump(self), Path(path))

    # Questions readers ask -----------------------------------------------------------

    def results_of(self, kind: type[R]) -> list[R]:
        return [r for r in self.results if isinstance(r, kind)]

    @property
    def variants(self) -> list[str]:
        """Every variant the run selected or judged, in the selection's order."""
        return list(dict.fromkeys([*self.selected_variants, *(v.variant for v in self.verdict.variants)]))


# The file and the schema --------------------------------------------------------------


def read_json(path: str | Path) -> Any:
    """The JSON in ``path``, or RecordError: missing, a folder, unreadable, empty, not JSON."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"{path}: no such file (a run writes results/latest.json)", "missing") from None
    except IsADirectoryError:
        raise RecordError(f"{path}: is a folder, not a run record (give the .json file)", "unreadable") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: cannot be read: {exc}", "unreadable", str(exc)) from None
    if not text.strip():
        raise RecordError(f"{path}: the file is empty", "empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        detail = f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise RecordError(f"{path}: not valid JSON (corrupt or truncated?): {detail}", "not_json", detail) from None


def schema() -> dict[str, Any]:
    """The run record's JSON schema as committed (``python -m qpbench.schema`` writes it from the types)."""
    return json.loads(resources.files("qpbench").joinpath("schema/run.schema.json").read_text())


def validation_errors(record: Any) -> list[str]:
    """Every way ``record`` (JSON data) is not a run record, each with its path (empty: it is one)."""
    try:
        codec.load(RunRecord, record)
    except codec.Invalid as exc:
        return exc.problems
    return []


def parse(record: Any, source: str = "run record") -> RunRecord:
    """``record`` (JSON data) typed; RecordError naming ``source`` and the first problems when it is not a record."""
    if isinstance(record, dict) and "schema_version" not in record:
        raise RecordError(f"{source}: no schema_version: not a qpbench run record", "no_version")
    if isinstance(record, dict) and record["schema_version"] != SCHEMA_VERSION:
        raise RecordError(f"{source}: schema_version {record['schema_version']!r} is not the {SCHEMA_VERSION} "
                          f"this qpbench reads; render it with the qpbench version that wrote it", "other_version",
                          repr(record["schema_version"]))
    try:
        return codec.load(RunRecord, record)
    except codec.Invalid as exc:
        problems = exc.problems
    more = f" (and {len(problems) - MAX_ERRORS} more)" if len(problems) > MAX_ERRORS else ""
    missing = [k for k in REQUIRED if k not in record] if isinstance(record, dict) else []
    incomplete = f" (incomplete run record, missing {missing})" if missing else ""
    detail = "; ".join(problems[:MAX_ERRORS]) + more
    raise RecordError(f"{source}: not a qpbench run record{incomplete}: {detail}", "invalid", detail)


def check_record(record: Any, source: str = "run record") -> None:
    """Raise RecordError naming ``source`` and the first problems when ``record`` is not valid."""
    parse(record, source)


REQUIRED = [f.name for f in fields(RunRecord) if f.default is MISSING and f.default_factory is MISSING]
