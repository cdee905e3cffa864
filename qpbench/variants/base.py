"""Variants: named, lazily built, cached runnables with their build metadata.

A ``VariantSpec`` names a builder ``(BuildContext) -> Variant``. Builders are
module-level functions so a fresh process (the memory worker) can import them
by path and build the same variant. Users add variants with the
``pytest_qpbench_register_variants`` hook (see ``hookspec.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qpbench.variants.options import BuildOptions
from qpbench.errors import ConfigError, VariantError
from qpbench.variant_info import VariantInfo
from qpbench.variants.artifacts import artifact_paths, file_records, publish, rebase, staged
from qpbench.workload import Workload, import_object


@dataclass
class BuildContext:
    """What a builder gets.

    ``options`` (``qpbench.variants.options.BuildOptions``, or a dict of its fields) are
    overrides; a fresh process (the memory worker) passes the built variant's
    ``rebuild_options()`` so it rebuilds the same thing without re-measuring.
    ``artifact_dir`` is where a builder writes its artifact.
    """

    workload: Workload
    options: BuildOptions = field(default_factory=BuildOptions)
    sweep_rounds: int = 5
    timer: Callable[[], float] = time.perf_counter
    artifact_dir: Path | None = None
    calibration_batches: int = 8

    def __post_init__(self) -> None:
        if not isinstance(self.options, BuildOptions):
            try:
                self.options = BuildOptions.from_dict(self.options)
            except ConfigError as exc:
                raise VariantError(str(exc)) from None

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
    artifact_files: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> sha256, bytes

    def __call__(self, image: Any, params: Any) -> Any:
        if getattr(self.module, "serves_numpy", False):  # a torch-free runtime: (N,) out, no autograd
            return self.module(image, params)
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
        return VariantInfo(self.name, self.description, self.build_time_s, self.artifact_bytes, dict(self.meta),
                           artifact_files=dict(self.artifact_files))

    def rebuild_options(self) -> dict[str, Any]:
        """Options that make a builder in another process rebuild this variant as is."""
        options: dict[str, Any] = {"threads": self.threads, "channels_last": self.channels_last, "cpus": self.cpus}
        for key in ("artifact", "runtime", "hint"):  # what was built, and what serves it (torch or not)
            if self.meta.get(key):
                options[key] = self.meta[key]
        if self.meta.get("runtime") == "openvino" and self.meta.get("precision"):
            options["precision"] = self.meta["precision"]  # a bf16 IR served in f32 is another variant
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
        # A conftest.py's module name is not unique (every folder may have one): another process
        # could import a different one.
        if not module or module in ("__main__", "conftest") or "<" in qualname:
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


def build_variant(spec: VariantSpec, ctx: BuildContext) -> Variant:
    """Build ``spec``; with an ``artifact_dir`` (the run's), its files appear there as
    ``<artifact_dir>/<name>/`` only once the build succeeded, and their sha256 and size are
    recorded (``artifacts.py``)."""
    if ctx.artifact_dir is None:
        variant = _build(spec, ctx)
        variant.artifact_files = file_records(artifact_paths(None, variant.meta))
        return variant
    with staged(ctx.artifact_dir, spec.name) as staging:
        variant = _build(spec, dataclasses.replace(ctx, artifact_dir=staging))
        final = publish(staging, ctx.artifact_dir, spec.name)
    if final is not None:
        variant.meta = rebase(variant.meta, staging, final)
    variant.artifact_files = file_records(artifact_paths(final, variant.meta))
    return variant


def _build(spec: VariantSpec, ctx: BuildContext) -> Variant:
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


def given_artifact(ctx: BuildContext) -> Path | None:
    """``ctx.options["artifact"]`` as a path that exists, or None when not given."""
    given = ctx.options.artifact
    if not given:
        return None
    path = Path(given)
    if not path.is_file():
        raise VariantError(f"artifact {path} does not exist: build the variant again")
    return path
