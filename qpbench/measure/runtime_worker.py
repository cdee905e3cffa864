"""Serving an ONNX Runtime or OpenVINO artifact in a process without torch.

Used by the memory, stress and concurrency workers for requests that name a
torch-free ``runtime``: the process imports numpy and the runtime only, loads the
artifact with the same backend a deployment package uses
(``qpbench.runtime.backends``), runs the preprocessed inputs the parent saved
(preprocessing uses torch, so the parent does it) and checks at the end that
torch was never imported: a deployment of these variants pays no torch.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import numpy as np

from qpbench.measure import startup

from qpbench.runtime.backends import TORCH_FREE, backend_for, runtime_version
from qpbench.runtime.rss import max_rss_mb, rss_split_mb


def load_backend(request: dict[str, Any]) -> tuple[Any, float]:
    """(the artifact's backend, RSS high-water mark after importing the runtime) for a torch-free request."""
    runtime = request["runtime"]
    if runtime not in TORCH_FREE:
        raise ValueError(f"unknown runtime {runtime!r}: choose from {sorted(TORCH_FREE)}")
    options = dict(request["options"])
    importlib.import_module(runtime)  # the runtime's import belongs to the baseline, as torch's does for torch variants
    startup.mark("imports")
    baseline = max_rss_mb()
    extra = {key: options[key] for key in ("hint", "precision") if options.get(key)}
    backend = backend_for(TORCH_FREE[runtime]).load(options["artifact"], options.get("threads"), **extra)
    startup.mark("ready")
    return backend, baseline


def load_inputs(request: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The preprocessed batches the parent saved (preprocessing uses torch, so the parent does it)."""
    with np.load(request["inputs"]) as data:
        images, params = data["image"], data["params"]
    batch = int(request.get("batch_size") or len(images))
    return [(images[i:i + batch], params[i:i + batch]) for i in range(0, max(batch, len(images) - batch + 1), batch)]


def check_no_torch(runtime: str) -> None:
    if "torch" in sys.modules:
        raise RuntimeError(f"torch was imported while serving the {runtime} artifact: the measurement would include it")


def measure(request: dict[str, Any]) -> dict[str, Any]:
    runtime = request["runtime"]
    backend, baseline = load_backend(request)
    (image, params), *_ = load_inputs(request)
    for _ in range(request["iterations"]):
        backend.run(image, params)
    check_no_torch(runtime)
    return {
        "baseline_rss_mb": baseline,
        "peak_rss_mb": max_rss_mb(),
        "batch_size": int(image.shape[0]),
        "iterations": request["iterations"],
        "torch_build": f"torch not imported ({runtime} {runtime_version(runtime)})",
        startup.STARTUP_KEY: startup.marks(),
        **rss_split_mb(),
    }
