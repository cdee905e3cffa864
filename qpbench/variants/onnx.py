"""ONNX Runtime variants: fp32 and static int8 (QDQ, per-channel), served without torch.

- Export: ``torch.onnx.export(..., dynamo=True)`` (the maintained exporter) with a
  dynamic batch dimension, inputs ``image`` and ``params``, output ``ssim``.
- ``onnx-fp32``: the exported graph in an ONNX Runtime CPU session with all
  graph optimizations (``qpbench.runtime.backends.OnnxRuntimeBackend``: the same
  code serves it in a deployment package).
- ``onnx-int8``: ``onnxruntime.quantization.quantize_static`` (QDQ format,
  per-channel int8 weights, uint8 activations, MinMax) calibrated on real
  samples of the evaluation set (``ctx.workload.calibration_batches``).

The session's intra-op thread count comes from a sweep over the cores this
process may use, like the ``optimized`` variant's (``options.threads``
fixes it). Given ``options.artifact`` a builder loads that file instead of
exporting again: the memory worker serves it in a process without torch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from qpbench.runtime.backends import INPUT_NAMES, OUTPUT_NAME, OnnxRuntimeBackend, require, runtime_version
from qpbench.errors import VariantUnavailable
from qpbench.optimize.compile import first_line, recorded_warnings
from qpbench.optimize.threads import candidate_thread_counts, fastest
from qpbench.timing import median_call_s
from qpbench.variants.base import BuildContext, Variant, given_artifact


class RunnerModule:
    """Adapts a torch-free backend (the one deployment packages use, ``qpbench.runtime.backends``)
    to the variant interface: torch tensors in, a torch tensor out.

    Every call is timed as the model's, so it adds no work of its own: a tensor that needs no
    grad shares its memory with the array handed to the runtime (no copy), and the runtime's
    (N,) float32 output is wrapped, not converted (``Variant`` skips inference_mode for it)."""

    serves_numpy = True  # Variant.__call__ calls it directly: no autograd state to switch off

    def __init__(self, runner: Any) -> None:
        self.runner = runner

    @staticmethod
    def _array(tensor: Any) -> np.ndarray:
        if isinstance(tensor, np.ndarray):
            return tensor
        return tensor.detach().numpy() if tensor.requires_grad else tensor.numpy()

    def __call__(self, image: Any, params: Any) -> Any:
        import torch

        out = self.runner.run(self._array(image), self._array(params))
        return torch.from_numpy(out if out.dtype == np.float32 else out.astype(np.float32))


def require_onnx() -> None:
    """onnx, onnxscript (the exporter's dependencies) and onnxruntime, or VariantUnavailable."""
    try:
        for module in ("onnxruntime", "onnx", "onnxscript"):
            require(module, "onnx")
    except ImportError as exc:
        raise VariantUnavailable(str(exc)) from exc


def export_onnx(ctx: BuildContext, path: Path) -> Path:
    """Export the workload's model with a dynamic batch; write atomically to ``path``."""
    import torch

    model = ctx.workload.build_model()
    example = ctx.workload.example_batch(2)
    batch = torch.export.Dim("batch", min=1, max=1024)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".onnx-", dir=path.parent))
    try:
        tmp = tmp_dir / path.name
        try:
            program = torch.onnx.export(
                model, example, input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                dynamic_shapes={"image": {0: batch}, "params": {0: batch}}, dynamo=True,
                external_data=False, optimize=True, verbose=False,
            )
            program.save(str(tmp), external_data=False)
        except Exception as exc:
            raise VariantUnavailable(f"torch.onnx.export (dynamo) cannot export the model: {first_line(exc)}") from exc
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return path


class CalibrationReader:
    """Feeds real samples to ``quantize_static`` (an onnxruntime CalibrationDataReader)."""

    def __init__(self, batches: list[tuple[Any, Any]]) -> None:
        self._batches = [{"image": i.numpy(), "params": p.numpy()} for i, p in batches]
        self._it = iter(self._batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self._batches)


def quantize_onnx(ctx: BuildContext, fp32: Path, path: Path, meta: dict[str, Any]) -> Path:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = ctx.workload.calibration_batches(ctx.calibration_batches, 8)
    meta["calibration_samples"] = sum(int(i.shape[0]) for i, _ in batches)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".onnx-int8-", dir=path.parent))
    try:
        prepared = tmp_dir / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        out = tmp_dir / path.name
        quantize_static(
            str(prepared), str(out), CalibrationReader(batches), quant_format=QuantFormat.QDQ,
            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        os.replace(out, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    meta["quantization"] = "quantize_static: QDQ, per-channel int8 weights, uint8 activations, MinMax"
    return path


def sweep_runner_threads(make: Any, example: tuple[np.ndarray, np.ndarray], ctx: BuildContext,
                         meta: dict[str, Any]) -> tuple[Any, int]:
    """Build a runner at each candidate thread count, keep the fastest at batch 1 (ties: fewer threads)."""
    fixed = ctx.options.threads
    if fixed is not None:
        return make(int(fixed)), int(fixed)
    medians: dict[int, float] = {}
    runners: dict[int, Any] = {}
    for n in candidate_thread_counts():
        runners[n] = make(n)
        medians[n] = median_call_s(lambda r=runners[n]: r.run(*example), ctx.sweep_rounds, ctx.timer)
    best = fastest(medians)
    meta["thread_sweep_median_s"] = {str(k): v for k, v in medians.items()}
    return runners[best], best


def numpy_example(ctx: BuildContext) -> tuple[np.ndarray, np.ndarray]:
    image, params = ctx.workload.example_batch(1)
    return image.numpy(), params.numpy()


def _build(ctx: BuildContext, name: str, int8: bool) -> Variant:
    require_onnx()
    meta: dict[str, Any] = {"runtime": "onnxruntime", "onnxruntime": runtime_version("onnxruntime"), "legacy": False,
                            "graph_optimization": "ORT_ENABLE_ALL", "exporter": "torch.onnx.export(dynamo=True)"}
    artifact = given_artifact(ctx)
    meta["loaded_from_artifact"] = artifact is not None
    if artifact is None:
        start = time.perf_counter()
        with recorded_warnings(meta):
            fp32 = export_onnx(ctx, ctx.artifact_path("onnx-fp32", ".onnx"))
            artifact = quantize_onnx(ctx, fp32, ctx.artifact_path(name, ".onnx"), meta) if int8 else fp32
        meta["compile_time_s"] = time.perf_counter() - start
    runner, threads = sweep_runner_threads(lambda n: OnnxRuntimeBackend.load(artifact, n), numpy_example(ctx), ctx, meta)
    meta["intra_op_threads"] = runner.intra_op_threads
    meta["artifact"] = str(artifact)
    description = ("ONNX Runtime int8 (quantize_static QDQ, per-channel, calibrated)" if int8
                   else "ONNX (dynamo exporter) + ONNX Runtime fp32, all graph optimizations")
    return Variant(name=name, module=RunnerModule(runner), description=description, threads=threads, meta=meta,
                   artifact_bytes=os.path.getsize(artifact))


def build_onnx_fp32(ctx: BuildContext) -> Variant:
    return _build(ctx, "onnx-fp32", int8=False)


def build_onnx_int8(ctx: BuildContext) -> Variant:
    return _build(ctx, "onnx-int8", int8=True)
