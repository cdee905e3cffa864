"""bf16 variants, built where the CPU computes bf16 natively (AMX-BF16 or AVX512-BF16).

- ``openvino-bf16``: the ``openvino-fp32`` IR compiled with ``INFERENCE_PRECISION_HINT=bf16``
  (what OpenVINO picks by itself on such CPUs), latency hint.
- ``aoti-bf16``: the model with bf16 weights, its inputs cast to bf16 and its output back to
  fp32 inside the exported graph, torch.export (strict, dynamic batch) + AOTInductor with
  freezing: oneDNN's bf16 convolutions and matrix products.

Without native bf16 both still run, emulated (measured on an Ice Lake Xeon without
avx512_bf16: OpenVINO ran ``jit_avx512_bf16`` convolutions, oneDNN ``jit_bf16:avx512_core``),
which is slower than fp32 and says nothing about the CPUs bf16 is for: the variants are
skipped there with that reason. Fidelity against fp32 is judged by the bf16 rule
(``QuantThresholds.max_bf16_fidelity_loss``).
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch

from qpbench import peak
from qpbench.errors import VariantUnavailable
from qpbench.system import cpu_info
from qpbench.variants.base import BuildContext, Variant, given_artifact


def native_bf16() -> bool:
    return peak.native_bf16(cpu_info()["isa"])


def require_native_bf16() -> None:
    if not native_bf16():
        raise VariantUnavailable("this CPU has no native bf16 (neither AMX-BF16 nor AVX512-BF16): bf16 would run "
                                 "emulated, slower than fp32, and would not measure what bf16 gives where it exists")


def build_openvino_bf16(ctx: BuildContext) -> Variant:
    require_native_bf16()
    from qpbench.variants.openvino import build_openvino_bf16_ir

    return build_openvino_bf16_ir(ctx)


class Bf16Model(torch.nn.Module):
    """``model`` in bf16 with fp32 inputs and output: the casts are part of the exported graph."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.inner = model.to(torch.bfloat16).eval()

    def forward(self, image: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return self.inner(image.to(torch.bfloat16), params.to(torch.bfloat16)).float()


def build_aoti_bf16_package(ctx: BuildContext) -> Variant:
    """bf16 weights and activations through torch.export + AOTInductor (no check of the CPU)."""
    from qpbench.optimize.compile import first_line, recorded_warnings
    from qpbench.optimize.export import export_model, package_aoti
    from qpbench.variants.compiled import load_warm_aoti
    from qpbench.optimize.threads import thread_settings

    threads = ctx.options.threads
    loaded = given_artifact(ctx)
    meta: dict[str, Any] = {"legacy": False, "freezing": True, "precision": "bf16",
                            "export": "strict, dynamic batch; bf16 weights, inputs cast to bf16 in the graph"}
    with thread_settings(threads), recorded_warnings(meta):
        if loaded is None:
            model = Bf16Model(ctx.workload.build_model())
            exported = export_model(model, ctx.workload.example_batch(2), dynamic_batch=True)
            start = time.perf_counter()
            try:
                artifact = package_aoti(exported, ctx.artifact_path("aoti-bf16", ".pt2"))
            except Exception as exc:  # no C++ compiler, an op Inductor cannot lower in bf16, ...
                raise VariantUnavailable(f"AOTInductor cannot compile the bf16 model: {first_line(exc)}") from exc
            meta["compile_time_s"] = time.perf_counter() - start
        else:
            artifact = loaded
        module = load_warm_aoti(ctx, artifact, loaded, meta)
    return Variant(name="aoti-bf16", module=module, threads=threads, meta=meta, artifact_bytes=os.path.getsize(artifact),
                   description="bf16 weights and activations, torch.export (strict, dynamic batch) -> AOTInductor .pt2")


def build_aoti_bf16(ctx: BuildContext) -> Variant:
    require_native_bf16()
    return build_aoti_bf16_package(ctx)
