"""OpenVINO variants: fp32 with a latency or a throughput hint, and int8 through NNCF.

- Conversion: ``openvino.convert_model`` from a strict ``torch.export``
  ExportedProgram with a dynamic batch (converting the nn.Module directly
  traces with TorchScript, deprecated), saved as IR (.xml + .bin, weights kept
  in fp32: ``compress_to_fp16=False``).
- ``openvino-fp32``: compiled for CPU with ``PERFORMANCE_HINT=LATENCY``.
- ``openvino-fp32-tput``: ``PERFORMANCE_HINT=THROUGHPUT`` (CPU streams); a
  batch is served as single-sample requests spread over the streams.
- ``openvino-int8``: ``nncf.quantize`` of the IR, calibrated on real samples of
  the evaluation set, latency hint.

Thread count from a sweep, as for ONNX Runtime (``options.threads`` fixes
it); ``options.artifact`` loads a saved IR, which the memory worker serves
in a process without torch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from qpbench.runtime.backends import INPUT_NAMES, OpenVINOBackend, require, runtime_version
from qpbench.errors import VariantUnavailable
from qpbench.optimize.compile import first_line, recorded_warnings
from qpbench.optimize.export import export_model
from qpbench.variants.base import BuildContext, Variant, given_artifact
from qpbench.variants.onnx import RunnerModule, numpy_example, sweep_runner_threads


def require_openvino(with_nncf: bool = False) -> Any:
    try:
        ov = require("openvino", "openvino")
        if with_nncf:
            require("nncf", "openvino")
    except ImportError as exc:
        raise VariantUnavailable(str(exc)) from exc
    return ov


def ir_size(xml: Path) -> int:
    return os.path.getsize(xml) + os.path.getsize(xml.with_suffix(".bin"))


def save_ir(ov: Any, model: Any, xml: Path) -> Path:
    """Save an IR pair atomically: both files are written aside, then moved into place (.bin first)."""
    tmp_dir = Path(tempfile.mkdtemp(prefix=".ov-", dir=xml.parent))
    try:
        ov.save_model(model, str(tmp_dir / xml.name), compress_to_fp16=False)
        os.replace(tmp_dir / xml.with_suffix(".bin").name, xml.with_suffix(".bin"))
        os.replace(tmp_dir / xml.name, xml)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return xml


def convert(ctx: BuildContext, ov: Any) -> Any:
    """The workload's model as an OpenVINO model with named inputs and a dynamic batch."""
    exported = export_model(ctx.workload.build_model(), ctx.workload.example_batch(2), dynamic_batch=True)
    try:
        model = ov.convert_model(exported)
    except Exception as exc:
        raise VariantUnavailable(f"openvino.convert_model cannot convert the exported model: {first_line(exc)}") from exc
    for port, name in zip(model.inputs, INPUT_NAMES):
        port.get_tensor().set_names({name})
    return model


def quantize_ir(ctx: BuildContext, model: Any, meta: dict[str, Any]) -> Any:
    import nncf

    batches = ctx.workload.calibration_batches(ctx.calibration_batches, 8)
    items = [[image.numpy(), params.numpy()] for image, params in batches]
    meta["calibration_samples"] = sum(int(i[0].shape[0]) for i in items)
    meta["quantization"] = "nncf.quantize (default preset), calibrated on real samples"
    try:
        return nncf.quantize(model, nncf.Dataset(items), subset_size=len(items))
    except Exception as exc:
        raise VariantUnavailable(f"nncf.quantize failed on the model: {first_line(exc)}") from exc


def _build(ctx: BuildContext, name: str, hint: str, int8: bool, precision: str = "f32") -> Variant:
    ov = require_openvino(with_nncf=int8 and given_artifact(ctx) is None)
    meta: dict[str, Any] = {"runtime": "openvino", "openvino": runtime_version("openvino"), "hint": hint, "legacy": False,
                            "converter": "openvino.convert_model(ExportedProgram)"}
    artifact = given_artifact(ctx)
    meta["loaded_from_artifact"] = artifact is not None
    if artifact is None:
        start = time.perf_counter()
        with recorded_warnings(meta):
            model = convert(ctx, ov)
            if int8:
                model = quantize_ir(ctx, model, meta)
            artifact = save_ir(ov, model, ctx.artifact_path("openvino-int8" if int8 else "openvino-fp32", ".xml"))
        meta["compile_time_s"] = time.perf_counter() - start
    if hint == "THROUGHPUT":
        # Streams split the cores: give OpenVINO all of them (a batch-1 sweep would pick for the wrong goal).
        threads = ctx.options.threads
        runner = OpenVINOBackend.load(artifact, threads, hint, precision)
        threads = runner.inference_threads
    else:
        runner, threads = sweep_runner_threads(lambda n: OpenVINOBackend.load(artifact, n, hint, precision),
                                               numpy_example(ctx), ctx, meta)
    meta.update(artifact=str(artifact), inference_threads=runner.inference_threads, streams=runner.streams,
                precision=runner.precision,
                infer_requests=runner.optimal_requests)
    what = "int8 (NNCF, calibrated)" if int8 else ("bf16 inference precision" if precision == "bf16" else "fp32")
    return Variant(name=name, module=RunnerModule(runner), description=f"OpenVINO {what}, {hint.lower()} hint",
                   threads=threads, meta=meta, artifact_bytes=ir_size(artifact))


def build_openvino_fp32(ctx: BuildContext) -> Variant:
    return _build(ctx, "openvino-fp32", "LATENCY", int8=False)


def build_openvino_fp32_tput(ctx: BuildContext) -> Variant:
    return _build(ctx, "openvino-fp32-tput", "THROUGHPUT", int8=False)


def build_openvino_int8(ctx: BuildContext) -> Variant:
    return _build(ctx, "openvino-int8", "LATENCY", int8=True)


def build_openvino_bf16_ir(ctx: BuildContext) -> Variant:
    """The fp32 IR compiled with bf16 inference precision (no check of the CPU: see variants.bf16)."""
    return _build(ctx, "openvino-bf16", "LATENCY", int8=False, precision="bf16")
