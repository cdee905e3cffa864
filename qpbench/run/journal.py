"""The run's journal: every result on disk the moment it is measured (see docs/engine.md).

``<results>/journal/<run-id>[.<xdist worker>].jsonl``: a header line (the run's
settings), then one line per result or error, each flushed and fsynced. A run
that finishes removes its journals after writing its record; a run that was
killed leaves them, the next run says so, and ``qpbench report`` on a journal
renders the partial verdict (``partial_record``), marked partial.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from qpbench import __version__
from qpbench.verdict import scoring
from qpbench.config import QuantThresholds, ScoringConfig, Targets
from qpbench.errors import RecordError
from qpbench.compare.gate import GateResult
from qpbench.record import RunRecord
from qpbench.results import Result, jsonable
from qpbench.schema.codec import dump, load
from qpbench.run.selection import selected_results
from qpbench.workload import WorkloadSpec

FOLDER = "journal"
FORMAT = 1


def journal_dir(results_dir: str | Path) -> Path:
    return Path(results_dir) / FOLDER


def new_run_id() -> str:
    return f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


def scoring_to_dict(config: ScoringConfig) -> dict[str, Any]:
    return {"targets": asdict(config.targets), "weights": dict(config.weights), "hard_gates": list(config.hard_gates),
            "quant": asdict(config.quant)}


def scoring_from_dict(data: dict[str, Any]) -> ScoringConfig:
    return ScoringConfig(Targets(**data["targets"]), dict(data["weights"]), tuple(data["hard_gates"]),
                         QuantThresholds(**data["quant"]))


def header(settings: Any, workload: WorkloadSpec, eval_set: dict[str, Any] | None, selected: tuple[str, ...],
           reference: str, fingerprint: dict[str, Any]) -> dict[str, Any]:
    """The journal's first line: the run's settings, from which a killed run's partial verdict is made."""
    return {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "workload": workload.to_dict(),
        "eval_set": eval_set,
        "profile": dict(vars(settings.profile)),
        "selected_variants": list(selected),
        "fail_under": settings.fail_under,
        "scoring": scoring_to_dict(settings.scoring),
        "reference": reference,
        "fingerprint": fingerprint,
    }


class Journal:
    """Appends a run's results to its journal file, each line on disk before ``add`` returns."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO | None = open(path, "a", encoding="utf-8")
        self._write({"qpbench_journal": FORMAT, "pid": os.getpid(), **header})

    def _write(self, entry: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(jsonable(entry), allow_nan=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def add(self, result: Result) -> None:
        self._write({"result": dump(result)})

    def add_error(self, variant: str, message: str) -> None:
        self._write({"error": {"variant": variant, "message": message}})

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class JournalContents:
    header: dict[str, Any]
    results: list[Result] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def run_files(path: Path) -> list[Path]:
    """``path`` and the journals of the same run beside it (one per pytest-xdist worker)."""
    run_id = path.name.split(".")[0]
    siblings = sorted(p for p in path.parent.glob(f"{run_id}*.jsonl") if p != path)
    return [path, *siblings]


def read_journal(path: str | Path) -> JournalContents:
    """A journal and its siblings; a line cut short by the kill that stopped the run is skipped."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"{path}: no such journal")
    contents: JournalContents | None = None
    for file in run_files(path):
        for entry in _entries(file):
            if "qpbench_journal" in entry:
                contents = contents or JournalContents(entry)
            elif contents is None:
                raise RecordError(f"{file}: not a qpbench journal (no header line)")
            elif "result" in entry:
                contents.results.append(load(Result, entry["result"]))
            elif "error" in entry:
                contents.errors.setdefault(entry["error"]["variant"], []).append(entry["error"]["message"])
        if contents is not None:
            contents.files.append(file)
    if contents is None:
        raise RecordError(f"{path}: not a qpbench journal (empty)")
    return contents


def _entries(file: Path) -> list[dict[str, Any]]:
    entries = []
    for line in file.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # the last line, cut short by the kill
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def partial_record(path: str | Path) -> RunRecord:
    """The verdict on what a stopped run had measured, marked partial."""
    contents = read_journal(path)
    h = contents.header
    selected = tuple(h["selected_variants"])
    infos = [r for r in contents.results if r.kind == "variant"]
    results = selected_results(infos, [r for r in contents.results if r.kind != "variant"], selected)
    verdict = scoring.score(results, scoring_from_dict(h["scoring"]), h["reference"],
                            {v: m for v, m in contents.errors.items() if v in selected})
    return RunRecord(
        workload=WorkloadSpec.from_dict(h["workload"]), eval_set=h.get("eval_set"), profile=h["profile"],
        selected_variants=selected, fail_under=h.get("fail_under"), gate=GateResult(), fingerprint=h["fingerprint"],
        results=tuple(results), errors=contents.errors, verdict=verdict, created=h["created"],
        qpbench_version=__version__,
        extra={"partial": {"reason": f"the run stopped before its end, after {len(contents.results)} results",
                           "journal": [str(f) for f in contents.files]}},
        source=str(path),
    )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def leftover_journals(results_dir: str | Path, own_run: str) -> list[Path]:
    """Journals of earlier runs that stopped before their end (not this run's, nor a live
    run's): one file per run, the one ``qpbench report`` takes."""
    found: dict[str, Path] = {}
    for path in sorted(journal_dir(results_dir).glob("*.jsonl")):
        run_id = path.name.split(".")[0]
        if run_id == own_run or run_id in found:
            continue
        entries = _entries(path)[:1]
        pid = int(entries[0].get("pid") or 0) if entries else 0
        if pid <= 0 or not pid_alive(pid):
            found[run_id] = path
    return list(found.values())


def remove_run(results_dir: str | Path, run_id: str) -> None:
    for path in journal_dir(results_dir).glob(f"{run_id}*.jsonl"):
        path.unlink(missing_ok=True)
