"""What is done with a built variant for each measurement request.

A variant worker (variant_worker.py) runs these on the requests it reads; a
variant whose builder no fresh process can import runs the same functions in
the test process (engine.py). Each timing loop runs here, next to the model,
through ``qpbench.timing``; only the raw samples travel back.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qpbench.measure import timed
from qpbench.measure.head_to_head import alternate
from qpbench.measure.head_to_head import head_to_head as timed_head_to_head
from qpbench.measure.isolation import MeasurementError, NotApplicable
from qpbench.measure.probe import one_thread, probe_call
from qpbench.results import LatencyResult, Result
from qpbench.variants import BuildContext, Variant, VariantSpec, build_variant
from qpbench.workload import Workload


@dataclass
class Loaded:
    """A worker's state: the workload and the built variant (and the reference, once asked for)."""

    workload: Workload
    variant: Variant
    reference: Variant | None = None
    examples: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    cache: dict[str, Any] | None = None  # the build request's cache settings ({"root", "rebuild"})

    def batch(self, batch_size: int) -> tuple[Any, Any]:
        if batch_size not in self.examples:
            self.examples[batch_size] = self.workload.example_batch(batch_size)
        return self.examples[batch_size]

    @property
    def n_samples(self) -> int:
        return self.workload.data.n_samples

    def sample(self, index: int) -> tuple[Any, Any]:
        return self.workload.inputs(np.array([index]))

    def cat(self, samples: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        import torch

        return torch.cat([s[0] for s in samples]), torch.cat([s[1] for s in samples])


def build(spec: VariantSpec, workload: Workload, options: dict[str, Any] | None, sweep_rounds: int,
          calibration_batches: int, artifact_dir: str | None, cache: dict[str, Any] | None = None) -> Variant:
    """Build the variant into ``artifact_dir`` (the run's); with ``options`` (a first build's
    ``rebuild_options``) nothing is re-measured and its artifact is loaded, not written again.
    A first build with ``cache`` ({"root", "rebuild"}) goes through the build cache."""
    if cache and not options and artifact_dir:
        from qpbench.variants.build_cache import BuildCache, cached_build

        return cached_build(spec, workload, sweep_rounds, calibration_batches, Path(artifact_dir),
                            BuildCache(Path(cache["root"])), rebuild=bool(cache.get("rebuild")))
    ctx = BuildContext(workload, options=options or {}, sweep_rounds=1 if options else sweep_rounds,
                       artifact_dir=Path(artifact_dir) if artifact_dir and not options else None,
                       calibration_batches=calibration_batches)
    return build_variant(spec, ctx)





def latency(loaded: Loaded, profile: str | dict[str, Any], batch_size: int,
            tail_targets_s: Sequence[Sequence[float]] = ()) -> LatencyResult:
    """Per-call times at one batch size (timed.py): the profile's stopping rule."""
    return timed.latency(loaded, profile, batch_size, tail_targets_s)


def save_inputs(loaded: Loaded, path: str, n: int) -> dict[str, Any]:
    """The first ``n`` samples (all, in a smaller set), preprocessed, for a torch-free worker."""
    image, params = loaded.workload.inputs(np.arange(min(n, loaded.n_samples)))
    np.savez(path, image=image.numpy(), params=params.numpy())
    return {"n": int(image.shape[0])}


def pool_of(variant: Variant) -> str:
    """The thread pool the variant's calls run on: its runtime's own (ONNX Runtime, OpenVINO), or torch's."""
    return str(variant.meta.get("runtime")) if getattr(variant.module, "serves_numpy", False) else "torch"


def paired(loaded: Loaded, profile: str | dict[str, Any]) -> Result:
    """Batch-1 calls of the variant and the reference, interleaved (ABBA), until the median
    ratio is precise (the profile's stopping rule); where they run on different thread pools,
    each call waits for its pool to go idle before the other's (head_to_head.py)."""
    ref = loaded.reference
    if ref is None:
        raise RuntimeError("paired timing needs the reference: send a 'reference' request first")
    variant = loaded.variant
    image, params = loaded.batch(1)
    return alternate(variant.name, lambda: variant(image, params), variant.runtime, ref.name,
                     lambda: ref(image, params), ref.runtime, profile, (pool_of(variant), pool_of(ref)))


def probe(loaded: Loaded, profile: str | dict[str, Any]) -> Result:
    """Batch-1 calls of the variant (the reference) and of the machine-speed probe, interleaved
    (ABBA), both at one thread: the model's speed against the machine's (probe.py)."""
    name, call = probe_call()
    variant = loaded.variant
    image, params = loaded.batch(1)
    return alternate(variant.name, lambda: variant(image, params), one_thread, name, call, one_thread, profile)


def head_to_head(loaded: Loaded, profile: str | dict[str, Any], other: Variant) -> Result:
    """The variant against ``other`` (rebuilt in this worker), calls alternating at batch 1."""
    variant = loaded.variant
    image, params = loaded.batch(1)
    return timed_head_to_head(variant.name, lambda: variant(image, params), variant.runtime, other.name,
                              lambda: other(image, params), other.runtime, profile,
                              (pool_of(variant), pool_of(other)))


def throughput(loaded: Loaded, profile: str | dict[str, Any]) -> Result:
    return timed.throughput(loaded, profile)


def loadgen(loaded: Loaded, profile: str | dict[str, Any], log_dir: str, bound_ms: float,
            target_qps: float | None = None) -> list[Result]:
    """SingleStream, Offline and the Server QPS search (timed.py)."""
    return timed.loadgen(loaded, profile, log_dir, bound_ms, target_qps)


KERNEL_SWITCHES = ("ONEDNN_", "DNNL_", "OV_", "ORT_")  # environment variables that may change the kernels


def kernels(loaded: Loaded) -> Result:
    """Which kernels the heavy operators ran with (measure/kernels.py), from one inference here;
    a fact of the build, kept with it in the build cache under the code that finds it."""
    from dataclasses import replace

    from qpbench.measure.build_facts import cached_fact
    from qpbench.measure.kernels import kernels_result, model_flops
    from qpbench.schema.codec import dump, load
    from qpbench.variants.code_digest import code_digest

    def find() -> dict[str, Any]:
        try:
            return dump(kernels_result(loaded.variant, loaded.batch(1), model_flops(loaded.workload)))
        except NotApplicable:
            raise
        except MeasurementError as exc:
            raise NotApplicable(str(exc)) from None

    # the runtimes' ISA switches choose kernels too: a run under ONEDNN_MAX_CPU_ISA finds them afresh
    switches = sorted((k, v) for k, v in os.environ.items() if k.startswith(KERNEL_SWITCHES))
    value, cached = cached_fact(loaded, f"kernels:{code_digest('qpbench.measure.kernels')}:{switches}", find)
    result = load(Result, value)
    return replace(result, facts_from="build cache") if cached else result


def tool_agreement(loaded: Loaded, harness: dict[str, float]) -> Result:
    """The verdict's batch-1 figure (``harness``) beside the runtime's own tool on the same
    artifact (agreement.py)."""
    import torch

    from qpbench.measure.agreement import Harness
    from qpbench.measure.agreement import tool_agreement as compare
    from qpbench.measure.kernels import artifact_of

    variant = loaded.variant
    image, params = loaded.batch(1)
    runtime = variant.meta.get("runtime")
    runner = getattr(variant.module, "runner", None)
    if runtime == "onnxruntime" and runner is not None:
        feeds = {"image": image.numpy(), "params": params.numpy()}
        bare = lambda: runner.session.run(None, feeds)  # noqa: E731
    else:
        shaped = image.contiguous(memory_format=torch.channels_last) if variant.channels_last else image
        bare = lambda: variant.module(shaped, params)  # noqa: E731
    with variant.runtime(), torch.inference_mode():
        return compare(variant.name, runtime, runner, artifact_of(variant, runner) if runner is not None else None,
                       bare, tuple(image.shape), int(params.shape[1]), Harness.from_dict(harness))
