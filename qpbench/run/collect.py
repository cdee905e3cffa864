"""What a run collects: the results its tests hand in, journaled as they come, the measurements
that failed, and under pytest-xdist the workers' payloads (with ``--dist each``, every host's
apart). The finishing step (finish.py) reads it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from qpbench.results import RESULT_TYPES, Result
from qpbench.run import journal
from qpbench.run import xdist as xdist_transport
from qpbench.run.hosts import HostRecords
from qpbench.run.selection import selected_results


class Collector:
    """One process's collection. ``header`` makes the journal's first line, when the first result
    comes (it needs the workload and the fingerprint)."""

    def __init__(self, results_dir: str, run_id: str, journal_name: str, header: Callable[[], dict[str, Any]]) -> None:
        self.results_dir = results_dir
        self.run_id = run_id
        self.journal_name = journal_name
        self.header = header
        self.records: list[Result] = []
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.worker_infos: list[Result] = []  # the xdist workers' build infos
        self.hosts: dict[str, HostRecords] = {}  # --dist each: every host's records apart
        self._journal: journal.Journal | None = None

    def journal(self) -> journal.Journal:
        """This process's journal, opened at the first result (journal.py)."""
        if self._journal is None:
            self._journal = journal.Journal(journal.journal_dir(self.results_dir) / f"{self.journal_name}.jsonl",
                                            self.header())
        return self._journal

    def record(self, result: Result) -> None:
        if type(result) not in RESULT_TYPES.values():
            raise TypeError(f"qp_record takes a result from qpbench.results, got {type(result).__name__}")
        self.records.append(result)
        self.journal().add(result)

    def record_error(self, variant: str, test: str, excinfo: Any) -> None:
        message = excinfo.exconly().strip().splitlines()[-1][:300] if excinfo is not None else "failed"
        self.errors[variant].append(f"{test}: {message}")
        self.journal().add_error(variant, f"{test}: {message}")

    def has_results(self, infos: Sequence[Result]) -> bool:
        return bool(self.records or self.errors or self.worker_infos or self.hosts or infos)

    def results(self, infos: Iterable[Result], selected: Sequence[str]) -> list[Result]:
        """Every build info (the engine's, the cache's, the workers') and measurement of the
        selected variants."""
        built = [r for r in self.records if r.kind == "variant"]  # the engine's builds
        measured = [r for r in self.records if r.kind != "variant"]
        return selected_results([*built, *infos, *self.worker_infos], measured, selected)

    def payload(self, infos: Iterable[Result], fingerprint: dict[str, Any],
                overrides: dict[str, dict[str, float]]) -> xdist_transport.WorkerPayload:
        """What an xdist worker sends the controller (its machine's fingerprint: another host's
        under --tx ssh=...)."""
        return xdist_transport.WorkerPayload(records=[*self.records, *infos], errors=dict(self.errors),
                                             fingerprint=fingerprint, regression_overrides=overrides)

    def receive(self, payload: xdist_transport.WorkerPayload, host: str | None = None) -> None:
        """A worker's records: into the run's, or, with ``host`` (``--dist each``), kept apart by host."""
        if host is not None:
            self.hosts.setdefault(host, HostRecords(host)).add(payload)
            return
        for result in payload.records:
            (self.worker_infos if result.kind == "variant" else self.records).append(result)
        for variant, msgs in payload.errors.items():
            self.errors[variant].extend(msgs)

    def leftover_journals(self) -> list[Path]:
        return journal.leftover_journals(self.results_dir, self.run_id)

    def end(self) -> None:
        """The record holds every result now: this run's journals (its xdist workers' too) go."""
        if self._journal is not None:
            self._journal.close()
        journal.remove_run(self.results_dir, self.run_id)
