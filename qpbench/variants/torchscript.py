"""The TorchScript variant (legacy): script or trace, freeze, optimize_for_inference (``qpbench.optimize.torchscript``)."""

from __future__ import annotations

import os
from typing import Any

import torch

from qpbench.errors import VariantUnavailable
from qpbench.optimize.compile import first_line, recorded_warnings
from qpbench.optimize.threads import thread_settings
from qpbench.optimize.torchscript import ARTIFACT_NOTE, DEPRECATED, script_or_trace
from qpbench.variants.base import BuildContext, Variant, given_artifact


def build_torchscript(ctx: BuildContext) -> Variant:
    """TorchScript script (trace as fallback) + freeze + optimize_for_inference; the frozen .pt as artifact."""

    name = "torchscript"
    threads = ctx.options.threads
    loaded = given_artifact(ctx)
    meta: dict[str, Any] = {"legacy": True, "deprecated": DEPRECATED, "artifact_note": ARTIFACT_NOTE}
    with thread_settings(threads), recorded_warnings(meta):
        if loaded is None:
            captured, info = script_or_trace(
                ctx.workload.build_model(), ctx.workload.example_batch(2), ctx.workload.example_batch(3))
            meta.update(info)
            frozen = torch.jit.freeze(captured.eval())
            artifact = ctx.artifact_path(name, ".pt")
            torch.jit.save(frozen, str(artifact))  # before optimize_for_inference, which rewrites `frozen` in place
        else:
            artifact = loaded
            frozen = torch.jit.load(str(artifact), map_location="cpu")  # already frozen: no freeze again
            meta["method"] = "torch.jit.load"
        try:
            module = torch.jit.optimize_for_inference(frozen)
        except Exception as exc:
            raise VariantUnavailable(f"torch.jit.optimize_for_inference failed: {first_line(exc)}") from exc
        with torch.inference_mode():  # the profiling executor optimizes on the first calls
            for batch in (1, 1, 8):
                module(*ctx.workload.example_batch(batch))
    meta.update(artifact=str(artifact), loaded_from_artifact=loaded is not None)
    return Variant(
        name=name,
        module=module,
        description="TorchScript script/trace + freeze + optimize_for_inference (legacy)",
        threads=threads,
        meta=meta,
        artifact_bytes=os.path.getsize(artifact),
    )
