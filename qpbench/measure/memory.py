"""Peak memory of a fresh process that loads a variant and runs inference.

Peak RSS is a property of a process, so it is read from the operating system's
accounting (``VmHWM``, the address space's high-water mark) in a new interpreter started for one
variant, never as an RSS delta inside the test process. The worker reports the
high-water mark after its imports (torch, the model's modules) apart from the
peak, so the model's own increment is visible next to the cost of the torch
build.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from qpbench.data.dataset import save_labelled
from qpbench.results import MemoryResult
from qpbench.measure.runtime_worker import TORCH_FREE
from qpbench.workload import Workload


class MeasurementError(RuntimeError):
    """A measurement could not be made; the message says why."""


def worker_env() -> dict[str, str]:
    """The parent's environment, with its import path (conftest dirs, user packages)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def measure_memory(
    workload: Workload,
    variant: str,
    builder_path: str,
    options: dict[str, Any],
    batch_size: int,
    iterations: int,
    timeout_s: float = 600.0,
) -> MemoryResult:
    """Run ``qpbench.measure.memory_worker`` in a new interpreter and read its report."""
    with tempfile.TemporaryDirectory(prefix="qpbench-mem-") as tmp:
        # A few images are enough inputs; the full evaluation set would inflate the peak.
        small = save_labelled(workload.data.first_images(max(1, batch_size)), Path(tmp) / "inputs.npz")
        request = {
            "workload": replace(workload.spec, dataset=str(small)).to_dict(),
            "variant": variant,
            "builder": builder_path,
            "options": options,
            "batch_size": batch_size,
            "iterations": iterations,
        }
        if options.get("runtime") in TORCH_FREE:
            # Served without torch: the worker gets preprocessed arrays, since preprocessing uses torch.
            image, params = workload.example_batch(batch_size)
            inputs = Path(tmp) / "preprocessed.npz"
            np.savez(inputs, image=image.numpy(), params=params.numpy())
            request.update(runtime=options["runtime"], inputs=str(inputs))
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "qpbench.measure.memory_worker"],
                input=json.dumps(request), capture_output=True, text=True,
                timeout=timeout_s, env=worker_env(),
            )
        except subprocess.TimeoutExpired:
            raise MeasurementError(f"memory worker for {variant!r} did not finish within {timeout_s:.0f} s") from None
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        last = lines[-1] if lines else "no error output"  # the exception line, or the signal's trace
        raise MeasurementError(f"memory worker for {variant!r} exited with {proc.returncode}: {last}")
    try:
        report = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise MeasurementError(f"memory worker for {variant!r} printed no report: {proc.stdout[-300:]!r}") from None
    return MemoryResult(variant=variant, **report)
