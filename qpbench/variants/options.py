"""What a variant builder may be told (``BuildOptions``): part of every build's cache key, so it
lives beside the builders, not in the run's settings (config.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from qpbench.errors import ConfigError


@dataclass(frozen=True)
class BuildOptions:
    """What a variant builder may be told, with each option's default.

    A fresh process (the memory, stress and concurrency workers) gets the built
    variant's ``rebuild_options()`` so it rebuilds the same thing without
    re-measuring: ``threads``, ``cpus``, ``channels_last`` and, for variants with
    a serialized artifact, ``artifact`` (a path to load instead of building),
    ``runtime``, ``hint`` and ``precision``. The others tune one builder each.
    """

    threads: int | None = None  # intra-op threads; None: measured by a sweep (or torch's default)
    cpus: tuple[int, ...] | None = None  # CPU affinity; None: chosen by the builder
    channels_last: bool | None = None  # None: whichever layout measures faster
    artifact: str | None = None  # load this file instead of building
    runtime: str | None = None  # what serves the artifact (onnxruntime, openvino, aoti, ...)
    hint: str | None = None  # OpenVINO performance hint
    precision: str | None = None  # OpenVINO inference precision of the built artifact (f32, bf16)
    sparsity: float = 0.3  # pruned: fraction of Conv2d+Linear weights set to zero
    fold: bool = True  # pruned: fold Conv+BN first
    dynamic_batch: bool = True  # aoti: export with a dynamic batch (False: batch 1 only)
    package: str = "aoti"  # pt2e-int8 / qat-int8: aoti, compile or eager
    compile_batch_sizes: tuple[int, ...] = (1, 8, 16)  # compiled: one example batch per guard range
    qat_steps: int = 30
    qat_lr: float = 1e-5
    qat_freeze_bn: bool = True
    qat_images: int = 96

    @classmethod
    def from_dict(cls, options: Mapping[str, Any] | None) -> "BuildOptions":
        options = dict(options or {})
        unknown = sorted(set(options) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"unknown variant options {unknown}: choose from {[f.name for f in fields(cls)]}")
        for name in ("cpus", "compile_batch_sizes"):
            if options.get(name) is not None:
                options[name] = tuple(int(x) for x in options[name])
        return cls(**options)
