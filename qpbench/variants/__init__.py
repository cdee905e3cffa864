"""Variants: named, lazily built, cached runnables with their build metadata.

``base`` has the types (``BuildContext``, ``Variant``, ``VariantSpec``) and
``build_variant``; ``registry`` the built-in variants, the registry users add
theirs to (``pytest_qpbench_register_variants``) and the per-run build cache;
one module per builder family: ``eager`` (the reference and the CPU-tuned fp32
model), ``torchscript``, ``compiled`` (torch.compile, AOTInductor), ``pruned``,
``quantized`` (dynamic, FX and PT2E int8), ``qat``, ``onnx``, ``openvino``.
Builders turn a model into a runnable with the transforms of
``qpbench.optimize``; they are module-level functions so a fresh process can
import them by path. Heavy packages (torch, torchao, the runtimes) are imported
when a variant is built, never when this package is imported.
"""

from qpbench.variant_info import REFERENCE
from qpbench.variants.options import BuildOptions
from qpbench.variants.base import BuildContext, Variant, VariantSpec, build_variant, builder_from_path, serialized_size
from qpbench.variants.eager import build_eager, build_optimized
from qpbench.variants.registry import BUILTIN_VARIANTS, VariantCache, VariantRegistry

__all__ = [
    "BUILTIN_VARIANTS", "REFERENCE", "BuildContext", "BuildOptions", "Variant", "VariantCache", "VariantRegistry",
    "VariantSpec", "build_eager", "build_optimized", "build_variant", "builder_from_path", "serialized_size",
]
