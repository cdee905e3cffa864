"""The run record: what one ``pytest bench/`` run measured, on what, and the verdict, typed.

A run builds one ``RunRecord`` and writes it as JSON (results/latest.json, a baseline);
every reader (``qpbench report``, ``qpbench compare``, the regression gate, ``qpbench
package``) reads it back with :meth:`RunRecord.load`, which refuses a missing, corrupt,
truncated or foreign file with one error type, ``RecordError``, naming the file and the
problem. ``schema/run.schema.json`` documents every key; ``to_dict`` writes exactly that.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from qpbench.compare.comparison import Comparison
from qpbench.errors import RecordError
from qpbench.files import write_json
from qpbench.compare.gate import GateResult
from qpbench.results import Result, result_from_dict, to_dict
from qpbench.scoring import Verdict
from qpbench.workload import WorkloadSpec

SCHEMA_VERSION = 1  # of the run record's JSON (schema/run.schema.json)
MAX_ERRORS = 5  # the first few problems name the fix; hundreds would bury it
R = TypeVar("R")


@dataclass(frozen=True)
class HostRun:
    """One host's part of a ``--dist each`` run."""

    fingerprint: Mapping[str, Any] | None
    results: tuple[Result, ...]
    errors: Mapping[str, list[str]]
    verdict: Verdict

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HostRun:
        return cls(data["fingerprint"], tuple(result_from_dict(r) for r in data["results"]), dict(data["errors"]),
                   Verdict.from_dict(data["verdict"]))

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "results": [to_dict(r) for r in self.results],
                "errors": {k: list(v) for k, v in self.errors.items()}, "verdict": self.verdict.to_dict()}


@dataclass(frozen=True)
class RunRecord:
    workload: WorkloadSpec
    eval_set: Mapping[str, Any] | None  # {"source", "n_samples"}; None where the controller loaded no data
    profile: Mapping[str, Any]  # config.Profile's fields
    selected_variants: tuple[str, ...]
    fail_under: float | None
    gate: GateResult  # the score gate (--qp-fail-under); the regression gate is in the comparison
    fingerprint: Mapping[str, Any]  # system.fingerprint(): open, a probe may report more
    results: tuple[Result, ...]
    errors: Mapping[str, list[str]]  # per variant, measurements that crashed
    verdict: Verdict
    created: str  # UTC, ISO 8601
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
    def from_dict(cls, data: Mapping[str, Any], source: str | None = None) -> RunRecord:
        """The typed record of ``data`` (a record as ``to_dict`` writes it; not validated here)."""
        hosts = data.get("hosts")
        return cls(
            workload=WorkloadSpec.from_dict(data["workload"]),
            eval_set=data["eval_set"],
            profile=data["profile"],
            selected_variants=tuple(data["selected_variants"]),
            fail_under=data["fail_under"],
            gate=GateResult(data["gate"]["failed"], tuple((data["gate"]["message"] or "").splitlines())),
            fingerprint=data["fingerprint"],
            results=tuple(result_from_dict(r) for r in data["results"]),
            errors={k: list(v) for k, v in data["errors"].items()},
            verdict=Verdict.from_dict(data["verdict"]),
            created=data["created"],
            qpbench_version=data["qpbench_version"],
            schema_version=data["schema_version"],
            hosts={h: HostRun.from_dict(d) for h, d in hosts.items()} if hosts is not None else None,
            matrix=data.get("matrix"),
            comparison=Comparison.from_dict(data["comparison"]) if data.get("comparison") else None,
            baseline=data.get("baseline"),
            extra=dict(data.get("extra") or {}),
            timing=data.get("timing"),
            source=source,
        )

    @classmethod
    def of(cls, record: RunRecord | Mapping[str, Any]) -> RunRecord:
        """``record`` typed: a RunRecord as it is, a record dict (as ``to_dict`` writes it) read."""
        return record if isinstance(record, RunRecord) else cls.from_dict(record)

    @classmethod
    def load(cls, path: str | Path) -> RunRecord:
        """Read, validate against the schema and type a saved record; RecordError says what is wrong."""
        data = read_json(path)
        check_record(data, str(path))
        return cls.from_dict(data, str(path))

    # Writing ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, in the order of the schema: the exact JSON a run writes."""
        data: dict[str, Any] = {
            "schema_version": self.schema_version,
            "qpbench_version": self.qpbench_version,
            "created": self.created,
            "workload": self.workload.to_dict(),
            "eval_set": self.eval_set,
            "profile": self.profile,
            "selected_variants": list(self.selected_variants),
            "fail_under": self.fail_under,
            "gate": {"failed": self.gate.failed, "message": self.gate.message},
            "fingerprint": self.fingerprint,
            "results": [to_dict(r) for r in self.results],
            "errors": {k: list(v) for k, v in self.errors.items()},
            "verdict": self.verdict.to_dict(),
        }
        if self.hosts is not None:
            data["hosts"] = {h: run.to_dict() for h, run in self.hosts.items()}
        if self.matrix is not None:
            data["matrix"] = self.matrix
        if self.comparison is not None:
            data["comparison"] = self.comparison.to_dict()
        if self.baseline is not None:
            data["baseline"] = self.baseline
        if self.timing is not None:
            data["timing"] = dict(self.timing)
        if self.extra:
            data["extra"] = self.extra
        return json.loads(json.dumps(data, allow_nan=False))  # plain JSON types, as the file holds them

    def write(self, path: str | Path) -> Path:
        """Atomically: never a half-written record, whatever stops the write."""
        return write_json(self.to_dict(), Path(path))

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


@functools.cache
def schema() -> dict[str, Any]:
    return json.loads(resources.files("qpbench").joinpath("schema/run.schema.json").read_text())


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
    if isinstance(record, dict) and "schema_version" not in record:
        raise RecordError(f"{source}: no schema_version: not a qpbench run record", "no_version")
    if isinstance(record, dict) and record["schema_version"] != SCHEMA_VERSION:
        raise RecordError(f"{source}: schema_version {record['schema_version']!r} is not the {SCHEMA_VERSION} "
                          f"this qpbench reads; render it with the qpbench version that wrote it", "other_version",
                          repr(record["schema_version"]))
    problems = validation_errors(record)
    if problems:
        more = f" (and {len(problems) - MAX_ERRORS} more)" if len(problems) > MAX_ERRORS else ""
        missing = [k for k in schema()["required"] if k not in record] if isinstance(record, dict) else []
        incomplete = f" (incomplete run record, missing {missing})" if missing else ""
        detail = "; ".join(problems[:MAX_ERRORS]) + more
        raise RecordError(f"{source}: not a qpbench run record{incomplete}: {detail}", "invalid", detail)
