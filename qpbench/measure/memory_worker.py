"""Entry point of the fresh process that measures one variant's peak memory.

Reads a JSON request on stdin (see memory.measure_memory), prints one JSON line.
"""

from __future__ import annotations

import json
import sys

from qpbench.measure import startup
from qpbench.measure.parent_watch import die_with_parent
from qpbench.runtime.rss import max_rss_mb, rss_split_mb


def torch_build() -> str:
    import torch

    cuda = torch.version.cuda
    return f"{torch.__version__}, {'CUDA ' + cuda + ' build' if cuda else 'CPU-only build'}"


def main() -> int:
    startup.mark("python")
    die_with_parent()
    request = json.loads(sys.stdin.read())
    if request.get("runtime"):  # an ONNX Runtime / OpenVINO artifact: served without importing torch
        from qpbench.measure.runtime_worker import measure

        print(json.dumps(measure(request)))
        return 0
    from qpbench.measure.rebuild import load_variant

    workload, variant, baseline = load_variant(request)
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
        **rss_split_mb(),
        startup.STARTUP_KEY: startup.marks(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
