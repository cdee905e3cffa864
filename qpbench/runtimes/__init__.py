"""Runtimes that serve an exported artifact without PyTorch: ONNX Runtime and OpenVINO.

These modules import only the standard library, numpy and their runtime, so a
deployment (and the memory worker measuring one) never pays for importing
torch. Building the artifacts needs torch: that lives in
``qpbench/optimize/onnx_variants.py`` and ``qpbench/optimize/openvino_variants.py``.

A runner is ``run(image, params) -> np.ndarray`` on float32 arrays: the image
already preprocessed (N, 3, H, W), the parameters (N, 13).
"""

from __future__ import annotations

import importlib
from typing import Any

INPUT_NAMES = ("image", "params")
TORCH_FREE = ("onnxruntime", "openvino")  # Variant.meta["runtime"] values served without torch
OUTPUT_NAME = "ssim"


class RuntimeMissing(ImportError):
    """The runtime's Python package is not installed; the message says what to install."""


def require(module: str, extra: str) -> Any:
    """Import a runtime package, or raise RuntimeMissing naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except Exception as exc:  # ImportError, or a broken install failing on import
        raise RuntimeMissing(
            f"{module} is not available ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}): "
            f"pip install 'qpbench[{extra}]'"
        ) from exc


def version(module: str) -> str | None:
    try:
        return str(importlib.import_module(module).__version__)
    except Exception:
        return None
