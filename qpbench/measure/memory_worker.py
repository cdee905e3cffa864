"""Entry point of the fresh process that measures one variant's peak memory.

Reads a JSON request on stdin (see memory.measure_memory), prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys


def max_rss_mb() -> float:
    """This process's peak RSS in MiB.

    Linux: VmHWM from /proc/self/status, the high-water mark of this process's
    own address space. Not ru_maxrss: it survives fork and exec, so a worker
    started by a 1.5 GB pytest process would report the parent's peak.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux, bytes on macOS


def rss_split_mb() -> dict[str, float | None]:
    """This process's current RSS split into anonymous and file-backed pages (MiB); None off Linux."""
    out: dict[str, float | None] = {"rss_anon_mb": None, "rss_file_mb": None}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(("RssAnon:", "RssFile:")):
                    key = "rss_anon_mb" if line.startswith("RssAnon") else "rss_file_mb"
                    out[key] = int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return out


def torch_build() -> str:
    import torch

    cuda = torch.version.cuda
    return f"{torch.__version__}, {'CUDA ' + cuda + ' build' if cuda else 'CPU-only build'}"


def main() -> int:
    request = json.loads(sys.stdin.read())
    if request.get("runtime"):  # an ONNX Runtime / OpenVINO artifact: served without importing torch
        from qpbench.measure.runtime_worker import measure

        print(json.dumps(measure(request, max_rss_mb)))
        return 0
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
        **rss_split_mb(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
