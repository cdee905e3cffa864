"""PyTorch eager variants: the fp32 reference and the CPU-tuned fp32 model."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from qpbench.timing import median_call_s
from qpbench.variants.base import BuildContext, Variant


def build_eager(ctx: BuildContext) -> Variant:
    """The fp32 reference: the model as trained, eval mode, inference mode."""
    import torch

    model = ctx.workload.build_model()
    return Variant(
        name="eager",
        module=model,
        description="fp32 reference: eval() + inference_mode",
        threads=ctx.options.threads,
        meta={"torch_threads_default": torch.get_num_threads()},
    )


def build_optimized(ctx: BuildContext) -> Variant:
    """Conv+BN folded, channels_last when it measures faster, thread count from a sweep, warmed up."""
    import torch

    from qpbench.optimize.affinity import allowed_cpus, cpu_affinity, first_cpus
    from qpbench.optimize.fusion import fold_conv_bn
    from qpbench.optimize.layout import has_conv2d, to_channels_last
    from qpbench.optimize.threads import candidate_thread_counts, sweep_threads, thread_settings

    model, fusion = fold_conv_bn(ctx.workload.build_model())
    image, params = ctx.workload.example_batch(1)
    meta: dict[str, Any] = {"conv_bn_folded": fusion.folded, "batchnorms": fusion.batchnorms}
    if fusion.skipped_reason:
        meta["fusion_skipped"] = fusion.skipped_reason

    def runner(m: Any, cl: bool) -> Callable[[], object]:
        x = image.contiguous(memory_format=torch.channels_last) if cl else image
        return lambda: m(x, params)

    channels_last = ctx.options.channels_last
    with torch.inference_mode():
        if channels_last is None:
            channels_last = False
            if has_conv2d(model):
                cl_model = to_channels_last(copy.deepcopy(model))
                t_plain = median_call_s(runner(model, False), ctx.sweep_rounds, ctx.timer)
                t_cl = median_call_s(runner(cl_model, True), ctx.sweep_rounds, ctx.timer)
                meta["layout_median_s"] = {"contiguous": t_plain, "channels_last": t_cl}
                channels_last = t_cl < t_plain
        if channels_last:
            model = to_channels_last(model)
        threads = ctx.options.threads
        if threads is None:
            sweep = sweep_threads(runner(model, channels_last), candidate_thread_counts(),
                                  rounds=ctx.sweep_rounds, timer=ctx.timer)
            threads = sweep.best
            meta["thread_sweep_median_s"] = {str(k): v for k, v in sweep.median_s.items()}
        # Pin to as many cores as threads when that leaves cores free; pinning
        # all allowed cores would change nothing.
        cpus = list(ctx.options.cpus) if ctx.options.cpus is not None else None
        if cpus is None and threads < len(allowed_cpus()):
            cpus = first_cpus(threads)
        with cpu_affinity(cpus), thread_settings(threads):
            warm = runner(model, channels_last)
            for _ in range(3):
                warm()
    return Variant(
        name="optimized",
        module=model,
        description="Conv+BN folded, channels_last if faster, swept threads, pinned, warmed up, inference_mode",
        threads=threads,
        cpus=cpus,
        channels_last=channels_last,
        meta=meta,
    )
