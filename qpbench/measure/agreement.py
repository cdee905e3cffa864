"""The verdict's own batch-1 figure beside the runtime's own tool on the same artifact.

The figure checked is the one users read: the latency test's batch-1 median and its interval,
handed in by the test (``Harness``), never a second timing made for the check.

- OpenVINO: ``benchmark_app`` (in the ``openvino`` wheel) with the variant's compile
  configuration passed as a ``-load_config`` file (latency hint, its thread count, f32 or bf16
  inference precision), sync API, one request, batch-1 shapes, ``-t`` seconds, ``rounds`` times.
- ONNX Runtime: a bare ``InferenceSession.run`` loop on the variant's own session.
- PyTorch: the variant's module called bare inside one ``inference_mode``.

A bare loop runs in ``windows`` separate windows, so its interval covers the machine's levels
as the harness figure's does. The ratio harness/tool gets the interval from both ends
(``ToolAgreementResult.ratio_interval``); suite/kernels.py measures the figure again once when
that interval lies above ``results.timing.TOOL_AGREEMENT_TOLERANCE``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qpbench.measure.isolation import MeasurementError, NotApplicable
from qpbench.measure.load_watch import measured_quietly
from qpbench.stats import quantile_interval
from qpbench.results import ToolAgreementResult
from qpbench.timing import time_calls

_MEDIAN = re.compile(r"Median:\s*([0-9.]+)\s*(ms|us)\b")
_UNIT_MS = {"ms": 1.0, "us": 1e-3}


@dataclass(frozen=True)
class Harness:
    """The verdict's batch-1 figure: the median per call and its 95% interval, in ms."""

    median_ms: float
    low_ms: float
    high_ms: float

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> Harness:
        return cls(float(data["median_ms"]), float(data["low_ms"]), float(data["high_ms"]))


def benchmark_app_path() -> str | None:
    """``benchmark_app`` beside this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).parent / "benchmark_app"
    return str(beside) if beside.is_file() else shutil.which("benchmark_app")


def parse_benchmark_app(text: str) -> float:
    """The batch-1 median latency in ms that ``benchmark_app`` prints."""
    found = _MEDIAN.findall(text)
    if not found:
        raise MeasurementError("benchmark_app printed no 'Median: ... ms' line")
    value, unit = found[-1]
    return float(value) * _UNIT_MS[unit]


def benchmark_app_command(tool: str, xml: str, config_path: str, image_shape: tuple[int, ...],
                          n_params: int, seconds: int) -> list[str]:
    shape = f"image[{','.join(map(str, image_shape))}],params[1,{n_params}]"
    return [tool, "-m", xml, "-d", "CPU", "-hint", "latency", "-api", "sync", "-nireq", "1",
            "-shape", shape, "-t", str(seconds), "-load_config", config_path]


def openvino_config(threads: int | None, precision: str) -> dict[str, Any]:
    config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision}
    if threads:
        config["INFERENCE_NUM_THREADS"] = str(threads)
    return {"CPU": config}


def compare(variant: str, tool: str, command: str, harness: Harness, tool_ms: list[float],
            tool_interval: tuple[float, float]) -> ToolAgreementResult:
    return ToolAgreementResult(variant, tool, harness.median_ms, float(np.median(tool_ms)), command,
                               harness_interval_ms=(harness.low_ms, harness.high_ms), tool_interval_ms=tool_interval)


def versus_benchmark_app(variant: str, harness: Harness, xml: str, threads: int | None, precision: str,
                         image_shape: tuple[int, ...], n_params: int, seconds: int = 3, rounds: int = 3,
                         tool: str | None = None) -> ToolAgreementResult:
    """``rounds`` runs of benchmark_app; its figure is their median, its interval their range."""
    tool = tool or benchmark_app_path()
    if tool is None:
        raise MeasurementError("benchmark_app is not installed (pip install openvino)")
    with tempfile.TemporaryDirectory(prefix="qpbench-bapp-") as tmp:
        config_path = str(Path(tmp) / "config.json")
        Path(config_path).write_text(json.dumps(openvino_config(threads, precision)))
        command = benchmark_app_command(tool, xml, config_path, image_shape, n_params, seconds)
        tool_ms: list[float] = []
        for _ in range(rounds):
            done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=seconds * 10 + 60)
            if done.returncode != 0:
                raise MeasurementError(f"benchmark_app failed ({done.returncode}): {done.stderr.strip()[-300:]}")
            tool_ms.append(parse_benchmark_app(done.stdout + done.stderr))
    shown = " ".join(command).replace(config_path, "<config.json: " + json.dumps(openvino_config(threads, precision)) + ">")
    return compare(variant, "benchmark_app", shown, harness, tool_ms, (min(tool_ms), max(tool_ms)))


def bare_windows(bare: Callable[[], Any], windows: int = 3, window_s: float = 1.0,
                 pause_s: float = 0.2) -> tuple[list[float], tuple[float, float]]:
    """Per-call ms of ``bare`` in ``windows`` windows of about ``window_s``; the interval of the
    median spans every window's median as well as the pooled samples' interval."""
    time_calls(bare, 10)
    estimate = max(min(time_calls(bare, 3)), 1e-6)
    per_window = max(20, int(window_s / estimate))
    samples: list[float] = []
    medians: list[float] = []
    for i in range(windows):
        if i:
            time.sleep(pause_s)
        window = [t * 1e3 for t in time_calls(bare, per_window)]
        samples += window
        medians.append(float(np.median(window)))
    low, high = quantile_interval(samples, 0.5)
    return samples, (min(low, *medians), max(high, *medians))


def versus_bare_loop(variant: str, harness: Harness, bare: Callable[[], Any], tool: str,
                     command: str) -> ToolAgreementResult:
    # Under the noise guard the harness's figure had (load_watch.py: timed again when others
    # used the CPU): unguarded, the bare loop read 8-24% slower than the harness in both default
    # runs on the shared EPYC, for eager, optimized and onnx-int8 alike.
    (samples, interval), _ = measured_quietly(lambda: bare_windows(bare))
    return compare(variant, tool, command, harness, samples, interval)


def tool_agreement(name: str, runtime: str | None, runner: Any, artifact: Path | None, bare: Callable[[], Any],
                   image_shape: tuple[int, ...], n_params: int, harness: Harness) -> ToolAgreementResult:
    """OpenVINO beside benchmark_app, ONNX Runtime beside a bare session loop, PyTorch beside its
    module called bare (``bare``). Raises ``NotApplicable`` where no comparison applies."""
    if runtime == "openvino" and runner is not None:
        if getattr(runner, "hint", "LATENCY") != "LATENCY":
            raise NotApplicable("benchmark_app is compared at batch 1 with the latency hint only")
        if benchmark_app_path() is None:
            raise NotApplicable("benchmark_app is not installed (pip install openvino)")
        return versus_benchmark_app(name, harness, str(artifact or runner.path), runner.threads, runner.precision,
                                    image_shape, n_params)
    if runtime == "onnxruntime" and runner is not None:
        return versus_bare_loop(name, harness, bare, "onnxruntime InferenceSession.run loop",
                                "session.run(None, feeds) on the variant's session")
    return versus_bare_loop(name, harness, bare, "bare module call loop",
                            "with torch.inference_mode(): module(image, params)")
