"""ONNX Runtime and OpenVINO variants on the tiny model of test_quantize.

Tolerances: fp32 paths compute the same float32 graph as PyTorch with other
kernels and summation orders, so outputs agree to 1e-5 (OpenVINO is asked
for f32 explicitly; with its default bf16 on CPUs that have it, they would
differ by ~1e-3). The int8 paths use test_quantize's bounds against fp32
(max |diff| < 0.1, mean < 0.03, correlation > 0.95) and must shrink the
artifact below 0.6x the fp32 state_dict.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from qpbench.errors import VariantUnavailable
from qpbench.variants import onnx as onnx_variants
from qpbench.variants import openvino as openvino_variants
from qpbench.runtime.backends import TORCH_FREE, OnnxRuntimeBackend, OpenVINOBackend, require
from qpbench.variants import BUILTIN_VARIANTS, serialized_size
from qpbench.workload import import_object
from tests.test_quantize import assert_artifact_smaller_than_fp32, assert_close_to_fp32, context, reference_and_inputs

FP32_ATOL = 1e-5


def assert_fp32_equal(variant, ctx) -> None:
    ref, image, params = reference_and_inputs(ctx)
    torch.testing.assert_close(variant(image, params), ref, rtol=0, atol=FP32_ATOL)


@pytest.fixture(scope="module")
def onnx_fp32(tmp_path_factory):
    ctx = context(tmp_path_factory.mktemp("onnx"), threads=1)
    return ctx, onnx_variants.build_onnx_fp32(ctx)


def test_onnx_fp32_matches_pytorch_and_reloads_from_its_artifact(onnx_fp32, tmp_path):
    ctx, variant = onnx_fp32
    assert variant.meta["runtime"] == "onnxruntime" and variant.meta["artifact"].endswith(".onnx")
    assert_fp32_equal(variant, ctx)
    # dynamic batch: any batch size runs on the one exported graph
    _, image, params = reference_and_inputs(ctx)
    assert variant(image[:1], params[:1]).shape == (1,) and variant(image[:5], params[:5]).shape == (5,)
    loaded = onnx_variants.build_onnx_fp32(context(tmp_path, **variant.rebuild_options()))
    assert loaded.meta["loaded_from_artifact"] and loaded.artifact_bytes == variant.artifact_bytes
    assert_fp32_equal(loaded, ctx)


def test_onnx_int8_is_close_to_fp32_and_smaller(tmp_path):
    ctx = context(tmp_path, threads=1)
    variant = onnx_variants.build_onnx_int8(ctx)
    assert variant.meta["calibration_samples"] == 16  # 2 batches of 8 real samples
    assert "QDQ" in variant.meta["quantization"]
    assert_close_to_fp32(variant, ctx)
    assert_artifact_smaller_than_fp32(variant, ctx)


@pytest.mark.slow
@pytest.mark.parametrize("hint", ["LATENCY", "THROUGHPUT"])
def test_openvino_fp32_matches_pytorch(tmp_path, hint):
    ctx = context(tmp_path, threads=1)
    build = openvino_variants.build_openvino_fp32 if hint == "LATENCY" else openvino_variants.build_openvino_fp32_tput
    variant = build(ctx)
    assert variant.meta["hint"] == hint and variant.meta["precision"] == "f32"
    assert variant.meta["artifact"].endswith(".xml") and variant.artifact_bytes > 0
    assert_fp32_equal(variant, ctx)  # the throughput variant spreads this batch over its async requests


@pytest.mark.slow
def test_openvino_int8_is_close_to_fp32_and_smaller(tmp_path):
    ctx = context(tmp_path, threads=1)
    variant = openvino_variants.build_openvino_int8(ctx)
    assert variant.meta["calibration_samples"] == 16
    assert_close_to_fp32(variant, ctx)
    xml = Path(variant.meta["artifact"])  # an IR is two files: the graph (.xml) and the weights (.bin)
    assert variant.artifact_bytes == xml.stat().st_size + xml.with_suffix(".bin").stat().st_size
    assert variant.artifact_bytes < 0.6 * serialized_size(ctx.workload.build_model())


def test_thread_settings_are_honoured(onnx_fp32, tmp_path):
    _, variant = onnx_fp32
    path = variant.meta["artifact"]
    assert variant.threads == 1 and variant.meta["intra_op_threads"] == 1
    assert OnnxRuntimeBackend.load(path, threads=1).intra_op_threads == 1
    assert OnnxRuntimeBackend.load(path, threads=2).intra_op_threads == 2
    ctx = context(tmp_path, threads=1)
    xml = openvino_variants.build_openvino_fp32(ctx).meta["artifact"]
    assert OpenVINOBackend.load(xml, threads=1).inference_threads == 1
    assert OpenVINOBackend.load(xml, threads=2).inference_threads == 2
    with pytest.raises(ValueError, match="threads must be >= 1"):
        OnnxRuntimeBackend.load(path, threads=0)


def test_without_fixed_threads_the_builder_sweeps_and_records_it(tmp_path, onnx_fp32):
    _, built = onnx_fp32
    ctx = context(tmp_path, artifact=built.meta["artifact"])
    ctx.sweep_rounds = 1
    variant = onnx_variants.build_onnx_fp32(ctx)
    sweep = variant.meta["thread_sweep_median_s"]
    assert "1" in sweep and variant.threads in {int(k) for k in sweep}
    assert variant.meta["intra_op_threads"] == variant.threads


@pytest.mark.parametrize(
    ("builder", "missing"),
    [
        (onnx_variants.build_onnx_fp32, "onnxruntime"),
        (onnx_variants.build_onnx_int8, "onnxscript"),
        (openvino_variants.build_openvino_fp32, "openvino"),
        (openvino_variants.build_openvino_int8, "nncf"),
    ],
)
def test_a_missing_package_skips_the_variant_with_the_install_hint(tmp_path, monkeypatch, builder, missing):
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import <missing>` raise ImportError
    with pytest.raises(VariantUnavailable, match=rf"{missing} is not available.*pip install 'qpbench\[\w+\]'"):
        builder(context(tmp_path))


def test_require_names_the_extra():
    with pytest.raises(ImportError, match=r"no_such_runtime is not available .*qpbench\[onnx\]"):
        require("no_such_runtime", "onnx")


def test_an_export_failure_skips_the_variant_with_the_reason(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("unsupported operator aten::frobnicate")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    with pytest.raises(VariantUnavailable, match="cannot export the model: RuntimeError: unsupported operator"):
        onnx_variants.build_onnx_fp32(context(tmp_path))
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob(".onnx-*"))  # nothing half-written


def test_missing_artifacts_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="ONNX model .*nope.onnx does not exist"):
        OnnxRuntimeBackend.load(tmp_path / "nope.onnx")
    with pytest.raises(FileNotFoundError, match="OpenVINO IR .*nope.xml"):
        OpenVINOBackend.load(tmp_path / "nope.xml")
    with pytest.raises(ValueError, match="unknown OpenVINO performance hint 'FAST'"):
        OpenVINOBackend.load(tmp_path / "nope.xml", hint="FAST")


@pytest.mark.slow
def test_concurrent_calls_on_one_openvino_variant_equal_serial(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    ctx = context(tmp_path, threads=1)
    variant = openvino_variants.build_openvino_fp32(ctx)
    _, image, params = reference_and_inputs(ctx)
    serial = [variant(image[i : i + 1], params[i : i + 1]) for i in range(8)]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda i: variant(image[i : i + 1], params[i : i + 1]), range(8)))
    for a, b in zip(serial, parallel):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_builtin_runtime_variants_are_registered():
    names = {spec.name: spec for spec in BUILTIN_VARIANTS}
    for name in ("onnx-fp32", "onnx-int8", "openvino-fp32", "openvino-fp32-tput", "openvino-int8"):
        assert name in names
    assert names["onnx-int8"].quantized and names["openvino-int8"].quantized
    assert not names["onnx-fp32"].quantized
    assert TORCH_FREE == {"onnxruntime": "onnx", "openvino": "openvino"}


@pytest.mark.slow
def test_memory_of_a_runtime_variant_is_measured_in_a_process_without_torch(tiny_files, monkeypatch, tmp_path):
    """The worker serves the .onnx with onnxruntime alone: its baseline is far below a torch import's."""
    from qpbench.measure.memory import measure_memory
    from qpbench.workload import WorkloadSpec, load_workload

    monkeypatch.syspath_prepend(str(tiny_files["module"].parent))
    sys.modules.pop("tinymodel", None)
    workload = load_workload(WorkloadSpec("tiny", "tinymodel:build", str(tiny_files["checkpoint"]),
                                          str(tiny_files["dataset"]), 16))
    from qpbench.variants import BuildContext

    variant = onnx_variants.build_onnx_fp32(BuildContext(workload, options={"threads": 1}, artifact_dir=tmp_path))
    options = variant.rebuild_options()
    assert options["runtime"] == "onnxruntime" and options["artifact"] == variant.meta["artifact"]
    served = measure_memory(workload, "onnx-fp32", "qpbench.variants.onnx:build_onnx_fp32", options,
                            batch_size=2, iterations=3)
    assert served.torch_build.startswith("torch not imported (onnxruntime")
    assert served.batch_size == 2 and served.baseline_rss_mb <= served.peak_rss_mb
    assert served.rss_anon_mb > 0 and served.rss_file_mb > 0
    with_torch = measure_memory(workload, "eager", "qpbench.variants:build_eager", {"threads": 1},
                                batch_size=2, iterations=3)
    # The same machine, the same model: the process without torch needs a fraction of the one with it.
    assert served.peak_rss_mb < 0.6 * with_torch.baseline_rss_mb, (served, with_torch)


@pytest.mark.slow
@pytest.mark.parametrize("builder", ["build_onnx_fp32", "openvino:build_openvino_fp32"])
def test_stress_and_concurrency_of_a_runtime_variant_run_without_torch(tiny_files, monkeypatch, tmp_path, builder):
    """As a deployment serves it: the worker imports the runtime alone (it raises if torch came in),
    and its baseline is far below a torch process's."""
    from qpbench.measure.concurrency import measure_concurrency
    from qpbench.measure.stress import measure_stress
    from qpbench.variants import BuildContext
    from qpbench.workload import WorkloadSpec, load_workload

    monkeypatch.syspath_prepend(str(tiny_files["module"].parent))
    sys.modules.pop("tinymodel", None)
    workload = load_workload(WorkloadSpec("tiny", "tinymodel:build", str(tiny_files["checkpoint"]),
                                          str(tiny_files["dataset"]), 16))
    module, _, name = builder.rpartition(":")
    path = f"qpbench.variants.{module or 'onnx'}:{name}"
    build = import_object(path)
    try:
        variant = build(BuildContext(workload, options={"threads": 1}, artifact_dir=tmp_path))
    except VariantUnavailable as exc:
        pytest.skip(str(exc))
    options = variant.rebuild_options()
    stress = measure_stress(workload, variant.name, path, options, batch_size=1, iterations=50, warmup=5)
    torch_stress = measure_stress(workload, "eager", "qpbench.variants:build_eager", {"threads": 1}, batch_size=1,
                                  iterations=50, warmup=5)
    assert len(stress.latencies_s) == 50 + stress.extended  # twice as many when a trend had to be confirmed
    assert stress.peak_rss_mb < 0.6 * torch_stress.baseline_rss_mb
    runs = measure_concurrency(workload, variant.name, path, options, batch_size=1, thread_counts=(1, 2),
                               processes=(), duration_s=0.2)
    assert [r.threads for r in runs] == [1, 2] and all(r.latencies_s and not r.errors and not r.mismatches
                                                      for r in runs)
