"""Peak memory of a fresh process that loads a variant and runs inference.

Peak RSS is a property of a process, so it is read from the operating system's
accounting (``VmHWM``, the address space's high-water mark) in a new interpreter started for one
variant (``isolation.run_worker``), never as an RSS delta inside the test process. The worker reports the
high-water mark after its imports (torch, the model's modules) apart from the
peak, so the model's own increment is visible next to the cost of the torch
build.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from qpbench.config import WORKER_TIMEOUT_S
from qpbench.measure.isolation import (
    MeasurementError,
    WorkerFailed,
    run_workers,
    serve_without_torch,
    variant_request,
    worker_env,
)
from qpbench.results import MemoryResult
from qpbench.workload import Workload

__all__ = ["MeasurementError", "WorkerFailed", "measure_memories", "measure_memory", "worker_env"]


def measure_memory(
    workload: Workload,
    variant: str,
    builder_path: str,
    options: dict[str, Any],
    batch_size: int,
    iterations: int,
    timeout_s: float = WORKER_TIMEOUT_S,
) -> MemoryResult:
    """Run ``qpbench.measure.memory_worker`` in a new interpreter and read its report.

    Raises ``WorkerFailed`` (a ``MeasurementError``) when the worker crashes or hangs.
    """
    (result,) = measure_memories(workload, variant, builder_path, options, (batch_size,), iterations, timeout_s)
    return result


def measure_memories(
    workload: Workload,
    variant: str,
    builder_path: str,
    options: dict[str, Any],
    batch_sizes: tuple[int, ...],
    iterations: int,
    timeout_s: float = WORKER_TIMEOUT_S,
) -> list[MemoryResult]:
    """``measure_memory`` at each batch size, the fresh processes run side by side: a process's
    high-water mark is its own, so running beside another changes when it is reached, not what
    it is (they share the CPUs, not their memory)."""
    with tempfile.TemporaryDirectory(prefix="qpbench-mem-") as tmp:
        requests = []
        for batch in batch_sizes:
            folder = Path(tmp) / f"b{batch}"
            folder.mkdir()
            request = variant_request(workload, str(folder), variant, builder_path, options, batch)
            request["iterations"] = iterations
            serve_without_torch(request, workload, folder, options, batch)
            requests.append(request)
        reports = run_workers("qpbench.measure.memory_worker", requests, "memory", variant, timeout_s)
    return [MemoryResult(variant=variant, **report) for report in reports]
