"""OpenVINO CPU compiled models for a saved IR (.xml + .bin; no torch import).

``hint="LATENCY"`` runs one request on all its threads. ``hint="THROUGHPUT"``
splits the CPU into streams; a batch is then served as single-sample requests
spread over an async queue with as many requests as OpenVINO finds optimal,
which is how the throughput hint is meant to be used.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from qpbench.runtimes import require

HINTS = ("LATENCY", "THROUGHPUT")


def compile_ir(path: str | Path, threads: int | None, hint: str) -> Any:
    ov = require("openvino", "openvino")
    if hint not in HINTS:
        raise ValueError(f"unknown OpenVINO performance hint {hint!r}: choose from {HINTS}")
    path = Path(path)
    if not path.is_file() or not path.with_suffix(".bin").is_file():
        raise FileNotFoundError(f"OpenVINO IR {path} (and its .bin) does not exist")
    # f32 explicitly: on CPUs with AVX-512 BF16 or AMX OpenVINO would otherwise run fp32 models in bf16.
    config: dict[str, Any] = {"PERFORMANCE_HINT": hint, "INFERENCE_PRECISION_HINT": "f32"}
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        config["INFERENCE_NUM_THREADS"] = threads
    return ov.Core().compile_model(str(path), "CPU", config)


class OvRunner:
    runtime = "openvino"

    def __init__(self, path: str | Path, threads: int | None = None, hint: str = "LATENCY") -> None:
        self.path = Path(path)
        self.threads = threads
        self.hint = hint
        self.compiled = compile_ir(self.path, threads, hint)
        self._local = threading.local()  # an infer request serves one call at a time: one per thread
        self._queue_lock = threading.Lock()
        self._queue: Any = None
        if hint == "THROUGHPUT":
            ov = require("openvino", "openvino")
            self._queue = ov.AsyncInferQueue(self.compiled, self.optimal_requests)

    @property
    def inference_threads(self) -> int:
        return int(self.compiled.get_property("INFERENCE_NUM_THREADS"))

    @property
    def precision(self) -> str:
        value = self.compiled.get_property("INFERENCE_PRECISION_HINT")  # an openvino Type, e.g. f32
        return str(value.get_type_name()) if hasattr(value, "get_type_name") else str(value)

    @property
    def streams(self) -> int:
        return int(self.compiled.get_property("NUM_STREAMS"))

    @property
    def optimal_requests(self) -> int:
        return int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))

    def run(self, image: np.ndarray, params: np.ndarray) -> np.ndarray:
        image = np.ascontiguousarray(image, dtype=np.float32)
        params = np.ascontiguousarray(params, dtype=np.float32)
        if self._queue is None or image.shape[0] == 1:
            out = self._request().infer([image, params])
            return np.asarray(out[0]).reshape(-1).copy()
        with self._queue_lock:
            return self._run_queued(image, params)

    def _request(self) -> Any:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        return request

    def _run_queued(self, image: np.ndarray, params: np.ndarray) -> np.ndarray:
        results = np.empty(image.shape[0], dtype=np.float32)

        def done(request: Any, index: int) -> None:
            results[index] = float(np.asarray(request.get_output_tensor(0).data).reshape(-1)[0])

        self._queue.set_callback(done)
        for i in range(image.shape[0]):
            self._queue.start_async([image[i : i + 1], params[i : i + 1]], i)
        self._queue.wait_all()
        return results
