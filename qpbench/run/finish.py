"""Finishing a run: from what it collected and its settings to the verdict, the score gate and the
run record. Pure functions: no pytest, no hooks, no files (the session calls the user's hooks
around them and writes what they return).

One host (the usual run): the verdict on every result selected for the run. ``--dist each``:
one verdict per host and a readiness matrix; the record's top level is the first host's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qpbench import __version__
from qpbench.verdict import scoring
from qpbench.compare.gate import GateResult, hosts_score_gate, score_gate
from qpbench.config import ScoringConfig
from qpbench.verdict import Verdict
from qpbench.record import HostRun, RunRecord
from qpbench.results import Result
from qpbench.run.hosts import HostRecords, readiness_matrix, score_hosts
from qpbench.run.selection import selected_errors
from qpbench.workload import WorkloadSpec


@dataclass(frozen=True)
class Finished:
    """The verdict and what it was made from."""

    verdict: Verdict
    results: list[Result]
    fingerprint: dict[str, Any]
    errors: dict[str, list[str]]
    score_gate: GateResult
    host_verdicts: dict[str, HostRun] = field(default_factory=dict)
    matrix: dict[str, Any] | None = None


def judge(results: list[Result], errors: Mapping[str, list[str]], fingerprint: dict[str, Any],
          hosts: Mapping[str, HostRecords], selected: Sequence[str], config: ScoringConfig, reference: str,
          fail_under: float | None, screened_out: Mapping[str, str]) -> Finished:
    """The verdict and the score gate, on this run's results or, with ``hosts``, every host's.
    ``errors``: every failed measurement, by variant (the record keeps them all; the verdict
    judges the selected variants')."""
    if hosts:
        host_verdicts = score_hosts(dict(hosts), tuple(selected), config, reference)
        first = next(iter(host_verdicts.values()))
        return Finished(first.verdict, list(first.results), dict(first.fingerprint or {}), dict(first.errors),
                        hosts_score_gate({h: run.verdict for h, run in host_verdicts.items()}, fail_under),
                        host_verdicts, readiness_matrix({h: run.verdict for h, run in host_verdicts.items()}))
    verdict = scoring.score(results, config, reference, selected_errors(errors, selected), screened_out=screened_out)
    return Finished(verdict, results, fingerprint, {k: list(v) for k, v in errors.items()},
                    score_gate(verdict, fail_under))


def run_record(finished: Finished, workload: WorkloadSpec, eval_set: dict[str, Any] | None, profile: dict[str, Any],
               selected: Sequence[str], fail_under: float | None, timing: dict[str, Any],
               verdict: Verdict | None = None, results: Sequence[Result] | None = None,
               fingerprint: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None) -> RunRecord:
    """The run's record (the comparison with a baseline is added to it after); ``verdict``,
    ``results``, ``fingerprint`` and ``errors`` as ``pytest_qpbench_generate_record`` hands them,
    ``finished``'s by default."""
    return RunRecord(
        workload=workload,
        eval_set=eval_set,
        profile=profile,
        selected_variants=tuple(selected),
        fail_under=fail_under,
        gate=finished.score_gate,
        fingerprint=finished.fingerprint if fingerprint is None else fingerprint,
        results=tuple(finished.results if results is None else results),
        errors=finished.errors if errors is None else errors,
        verdict=finished.verdict if verdict is None else verdict,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        qpbench_version=__version__,
        hosts=dict(finished.host_verdicts) if finished.host_verdicts else None,
        matrix=finished.matrix if finished.host_verdicts else None,
        timing=timing,
    )
