"""Peak memory of serving an ONNX Runtime or OpenVINO artifact in a process without torch.

Run by ``qpbench.measure.memory_worker`` for requests that name a ``runtime``:
it imports numpy and the runtime only, loads the artifact, runs the
preprocessed inputs the parent saved (preprocessing uses torch, so the parent
does it) and checks at the end that torch was never imported.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np

from qpbench.runtimes import TORCH_FREE, version


def make_runner(runtime: str, artifact: str, threads: int | None, hint: str | None = None) -> Any:
    if runtime == "onnxruntime":
        from qpbench.runtimes.ort import OrtRunner

        return OrtRunner(artifact, threads)
    if runtime == "openvino":
        from qpbench.runtimes.ov import OvRunner

        return OvRunner(artifact, threads, hint or "LATENCY")
    raise ValueError(f"unknown runtime {runtime!r}: choose from {list(TORCH_FREE)}")


def measure(request: dict[str, Any], max_rss_mb: Callable[[], float]) -> dict[str, Any]:
    runtime = request["runtime"]
    options = request["options"]
    if runtime in TORCH_FREE:
        __import__(runtime)  # the runtime's import belongs to the baseline, as torch's does for torch variants
    baseline = max_rss_mb()
    runner = make_runner(runtime, options["artifact"], options.get("threads"), options.get("hint"))
    with np.load(request["inputs"]) as data:
        image, params = data["image"], data["params"]
    for _ in range(request["iterations"]):
        runner.run(image, params)
    if "torch" in sys.modules:
        raise RuntimeError(f"torch was imported while serving the {runtime} artifact: the measurement would include it")
    return {
        "baseline_rss_mb": baseline,
        "peak_rss_mb": max_rss_mb(),
        "batch_size": int(image.shape[0]),
        "iterations": request["iterations"],
        "torch_build": f"torch not imported ({runtime} {version(runtime)})",
    }
