"""Entry point of the fresh process that measures one variant's peak memory.

Reads a JSON request on stdin (see memory.measure_memory), prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys


def max_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def torch_build() -> str:
    import torch

    cuda = torch.version.cuda
    return f"{torch.__version__}, {'CUDA ' + cuda + ' build' if cuda else 'CPU-only build'}"


def main() -> int:
    request = json.loads(sys.stdin.read())
    import torch  # noqa: F401  (part of the baseline a torch deployment always pays)

    from qpbench.variants import BuildContext, builder_from_path
    from qpbench.workload import WorkloadSpec, import_object, load_workload

    spec = WorkloadSpec.from_dict(request["workload"])
    import_object(spec.model_factory)  # the model's own modules (torchvision for ResNet) count as imports
    builder = builder_from_path(request["builder"])
    baseline = max_rss_mb()

    workload = load_workload(spec)
    variant = builder(BuildContext(workload, options=request["options"], sweep_rounds=1))
    image, params = workload.example_batch(request["batch_size"])
    with variant.runtime():
        for _ in range(request["iterations"]):
            variant(image, params)
    print(json.dumps({
        "baseline_rss_mb": baseline,
        "peak_rss_mb": max_rss_mb(),
        "batch_size": request["batch_size"],
        "iterations": request["iterations"],
        "torch_build": torch_build(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
