"""The worker side of an isolated measurement: rebuild the requested variant.

Shared by the stress and concurrency workers (the memory worker has its own copy
of these steps, since it also runs variants without torch).
"""

from __future__ import annotations

import os
from typing import Any


def current_rss_mb() -> float:
    """This process's resident set size now, in MiB (/proc/self/statm; psutil elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import psutil

        return psutil.Process().memory_info().rss / 2**20


def load_variant(request: dict[str, Any]) -> tuple[Any, Any, float]:
    """(workload, variant, RSS high-water mark after imports in MiB) for a worker request."""
    import torch  # noqa: F401  (part of the baseline a torch deployment always pays)

    from qpbench.measure.memory_worker import max_rss_mb
    from qpbench.variants import BuildContext, builder_from_path
    from qpbench.workload import WorkloadSpec, import_object, load_workload

    spec = WorkloadSpec.from_dict(request["workload"])
    import_object(spec.model_factory)  # the model's own modules count as imports
    builder = builder_from_path(request["builder"])
    baseline = max_rss_mb()
    workload = load_workload(spec)
    variant = builder(BuildContext(workload, options=request["options"], sweep_rounds=1))
    return workload, variant, baseline
