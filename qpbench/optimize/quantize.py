"""Int8 transforms: calibration, torchao PT2E quantizers, counts of quantized layers, runners.

The variants built from them (dynamic, FX static, PT2E static, PT2E QAT) are in
``qpbench.variants.quantized`` and ``qpbench.variants.qat``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from qpbench.errors import VariantUnavailable
from qpbench.progress import progress
from qpbench.optimize import compile as compile_mod
from qpbench.optimize.compile import first_line
from qpbench.optimize.export import export_model, package_aoti

Batch = tuple[torch.Tensor, torch.Tensor]


# ------------------------------------------------------------------ shared helpers


def calibrate(model: Callable[..., Any], batches: list[Batch]) -> int:
    """Run the calibration batches through ``model`` (observers record ranges); samples seen."""
    with torch.no_grad():
        for image, params in progress(batches, desc="calibrating", unit="batch"):
            model(image, params)
    return sum(int(image.shape[0]) for image, _ in batches)


def require_torchao() -> tuple[Any, Any]:
    """torchao's ``quantize_pt2e`` and ``x86_inductor_quantizer`` modules, or VariantUnavailable."""
    try:
        import torchao  # noqa: F401  (first: fails when torchao is absent even if submodules were cached)
        from torchao.quantization.pt2e import quantize_pt2e
        from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer
    except Exception as exc:
        raise VariantUnavailable(f"torchao is not available ({first_line(exc)}): pip install torchao") from exc
    return quantize_pt2e, x86_inductor_quantizer


def x86_quantizer(xiq: Any, is_qat: bool = False) -> Any:
    quantizer = xiq.X86InductorQuantizer()
    quantizer.set_global(xiq.get_default_x86_inductor_quantization_config(is_qat=is_qat))
    return quantizer


def aoti_package(model: nn.Module, example: Batch, path: Path) -> Path:
    """AOTInductor-compile a converted PT2E model (dynamic batch, freezing on) into ``path``.

    Non-strict export: the converted model is already a graph. ``package_aoti``
    compiles with grad off, without which Inductor silently skips freezing and
    dequantizes the int8 weights on every call.
    """
    return package_aoti(export_model(model, example, strict=False), path)


def FrozenCompiled(model: nn.Module) -> compile_mod.FrozenCompiled:  # noqa: N802 (a class in compile.py)
    """``torch.compile`` of a converted model, every call under Inductor freezing.

    The variant calls it under inference_mode, so grad is off as freezing needs.
    """
    return compile_mod.FrozenCompiled(model, torch.compile(model))


class GraphRunner:
    """A converted PT2E graph run as is; not an nn.Module, so no state_dict poses as its artifact."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def __call__(self, image: torch.Tensor, params: torch.Tensor) -> Any:
        return self.model(image, params)


def quantized_module_counts(model: nn.Module) -> dict[str, int]:
    """Quantized layers with weights (torch.ao.nn.*quantized* conv/linear) by class name."""
    counts = Counter(
        type(m).__name__
        for m in model.modules()
        if "quantized" in type(m).__module__ and hasattr(m, "weight") and "PackedParams" not in type(m).__name__
    )
    return dict(sorted(counts.items()))


def pt2e_layer_counts(graph_module: Any) -> dict[str, int]:
    """Conv/linear nodes of a converted PT2E graph, split by whether their weight is int8."""
    counts: Counter[str] = Counter()
    for node in graph_module.graph.nodes:
        op = str(node.target).split(".")[1] if str(node.target).startswith("aten.") else ""
        if node.op != "call_function" or op not in ("conv2d", "linear"):
            continue
        weight = node.args[1] if len(node.args) > 1 else None
        int8 = isinstance(weight, torch.fx.Node) and "dequantize" in str(weight.target)
        counts[f"{op}_{'int8' if int8 else 'fp32'}"] += 1
    return dict(sorted(counts.items()))


def warm_up(module: Callable[..., Any], example: Batch, calls: int = 2) -> None:
    with torch.inference_mode():
        for _ in range(calls):
            module(*example)


def dynamic_quantized(model: nn.Module) -> nn.Module:
    from torch.ao.quantization import quantize_dynamic

    return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


# ------------------------------------------------------------------ FX static int8 (torch.ao, legacy)


# ------------------------------------------------------------------ PT2E static int8 (torchao)
