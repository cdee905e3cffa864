"""Int8 variants: dynamic, FX static, PT2E static (this module) and PT2E QAT (``qat.py``).

Each builder calibrates on real samples (``ctx.workload.calibration_batches``),
writes the artifact a deployment would ship and measures its size on disk.
Given ``ctx.options["artifact"]`` it loads that artifact instead, so a fresh
process measures the memory of what is deployed (loading a ``.pt2`` package
does not import torchao).

Paths, from CPU_PATHS.md:
- ``dynamic_int8``: ``torch.ao`` ``quantize_dynamic`` of ``nn.Linear`` (deprecated);
  only Linear layers change, so a CNN gains nothing.
- ``fx_int8``: ``torch.ao`` FX graph mode (deprecated) -> TorchScript trace + freeze.
- ``pt2e_int8``: strict ``torch.export`` with a dynamic batch -> torchao PT2E with
  ``X86InductorQuantizer`` -> AOTInductor package compiled with Inductor freezing.

``ctx.options["package"]`` picks how a PT2E model runs: ``"aoti"`` (default),
``"compile"`` (torch.compile with freezing, no artifact) or ``"eager"`` (the
converted graph as is: quantize/dequantize in fp32, no speed-up; for tests).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from qpbench.errors import VariantError, VariantUnavailable
from qpbench.progress import progress
from qpbench.optimize import compile as compile_mod
from qpbench.optimize.compile import first_line, recorded_warnings
from qpbench.optimize.export import export_model, given_artifact, load_aoti, package_aoti
from qpbench.variants import BuildContext, Variant

Batch = tuple[torch.Tensor, torch.Tensor]
PACKAGE_MODES = ("aoti", "compile", "eager")
LEGACY_NOTE = "torch.ao.quantization and TorchScript are deprecated in torch 2.10+; the maintained path is pt2e_int8"


# ------------------------------------------------------------------ shared helpers


def calibrate(model: Callable[..., Any], batches: list[Batch]) -> int:
    """Run the calibration batches through ``model`` (observers record ranges); samples seen."""
    with torch.no_grad():
        for image, params in progress(batches, desc="calibrating", unit="batch"):
            model(image, params)
    return sum(int(image.shape[0]) for image, _ in batches)


def export_batch(ctx: BuildContext) -> Batch:
    """Real samples to trace or export with; 2 rows so the batch dimension stays symbolic."""
    return ctx.workload.example_batch(2)


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


def finish(ctx: BuildContext, name: str, module: Any, description: str, meta: dict[str, Any],
           artifact: Path | None) -> Variant:
    """The Variant, with the artifact's size on disk when there is one."""
    size = None
    if artifact is not None:
        size = os.path.getsize(artifact)
        meta["artifact"] = str(artifact)
    return Variant(name=name, module=module, description=description, threads=ctx.options.get("threads"),
                   meta=meta, artifact_bytes=size)


def _dynamic_quantized(model: nn.Module) -> nn.Module:
    from torch.ao.quantization import quantize_dynamic

    return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def build_dynamic_int8(ctx: BuildContext) -> Variant:
    """``nn.Linear`` weights int8, activations quantized per call; state_dict as artifact."""
    name, meta = "dynamic_int8", {"legacy": True, "deprecated": LEGACY_NOTE}
    loaded = given_artifact(ctx)
    with recorded_warnings(meta):
        if loaded is None:
            model = _dynamic_quantized(ctx.workload.build_model())
            artifact = ctx.artifact_path(name, ".pt")
            torch.save(model.state_dict(), artifact)
        else:  # the same structure, then the saved int8 weights (the fp32 checkpoint is not read)
            artifact = loaded
            model = _dynamic_quantized(ctx.workload.factory().float().eval())
            model.load_state_dict(torch.load(artifact, map_location="cpu", weights_only=True))
    meta.update(calibration_samples=0, quantized_layers=quantized_module_counts(model),
                loaded_from_artifact=loaded is not None)
    return finish(ctx, name, model.eval(), "torch.ao quantize_dynamic: nn.Linear int8 (legacy)", meta, artifact)


# ------------------------------------------------------------------ FX static int8 (torch.ao, legacy)


def _fx_int8(ctx: BuildContext, example: Batch, meta: dict[str, Any]) -> torch.jit.ScriptModule:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    try:
        prepared = prepare_fx(ctx.workload.build_model(), get_default_qconfig_mapping("x86"), example)
    except Exception as exc:  # torch.fx cannot trace data-dependent control flow
        raise VariantUnavailable(f"torch.fx cannot trace the model for FX quantization: {first_line(exc)}") from exc
    meta["calibration_samples"] = calibrate(prepared, ctx.workload.calibration_batches(ctx.calibration_batches, 8))
    converted = convert_fx(prepared)
    meta["quantized_layers"] = quantized_module_counts(converted)
    with torch.no_grad():
        # freeze, not optimize_for_inference: the latter's file cannot be loaded back (CPU_PATHS.md).
        return torch.jit.freeze(torch.jit.trace(converted, example).eval())


def build_fx_int8(ctx: BuildContext) -> Variant:
    """FX graph mode static int8 (x86 qconfig), TorchScript-traced and frozen; the .pt as artifact."""
    name, meta = "fx_int8", {"legacy": True, "deprecated": LEGACY_NOTE}
    example = export_batch(ctx)
    loaded = given_artifact(ctx)
    with recorded_warnings(meta):
        if loaded is None:
            module = _fx_int8(ctx, example, meta)
            artifact = ctx.artifact_path(name, ".pt")
            torch.jit.save(module, str(artifact))
        else:
            artifact = loaded
            module = torch.jit.load(str(artifact), map_location="cpu")
        warm_up(module, example)  # the TorchScript profiling executor optimizes on the first calls
    meta["loaded_from_artifact"] = loaded is not None
    return finish(ctx, name, module, "torch.ao FX static int8 (x86) -> TorchScript trace + freeze (legacy)",
                  meta, artifact)


# ------------------------------------------------------------------ PT2E static int8 (torchao)

PT2E_DESCRIPTION = "torch.export (strict) -> torchao PT2E int8 (X86InductorQuantizer) -> AOTInductor"


def load_pt2e_variant(ctx: BuildContext, name: str, description: str, artifact: Path) -> Variant:
    """A variant from an existing ``.pt2`` package (no torchao import, no calibration)."""
    meta: dict[str, Any] = {"loaded_from_artifact": True, "runtime": "aoti"}
    with recorded_warnings(meta):
        module = load_aoti(artifact)
        warm_up(module, export_batch(ctx))
    return finish(ctx, name, module, description, meta, artifact)


def package_pt2e(ctx: BuildContext, name: str, description: str, converted: nn.Module,
                 meta: dict[str, Any]) -> Variant:
    """Deploy a converted PT2E model: AOTInductor package, else torch.compile, else as is."""
    mode = ctx.options.get("package", "aoti")
    if mode not in PACKAGE_MODES:
        raise VariantError(f"option package={mode!r}: choose one of {PACKAGE_MODES}")
    meta["quantized_layers"] = pt2e_layer_counts(converted)
    example = export_batch(ctx)
    start = time.perf_counter()
    if mode == "aoti":
        try:
            with recorded_warnings(meta):
                artifact = aoti_package(converted, example, ctx.artifact_path(name, ".pt2"))
                module = load_aoti(artifact)
                warm_up(module, example)
            meta.update(runtime="aoti", compile_time_s=time.perf_counter() - start, loaded_from_artifact=False)
            return finish(ctx, name, module, description, meta, artifact)
        except Exception as exc:  # no C++ compiler, an op AOTI cannot lower, ...
            meta["aoti_failed"] = first_line(exc)
            mode = "compile"
    if mode == "compile":
        try:
            with recorded_warnings(meta):
                module = FrozenCompiled(converted)
                warm_up(module, example)
        except Exception as exc:
            reasons = "; ".join(filter(None, [meta.get("aoti_failed"), first_line(exc)]))
            raise VariantUnavailable(f"neither AOTInductor nor torch.compile can compile the int8 model: {reasons}") from exc
        meta["runtime"] = "torch.compile"
    else:
        module = GraphRunner(converted)
        meta["runtime"] = "eager graph (quantize/dequantize in fp32)"
    meta.update(compile_time_s=time.perf_counter() - start, loaded_from_artifact=False,
                no_artifact_reason=f"runtime {meta['runtime']!r} leaves no deployable file")
    return finish(ctx, name, module, f"{description} ({meta['runtime']})", meta, None)


def build_pt2e_int8(ctx: BuildContext) -> Variant:
    """Static int8 by torchao PT2E, calibrated on real samples, packaged with AOTInductor."""
    name = "pt2e_int8"
    loaded = given_artifact(ctx)
    if loaded is not None:
        return load_pt2e_variant(ctx, name, PT2E_DESCRIPTION, loaded)
    quantize_pt2e, xiq = require_torchao()
    meta: dict[str, Any] = {"legacy": False}
    with recorded_warnings(meta):
        program = export_model(ctx.workload.build_model(), export_batch(ctx), strict=True)
        prepared = quantize_pt2e.prepare_pt2e(program.module(), x86_quantizer(xiq))
        meta["calibration_samples"] = calibrate(
            prepared, ctx.workload.calibration_batches(ctx.calibration_batches, 8))
        converted = quantize_pt2e.convert_pt2e(prepared)
    return package_pt2e(ctx, name, PT2E_DESCRIPTION, converted, meta)


def build_qat_int8(ctx: BuildContext) -> Variant:
    """Quantization-aware training by PT2E: see ``qpbench.optimize.qat``."""
    from qpbench.optimize.qat import build_qat_int8 as build

    return build(ctx)
