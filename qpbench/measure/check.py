"""The model's first call, before the run measures anything, in a worker (check_worker.py): a
model that cannot run a batch of 2 stops the run with an error that names the problem, and one
that crashes doing so kills the worker, never pytest (docs/engine.md)."""

from __future__ import annotations

from qpbench.errors import WorkloadError
from qpbench.measure.isolation import WorkerFailed, run_worker
from qpbench.workload import WorkloadSpec

CHECK_MODULE = "qpbench.measure.check_worker"


def check_model(spec: WorkloadSpec, timeout_s: float) -> None:
    """Build the model of ``spec`` and run a batch of 2 in a fresh process; WorkloadError if it fails."""
    try:
        report = run_worker(CHECK_MODULE, {"workload": spec.to_dict()}, "model check", spec.name, timeout_s)
    except WorkerFailed as exc:
        detail = f"\n{exc.failure.detail}" if exc.failure.detail else ""
        raise WorkloadError(f"model from {spec.model_factory!r}: its check (build it, run a batch of 2) "
                            f"{exc.failure.reason}{detail}") from None
    if report.get("error"):
        raise WorkloadError(str(report["error"]))
