"""The harness against the runtimes' own tools on the same artifact and settings.

- OpenVINO: ``benchmark_app`` (in the ``openvino`` wheel) with the variant's compile
  configuration passed as a ``-load_config`` file (latency hint, its thread count, f32 or bf16
  inference precision), sync API, one request, batch-1 shapes, ``-t`` seconds.
- ONNX Runtime: a bare ``InferenceSession.run`` loop on the variant's own session, calls
  alternating with the variant's (ABBA) in this process, within a few seconds.
- PyTorch: the variant's module called bare inside one ``inference_mode``, the same way.

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

from qpbench.measure.isolation import MeasurementError, NotApplicable
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


def pairs_for(call: Callable[[], Any], budget_s: float, max_pairs: int, min_pairs: int = 20) -> int:
    """How many ABBA pairs fit ``budget_s``, from the fastest of three calls."""
    estimate = max(min(time_calls(call, 3)), 1e-6)
    return int(max(min_pairs, min(max_pairs, budget_s / (2 * estimate))))


def versus_bare_loop(variant: str, call: Callable[[], Any], bare: Callable[[], Any], tool: str, command: str,
                     budget_s: float = 3.0, max_pairs: int = 200) -> ToolAgreementResult:
    """ABBA pairs of one harness call and one bare call on the same input, within ``budget_s``."""
    time_calls(call, 10)
    time_calls(bare, 10)
    pairs = pairs_for(call, budget_s, max_pairs)
    harness: list[float] = []
    own: list[float] = []
    for i in range(pairs):
        first, second = (call, bare) if i % 2 == 0 else (bare, call)
        a, b = time_calls(first, 1)[0], time_calls(second, 1)[0]
        harness.append(a if first is call else b)
        own.append(b if first is call else a)
    return ToolAgreementResult(variant, tool, float(np.median(harness)) * 1e3, float(np.median(own)) * 1e3, command)


def versus_bare_session(variant: str, call: Callable[[], Any], session: Any, feeds: dict[str, np.ndarray],
                        budget_s: float = 3.0, max_pairs: int = 200) -> ToolAgreementResult:
    """Against a bare ``InferenceSession.run`` loop on the variant's own session."""
    return versus_bare_loop(variant, call, lambda: session.run(None, feeds), "onnxruntime InferenceSession.run loop",
                            "session.run(None, feeds) on the variant's session", budget_s, max_pairs)


def versus_bare_module(variant: str, call: Callable[[], Any], module: Any, inputs: tuple[Any, ...],
                       budget_s: float = 3.0, max_pairs: int = 200) -> ToolAgreementResult:
    """A PyTorch variant against its module called bare, inside one ``inference_mode`` (what a
    serving loop written by hand would do): the harness's own per-call work."""
    import torch

    with torch.inference_mode():
        return versus_bare_loop(variant, call, lambda: module(*inputs), "bare module call loop",
                                "with torch.inference_mode(): module(image, params)", budget_s, max_pairs)


def tool_agreement(variant: Any, image: Any, params: Any) -> ToolAgreementResult:
    """OpenVINO variants beside benchmark_app, ONNX Runtime ones beside a bare session loop,
    PyTorch ones beside their module called bare: the harness must add nothing to a call.
    Raises ``NotApplicable`` where no comparison applies."""
    import torch

    from qpbench.measure.kernels import artifact_of

    runtime = variant.meta.get("runtime")
    runner = getattr(variant.module, "runner", None)
    call = lambda: variant(image, params)  # noqa: E731  (what the latency measurement times)
    with variant.runtime():
        if runtime == "openvino" and runner is not None:
            if getattr(runner, "hint", "LATENCY") != "LATENCY":
                raise NotApplicable("benchmark_app is compared at batch 1 with the latency hint only")
            if benchmark_app_path() is None:
                raise NotApplicable("benchmark_app is not installed (pip install openvino)")
            return versus_benchmark_app(variant.name, call, str(artifact_of(variant, runner)), runner.threads,
                                        runner.precision,
                                        tuple(image.shape), int(params.shape[1]))
        if runtime == "onnxruntime" and runner is not None:
            feeds = {"image": image.numpy(), "params": params.numpy()}
            return versus_bare_session(variant.name, call, runner.session, feeds)
        if variant.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        return versus_bare_module(variant.name, call, variant.module, (image, params))
