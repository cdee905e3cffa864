"""Int8 variants: dynamic, FX static and PT2E static (PT2E QAT: ``qat.py``).

Each builder calibrates on real samples (``ctx.workload.calibration_batches``),
writes the artifact a deployment would ship and measures its size on disk.
Given ``ctx.options.artifact`` it loads that artifact instead, so a fresh
process measures the memory of what is deployed (loading a ``.pt2`` package
does not import torchao).

Paths, from CPU_PATHS.md:
- ``dynamic_int8``: ``torch.ao`` ``quantize_dynamic`` of ``nn.Linear`` (deprecated);
  only Linear layers change, so a CNN gains nothing.
- ``fx_int8``: ``torch.ao`` FX graph mode (deprecated) -> TorchScript trace + freeze.
- ``pt2e_int8``: strict ``torch.export`` with a dynamic batch -> torchao PT2E with
  ``X86InductorQuantizer`` -> AOTInductor package compiled with Inductor freezing.

``ctx.options.package`` picks how a PT2E model runs: ``"aoti"`` (default),
``"compile"`` (torch.compile with freezing, no artifact) or ``"eager"`` (the
converted graph as is: quantize/dequantize in fp32, no speed-up; for tests).
The transforms themselves are in ``qpbench.optimize.quantize``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from qpbench.errors import VariantError, VariantUnavailable
from qpbench.optimize.compile import first_line, recorded_warnings
from qpbench.optimize.export import export_model, load_aoti
from qpbench.optimize.quantize import (
    Batch,
    FrozenCompiled,
    GraphRunner,
    aoti_package,
    calibrate,
    dynamic_quantized,
    pt2e_layer_counts,
    quantized_module_counts,
    require_torchao,
    warm_up,
    x86_quantizer,
)
from qpbench.variants.base import BuildContext, Variant, given_artifact


PACKAGE_MODES = ("aoti", "compile", "eager")


LEGACY_NOTE = "torch.ao.quantization and TorchScript are deprecated in torch 2.10+; the maintained path is pt2e_int8"


def export_batch(ctx: BuildContext) -> Batch:
    """Real samples to trace or export with; 2 rows so the batch dimension stays symbolic."""
    return ctx.workload.example_batch(2)


def finish(ctx: BuildContext, name: str, module: Any, description: str, meta: dict[str, Any],
           artifact: Path | None) -> Variant:
    """The Variant, with the artifact's size on disk when there is one."""
    size = None
    if artifact is not None:
        size = os.path.getsize(artifact)
        meta["artifact"] = str(artifact)
    return Variant(name=name, module=module, description=description, threads=ctx.options.threads,
                   meta=meta, artifact_bytes=size)


def build_dynamic_int8(ctx: BuildContext) -> Variant:
    """``nn.Linear`` weights int8, activations quantized per call; state_dict as artifact."""
    name, meta = "dynamic_int8", {"legacy": True, "deprecated": LEGACY_NOTE}
    loaded = given_artifact(ctx)
    with recorded_warnings(meta):
        if loaded is None:
            model = dynamic_quantized(ctx.workload.build_model())
            artifact = ctx.artifact_path(name, ".pt")
            torch.save(model.state_dict(), artifact)
        else:  # the same structure, then the saved int8 weights (the fp32 checkpoint is not read)
            artifact = loaded
            model = dynamic_quantized(ctx.workload.factory().float().eval())
            model.load_state_dict(torch.load(artifact, map_location="cpu", weights_only=True))
    meta.update(calibration_samples=0, quantized_layers=quantized_module_counts(model),
                loaded_from_artifact=loaded is not None)
    return finish(ctx, name, model.eval(), "torch.ao quantize_dynamic: nn.Linear int8 (legacy)", meta, artifact)


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
    mode = ctx.options.package
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
