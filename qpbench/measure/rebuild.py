"""The worker side of an isolated measurement: rebuild the requested variant.

Shared by the memory, stress and concurrency workers (the memory worker serves
ONNX Runtime and OpenVINO artifacts without torch instead: runtime_worker.py).
"""

from __future__ import annotations

from typing import Any

from qpbench.measure import startup
from qpbench.runtime.rss import max_rss_mb


def load_variant(request: dict[str, Any]) -> tuple[Any, Any, float]:
    """(workload, variant, RSS high-water mark after imports in MiB) for a worker request."""
    import torch  # noqa: F401  (part of the baseline a torch deployment always pays)

    from qpbench.variants import BuildContext, builder_from_path
    from qpbench.workload import WorkloadSpec, import_object, load_workload

    spec = WorkloadSpec.from_dict(request["workload"])
    import_object(spec.model_factory)  # the model's own modules count as imports
    builder = builder_from_path(request["builder"])
    baseline = max_rss_mb()
    startup.mark("imports")
    workload = load_workload(spec)
    variant = builder(BuildContext(workload, options=request["options"], sweep_rounds=1))
    startup.mark("ready")
    return workload, variant, baseline
