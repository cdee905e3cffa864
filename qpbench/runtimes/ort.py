"""ONNX Runtime CPU sessions for an exported model (no torch import)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qpbench.runtimes import INPUT_NAMES, require


def session_options(threads: int | None) -> Any:
    """All graph optimizations, sequential execution, ``threads`` intra-op threads (None: ORT's default)."""
    ort = require("onnxruntime", "onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        options.intra_op_num_threads = threads
    return options


class OrtRunner:
    """One inference session on the CPU execution provider."""

    runtime = "onnxruntime"

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        ort = require("onnxruntime", "onnx")
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model {path} does not exist")
        self.path = path
        self.threads = threads
        self.session = ort.InferenceSession(str(path), sess_options=session_options(threads),
                                            providers=["CPUExecutionProvider"])
        names = tuple(i.name for i in self.session.get_inputs())
        if names != INPUT_NAMES:
            raise ValueError(f"ONNX model {path} has inputs {names}, expected {INPUT_NAMES}")

    @property
    def intra_op_threads(self) -> int:
        return int(self.session.get_session_options().intra_op_num_threads)

    def run(self, image: np.ndarray, params: np.ndarray) -> np.ndarray:
        feeds = {"image": np.ascontiguousarray(image, dtype=np.float32),
                 "params": np.ascontiguousarray(params, dtype=np.float32)}
        (out,) = self.session.run(None, feeds)
        return np.asarray(out).reshape(-1)
