"""Variants: named, lazily built, cached runnables with their build metadata.

A ``VariantSpec`` names a builder ``(BuildContext) -> Variant``. Builders are
module-level functions so a fresh process (the memory worker) can import them
by path and build the same variant. Users add variants with the
``pytest_qpbench_register_variants`` hook (see ``hookspec.py``).
"""

from __future__ import annotations

import contextlib
import copy
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qpbench.errors import VariantError, VariantUnavailable
from qpbench.results import VariantInfo
from qpbench.workload import Workload, import_object


@dataclass
class BuildContext:
    """What a builder gets.

    ``options`` are overrides; a fresh process (the memory worker) passes the
    built variant's ``rebuild_options()`` so it rebuilds the same thing without
    re-measuring: ``threads``, ``channels_last`` and, for variants with a
    serialized artifact, ``artifact`` (a path to load instead of building).
    ``artifact_dir`` is where a builder writes its artifact.
    """

    workload: Workload
    options: dict[str, Any] = field(default_factory=dict)
    sweep_rounds: int = 5
    timer: Callable[[], float] = time.perf_counter
    artifact_dir: Path | None = None
    calibration_batches: int = 8

    def artifact_path(self, variant: str, suffix: str) -> Path:
        root = self.artifact_dir or Path(tempfile.mkdtemp(prefix="qpbench-artifacts-"))
        root.mkdir(parents=True, exist_ok=True)
        return root / f"{self.workload.name.replace(':', '_').replace('/', '_')}-{variant}{suffix}"


@dataclass
class Variant:
    """A runnable ``(image, params) -> (N,)`` plus what the run must know about it."""

    name: str
    module: Any  # a torch.nn.Module or any callable with the model's signature
    description: str
    threads: int | None = None  # intra-op threads it runs with; None: torch's default
    cpus: list[int] | None = None  # CPU affinity it runs with; None: unchanged
    channels_last: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    build_time_s: float = 0.0
    artifact_bytes: int | None = None

    def __call__(self, image: Any, params: Any) -> Any:
        import torch

        with torch.inference_mode():
            if self.channels_last:
                image = image.contiguous(memory_format=torch.channels_last)
            return self.module(image, params).reshape(-1)

    @contextlib.contextmanager
    def runtime(self) -> Iterator[None]:
        """The global settings this variant runs under, restored on exit."""
        from qpbench.optimize.affinity import cpu_affinity
        from qpbench.optimize.threads import thread_settings

        with cpu_affinity(self.cpus), thread_settings(self.threads):
            yield

    def info(self) -> VariantInfo:
        return VariantInfo(self.name, self.description, self.build_time_s, self.artifact_bytes, dict(self.meta))

    def rebuild_options(self) -> dict[str, Any]:
        """Options that make a builder in another process rebuild this variant as is."""
        options: dict[str, Any] = {"threads": self.threads, "channels_last": self.channels_last, "cpus": self.cpus}
        for key in ("artifact", "runtime", "hint"):  # what was built, and what serves it (torch or not)
            if self.meta.get(key):
                options[key] = self.meta[key]
        return options


@dataclass(frozen=True)
class VariantSpec:
    """A variant's name and builder: a callable, or its import path 'module:function'
    (imported only when the variant is built, so heavy optional packages load lazily)."""

    name: str
    description: str
    builder: Callable[[BuildContext], Variant] | str
    quantized: bool = False  # judged by the quantization rule too

    def resolve(self) -> Callable[[BuildContext], Variant]:
        return builder_from_path(self.builder) if isinstance(self.builder, str) else self.builder

    @property
    def builder_path(self) -> str | None:
        """'module:qualname' when a fresh process can import the builder, else None."""
        if isinstance(self.builder, str):
            return self.builder
        module = getattr(self.builder, "__module__", None)
        qualname = getattr(self.builder, "__qualname__", "")
        if not module or module == "__main__" or "<" in qualname:
            return None
        return f"{module}:{qualname}"


def serialized_size(module: Any) -> int | None:
    """Bytes of the module's state_dict saved with torch.save: the artifact a deployment ships."""
    import torch

    if not isinstance(module, torch.nn.Module):
        return None
    fd, path = tempfile.mkstemp(suffix=".pt")
    os.close(fd)
    try:
        torch.save(module.state_dict(), path)
        return os.path.getsize(path)
    finally:
        os.unlink(path)


def median_call_s(run: Callable[[], object], rounds: int, timer: Callable[[], float]) -> float:
    run()  # warm-up: first calls allocate and pick kernels
    times = []
    for _ in range(rounds):
        start = timer()
        run()
        times.append(timer() - start)
    return statistics.median(times)


def build_eager(ctx: BuildContext) -> Variant:
    """The fp32 reference: the model as trained, eval mode, inference mode."""
    import torch

    model = ctx.workload.build_model()
    return Variant(
        name="eager",
        module=model,
        description="fp32 reference: eval() + inference_mode",
        threads=ctx.options.get("threads"),
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

    channels_last = ctx.options.get("channels_last")
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
        threads = ctx.options.get("threads")
        if threads is None:
            sweep = sweep_threads(runner(model, channels_last), candidate_thread_counts(),
                                  rounds=ctx.sweep_rounds, timer=ctx.timer)
            threads = sweep.best
            meta["thread_sweep_median_s"] = {str(k): v for k, v in sweep.median_s.items()}
        # Pin to as many cores as threads when that leaves cores free; pinning
        # all allowed cores would change nothing.
        cpus = ctx.options.get("cpus")
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


BUILTIN_VARIANTS = (
    VariantSpec("eager", "fp32 reference (eval + inference_mode)", build_eager),
    VariantSpec("optimized", "Conv+BN folding, channels_last, thread sweep, affinity, warm-up", build_optimized),
    VariantSpec("torchscript", "TorchScript script/trace + freeze + optimize_for_inference (legacy)",
                "qpbench.optimize.torchscript:build_torchscript"),
    VariantSpec("compiled", "torch.compile (inductor, weights frozen, dynamic batch)",
                "qpbench.optimize.compile:build_compiled"),
    VariantSpec("aoti", "torch.export + AOTInductor package (fp32, frozen)", "qpbench.optimize.export:build_aoti"),
    VariantSpec("pruned", "global L1 magnitude pruning, made permanent (dense storage)",
                "qpbench.optimize.prune:build_pruned"),
    VariantSpec("dynamic-int8", "dynamic int8 of the Linear layers (torch.ao, legacy)",
                "qpbench.optimize.quantize:build_dynamic_int8", quantized=True),
    VariantSpec("fx-int8", "static int8, FX graph mode, calibrated (torch.ao, legacy) + TorchScript freeze",
                "qpbench.optimize.quantize:build_fx_int8", quantized=True),
    VariantSpec("pt2e-int8", "static int8, PT2E X86InductorQuantizer (torchao), calibrated, AOTInductor",
                "qpbench.optimize.quantize:build_pt2e_int8", quantized=True),
    VariantSpec("qat-int8", "quantization-aware fine-tune (PT2E) on pipeline-made data, AOTInductor",
                "qpbench.optimize.qat:build_qat_int8", quantized=True),
    VariantSpec("onnx-fp32", "ONNX (dynamo exporter, dynamic batch) + ONNX Runtime CPU, fp32",
                "qpbench.optimize.onnx_variants:build_onnx_fp32"),
    VariantSpec("onnx-int8", "ONNX Runtime static int8 (quantize_static QDQ, per-channel, calibrated)",
                "qpbench.optimize.onnx_variants:build_onnx_int8", quantized=True),
    VariantSpec("openvino-fp32", "OpenVINO IR from torch.export, CPU, fp32, latency hint",
                "qpbench.optimize.openvino_variants:build_openvino_fp32"),
    VariantSpec("openvino-fp32-tput", "OpenVINO IR, CPU, fp32, throughput hint (streams, async requests)",
                "qpbench.optimize.openvino_variants:build_openvino_fp32_tput"),
    VariantSpec("openvino-int8", "OpenVINO int8 through nncf.quantize (calibrated), CPU, latency hint",
                "qpbench.optimize.openvino_variants:build_openvino_int8", quantized=True),
)
REFERENCE = "eager"


class VariantRegistry:
    def __init__(self, specs: tuple[VariantSpec, ...] = BUILTIN_VARIANTS) -> None:
        self._specs: dict[str, VariantSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: VariantSpec) -> None:
        if spec.name in self._specs:
            raise VariantError(f"variant {spec.name!r} is registered twice")
        self._specs[spec.name] = spec

    def names(self) -> list[str]:
        return list(self._specs)

    def get(self, name: str) -> VariantSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise VariantError(f"unknown variant {name!r}: choose from {self.names()}") from None


def build_variant(spec: VariantSpec, ctx: BuildContext) -> Variant:
    start = ctx.timer()
    variant = spec.resolve()(ctx)
    variant.build_time_s = ctx.timer() - start
    if variant.artifact_bytes is None:
        variant.artifact_bytes = serialized_size(variant.module)
    variant.name = spec.name
    variant.meta.setdefault("quantized", spec.quantized)
    variant.meta.setdefault("threads", variant.threads)  # what it ran with: a deployment package carries it
    return variant


def builder_from_path(path: str) -> Callable[[BuildContext], Variant]:
    return import_object(path, what="variant builder")


class VariantCache:
    """Builds each variant once per session; remembers build failures."""

    def __init__(
        self,
        registry: VariantRegistry,
        workload_fn: Callable[[], Workload],
        sweep_rounds: int = 5,
        artifact_dir: Path | None = None,
        calibration_batches: int = 8,
    ) -> None:
        self.registry = registry
        self._workload_fn = workload_fn
        self._sweep_rounds = sweep_rounds
        self._artifact_dir = artifact_dir
        self._calibration_batches = calibration_batches
        self._built: dict[str, Variant] = {}
        self._failed: dict[str, VariantInfo] = {}

    def get(self, name: str) -> Variant:
        if name in self._built:
            return self._built[name]
        if name in self._failed:
            failed = self._failed[name]
            if failed.skipped:
                raise VariantUnavailable(failed.skipped)
            raise VariantError(f"variant {name!r} could not be built: {failed.error}")
        spec = self.registry.get(name)
        ctx = BuildContext(self._workload_fn(), sweep_rounds=self._sweep_rounds, artifact_dir=self._artifact_dir,
                           calibration_batches=self._calibration_batches)
        try:
            variant = build_variant(spec, ctx)
        except VariantUnavailable as exc:
            self._failed[name] = VariantInfo(name, spec.description, 0.0, None, skipped=str(exc))
            raise
        except Exception as exc:
            self._failed[name] = VariantInfo(name, spec.description, 0.0, None, error=f"{type(exc).__name__}: {exc}")
            raise VariantError(f"variant {name!r} could not be built: {exc!r}") from exc
        self._built[name] = variant
        return variant

    def infos(self) -> list[VariantInfo]:
        return [v.info() for v in self._built.values()] + list(self._failed.values())
