"""The harness against the runtimes' own tools on the same artifact and settings.

- OpenVINO: ``benchmark_app`` (in the ``openvino`` wheel) with the variant's compile
  configuration passed as a ``-load_config`` file (latency hint, its thread count, f32 or bf16
  inference precision), sync API, one request, batch-1 shapes, ``-t`` seconds.
- ONNX Runtime: a bare ``InferenceSession.run`` loop on a session made with the same options,
  calls alternating with the variant's (ABBA) in this process.

Tool runs alternate with harness rounds, so drift of a shared machine hits both.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qpbench.measure.isolation import MeasurementError
from qpbench.results import ToolAgreementResult
from qpbench.timing import time_calls

_MEDIAN = re.compile(r"Median:\s*([0-9.]+)\s*(ms|us)\b")
_UNIT_MS = {"ms": 1.0, "us": 1e-3}


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


def versus_benchmark_app(variant: str, call: Callable[[], Any], xml: str, threads: int | None, precision: str,
                         image_shape: tuple[int, ...], n_params: int, seconds: int = 3, rounds: int = 2,
                         harness_calls: int = 200, tool: str | None = None) -> ToolAgreementResult:
    """``rounds`` x (harness calls, one benchmark_app run of ``seconds``); medians of all."""
    tool = tool or benchmark_app_path()
    if tool is None:
        raise MeasurementError("benchmark_app is not installed (pip install openvino)")
    with tempfile.TemporaryDirectory(prefix="qpbench-bapp-") as tmp:
        config_path = str(Path(tmp) / "config.json")
        Path(config_path).write_text(json.dumps(openvino_config(threads, precision)))
        command = benchmark_app_command(tool, xml, config_path, image_shape, n_params, seconds)
        harness: list[float] = []
        tool_ms: list[float] = []
        time_calls(call, 20)  # warm
        for _ in range(rounds):
            harness += time_calls(call, harness_calls)
            done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=seconds * 10 + 60)
            if done.returncode != 0:
                raise MeasurementError(f"benchmark_app failed ({done.returncode}): {done.stderr.strip()[-300:]}")
            tool_ms.append(parse_benchmark_app(done.stdout + done.stderr))
    shown = " ".join(command).replace(config_path, "<config.json: " + json.dumps(openvino_config(threads, precision)) + ">")
    return ToolAgreementResult(variant, "benchmark_app", float(np.median(harness)) * 1e3, float(np.median(tool_ms)),
                               shown)


def versus_bare_session(variant: str, call: Callable[[], Any], session: Any, feeds: dict[str, np.ndarray],
                        pairs: int = 200) -> ToolAgreementResult:
    """ABBA pairs of one harness call and one bare ``session.run`` call on the same input."""
    def bare() -> Any:
        return session.run(None, feeds)

    time_calls(call, 20)
    time_calls(bare, 20)
    harness: list[float] = []
    tool: list[float] = []
    for i in range(pairs):
        first, second = (call, bare) if i % 2 == 0 else (bare, call)
        a, b = time_calls(first, 1)[0], time_calls(second, 1)[0]
        harness.append(a if first is call else b)
        tool.append(b if first is call else a)
    return ToolAgreementResult(variant, "onnxruntime InferenceSession.run loop", float(np.median(harness)) * 1e3,
                               float(np.median(tool)) * 1e3, "session.run(None, feeds) on the variant's session")
