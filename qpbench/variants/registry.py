"""The built-in variants, the registry users add theirs to, and the per-run build cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qpbench.errors import VariantError, VariantUnavailable
from qpbench.files import SAFE_NAME_RULE, is_safe_name
from qpbench.variant_info import VariantInfo
from qpbench.variants.artifacts import run_artifact_dir
from qpbench.variants.base import BuildContext, Variant, VariantSpec, build_variant
from qpbench.variants.eager import build_eager, build_optimized
from qpbench.workload import Workload


BUILTIN_VARIANTS = (
    VariantSpec("eager", "fp32 reference (eval + inference_mode)", build_eager),
    VariantSpec("optimized", "Conv+BN folding, channels_last, thread sweep, affinity, warm-up", build_optimized),
    VariantSpec("torchscript", "TorchScript script/trace + freeze + optimize_for_inference (legacy)",
                "qpbench.variants.torchscript:build_torchscript"),
    VariantSpec("compiled", "torch.compile (inductor, weights frozen, dynamic batch)",
                "qpbench.variants.compiled:build_compiled"),
    VariantSpec("aoti", "torch.export + AOTInductor package (fp32, frozen)", "qpbench.variants.compiled:build_aoti"),
    VariantSpec("pruned", "global L1 magnitude pruning, made permanent (dense storage)",
                "qpbench.variants.pruned:build_pruned"),
    VariantSpec("dynamic-int8", "dynamic int8 of the Linear layers (torch.ao, legacy)",
                "qpbench.variants.quantized:build_dynamic_int8", quantized=True),
    VariantSpec("fx-int8", "static int8, FX graph mode, calibrated (torch.ao, legacy) + TorchScript freeze",
                "qpbench.variants.quantized:build_fx_int8", quantized=True),
    VariantSpec("pt2e-int8", "static int8, PT2E X86InductorQuantizer (torchao), calibrated, AOTInductor",
                "qpbench.variants.quantized:build_pt2e_int8", quantized=True),
    VariantSpec("qat-int8", "quantization-aware fine-tune (PT2E) on pipeline-made data, AOTInductor",
                "qpbench.variants.qat:build_qat_int8", quantized=True),
    VariantSpec("onnx-fp32", "ONNX (dynamo exporter, dynamic batch) + ONNX Runtime CPU, fp32",
                "qpbench.variants.onnx:build_onnx_fp32"),
    VariantSpec("onnx-int8", "ONNX Runtime static int8 (quantize_static QDQ, per-channel, calibrated)",
                "qpbench.variants.onnx:build_onnx_int8", quantized=True),
    VariantSpec("openvino-fp32", "OpenVINO IR from torch.export, CPU, fp32, latency hint",
                "qpbench.variants.openvino:build_openvino_fp32"),
    VariantSpec("openvino-fp32-tput", "OpenVINO IR, CPU, fp32, throughput hint (streams, async requests)",
                "qpbench.variants.openvino:build_openvino_fp32_tput"),
    VariantSpec("openvino-int8", "OpenVINO int8 through nncf.quantize (calibrated), CPU, latency hint",
                "qpbench.variants.openvino:build_openvino_int8", quantized=True),
    VariantSpec("openvino-bf16", "OpenVINO IR, CPU, bf16 inference precision, latency hint (native bf16 CPUs only)",
                "qpbench.variants.bf16:build_openvino_bf16"),
    VariantSpec("aoti-bf16", "bf16 weights and activations, torch.export + AOTInductor (native bf16 CPUs only)",
                "qpbench.variants.bf16:build_aoti_bf16"),
)




class VariantRegistry:
    def __init__(self, specs: tuple[VariantSpec, ...] = BUILTIN_VARIANTS) -> None:
        self._specs: dict[str, VariantSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: VariantSpec) -> None:
        if not is_safe_name(spec.name):  # it names the variant's artifact directory and report rows
            raise VariantError(f"variant name {spec.name!r} must be {SAFE_NAME_RULE}")
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


class VariantCache:
    """Builds each variant once per session; remembers build failures."""

    def __init__(
        self,
        registry: VariantRegistry,
        workload_fn: Callable[[], Workload],
        sweep_rounds: int = 5,
        artifact_dir: Path | None = None,  # the root: each run (each cache) writes into a new directory under it
        calibration_batches: int = 8,
    ) -> None:
        self.registry = registry
        self._workload_fn = workload_fn
        self._sweep_rounds = sweep_rounds
        self._artifact_root = artifact_dir
        self._artifact_dir: Path | None = None  # this run's own directory under it, made on the first build
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
        if self._artifact_dir is None and self._artifact_root is not None:
            self._artifact_dir = run_artifact_dir(self._artifact_root)
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
