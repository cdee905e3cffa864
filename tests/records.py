"""Small, schema-valid run records for tests that need one without a bench run."""

from __future__ import annotations

from qpbench.config import ScoringConfig, get_profile
from qpbench.compare.gate import GateResult
from qpbench.record import RunRecord
from qpbench.results import Result
from qpbench.verdict.scoring import score
from qpbench.workload import WorkloadSpec

FINGERPRINT = {"cpu": {"brand": "Test CPU", "arch": "x86_64", "isa": {"avx2": True}}, "cores_logical": 2,
               "memory_total_mb": 4096, "python": "3.12.0", "platform": "Linux", "torch": "2.14.1",
               "build": "CPU-only build", "num_threads": 2, "thread_env": {"OMP_NUM_THREADS": None}, "runtimes": {}}


def make_record(results: list[Result], fingerprint: dict | None = None, name: str = "compact",
                eval_set: dict | None = None, reference: str = "eager") -> RunRecord:
    """A record of ``results`` scored against the default targets, as a run writes one."""
    variants = tuple(dict.fromkeys(r.variant for r in results))
    return RunRecord(
        workload=WorkloadSpec(name, "qpbench.models.compact:build", None, "heldout.npz", 64),
        eval_set=eval_set, profile=dict(vars(get_profile("quick"))), selected_variants=variants, fail_under=None, gate=GateResult(),
        fingerprint=fingerprint or FINGERPRINT, results=tuple(results), errors={},
        verdict=score(results, ScoringConfig(), reference), created="2026-01-01T00:00:00+00:00",
        qpbench_version="0.0.0",
    )
