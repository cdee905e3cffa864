"""Compiled fp32 variants: torch.compile (Inductor, freezing) and torch.export + AOTInductor.

The transforms and their traps are described in ``qpbench.optimize.compile``
and ``qpbench.optimize.export``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch

from qpbench.errors import VariantUnavailable
from qpbench.optimize.compile import ARTIFACT_NOTE, compile_frozen, first_line, recorded_warnings
from qpbench.optimize.export import aoti_ops, export_model, load_aoti, package_aoti
from qpbench.optimize.threads import thread_settings
from qpbench.variants.base import BuildContext, Variant, given_artifact


def build_compiled(ctx: BuildContext) -> Variant:
    """torch.compile (Inductor, default mode, freezing, dynamic batch), compiled at build time."""

    threads = ctx.options.threads
    sizes = ctx.options.compile_batch_sizes
    meta: dict[str, Any] = {
        "legacy": False,
        "backend": "inductor",
        "mode": "default",
        "freezing": True,
        "dynamic_batch": "maybe_mark_dynamic on dim 0 of both inputs",
        "compile_batch_sizes": list(sizes),
        "artifact_note": ARTIFACT_NOTE,
    }
    model = ctx.workload.build_model()
    examples = [ctx.workload.example_batch(b) for b in sizes]
    with thread_settings(threads), recorded_warnings(meta):
        # Inductor's fused C++ kernels keep the thread count they were compiled with.
        meta["kernel_threads"] = torch.get_num_threads()
        try:
            module, stats = compile_frozen(model, examples)
        except Exception as exc:  # no C++ compiler, an op Inductor cannot lower, ...
            raise VariantUnavailable(f"torch.compile (inductor) failed: {first_line(exc)}") from exc
    meta.update(stats)
    return Variant(
        name="compiled",
        module=module,
        description="torch.compile (inductor, freezing, dynamic batch), compiled at build time; no artifact",
        threads=threads,
        meta=meta,
        artifact_bytes=None,
    )


def build_aoti(ctx: BuildContext) -> Variant:
    """torch.export (strict, dynamic batch) -> AOTInductor .pt2 with freezing; the .pt2 is the artifact.

    ``options.dynamic_batch = False`` exports a batch of 1 instead: a package
    that serves batch 1 only, with oneDNN kernels chosen for that shape.
    """

    name = "aoti"
    threads = ctx.options.threads
    dynamic = ctx.options.dynamic_batch
    loaded = given_artifact(ctx)
    meta: dict[str, Any] = {"legacy": False, "freezing": True,
                            "export": "strict, dynamic batch" if dynamic else "strict, static batch of 1 (serves batch 1 only)"}
    with thread_settings(threads), recorded_warnings(meta):
        if loaded is None:
            example = ctx.workload.example_batch(2 if dynamic else 1)
            exported = export_model(ctx.workload.build_model(), example, dynamic_batch=dynamic)
            artifact = ctx.artifact_path(name if dynamic else f"{name}-b1", ".pt2")
            meta["kernel_threads"] = torch.get_num_threads()
            start = time.perf_counter()
            try:
                artifact = package_aoti(exported, artifact)
            except Exception as exc:  # no C++ compiler, an op Inductor cannot lower, ...
                raise VariantUnavailable(f"AOTInductor cannot compile the exported model: {first_line(exc)}") from exc
            meta["compile_time_s"] = time.perf_counter() - start
            meta["aoti_ops"] = aoti_ops(artifact)
        else:
            artifact = loaded
        module = load_warm_aoti(ctx, artifact, loaded, meta)
    return Variant(
        name=name,
        module=module,
        description=f"torch.export (strict, {'dynamic batch' if dynamic else 'batch 1'}) -> AOTInductor .pt2 (freezing)",
        threads=threads,
        meta=meta,
        artifact_bytes=os.path.getsize(artifact),
    )


def load_warm_aoti(ctx: BuildContext, artifact: Any, loaded: Any, meta: dict[str, Any]) -> Any:
    """The .pt2 loaded and called twice (the first calls pick kernels); ``meta`` records where it is."""
    module = load_aoti(artifact)
    with torch.inference_mode():
        for _ in range(2):
            module(*ctx.workload.example_batch(1))
    meta.update(artifact=str(artifact), loaded_from_artifact=loaded is not None)
    return module
