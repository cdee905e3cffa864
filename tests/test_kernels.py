"""Kernel verification: the parsers on recorded runtime outputs (tests/fixtures/kernels/, taken
from the compact model on an Ice Lake Xeon with AVX-512 VNNI, no AMX, no native bf16), one live
check per runtime on the tiny model, and the silent-fallback detector on a planted fp32
convolution inside a quantized model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from qpbench.config import ScoringConfig
from qpbench.measure import kernels as K
from qpbench.measure.agreement import parse_benchmark_app
from qpbench.measure.isolation import MeasurementError
from qpbench.results import KernelsResult, LatencyResult, Result
from qpbench.schema.codec import dump, load
from qpbench.verdict.scoring import score
from qpbench.variants.base import Variant
from qpbench.variants.onnx import RunnerModule
from tests.test_quantize import context

FIXTURES = Path(__file__).parent / "fixtures" / "kernels"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def kernels(conv: dict[str, int], expected: str = "int8", variant: str = "x-int8", **kw) -> KernelsResult:
    return KernelsResult(variant=variant, source="onnxruntime_profile", expected=expected, conv=conv, matmul={}, **kw)


# -- parsers on recorded outputs --------------------------------------------------------------


def test_onednn_verbose_of_pt2e_int8_counts_int8_convolutions_and_their_isa():
    tally = K.parse_onednn_verbose(fixture_text("onednn_verbose_pt2e-int8.txt"))
    assert tally.conv == {"int8": 8} and tally.matmul == {"int8": 4}
    assert tally.isa() == "avx512_core_vnni"


def test_onednn_verbose_of_an_fp32_convolution():
    tally = K.parse_onednn_verbose(fixture_text("onednn_verbose_fp32_conv.txt"))
    assert tally.conv == {"fp32": 1} and not tally.matmul  # reorders are not counted
    assert tally.isa().startswith("avx512_core")


def test_onednn_verbose_older_format_and_noise():
    text = ("dnnl_verbose,exec,cpu,convolution,jit_int8:avx512_core_vnni,forward_inference,"
            "src_u8::blocked:acdb:f0 wei_s8::blocked:AcdB64a4b:f0 dst_u8::blocked:acdb:f0,,,mb1_ic3oc8,0.1\n"
            "some other line\nonednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32 dst:f32,,,1x2,0.1\n")
    tally = K.parse_onednn_verbose(text)
    assert tally.conv == {"int8": 1} and tally.isa() == "avx512_core_vnni"


def test_torchscript_graph_of_fx_int8_counts_quantized_ops():
    tally = K.parse_torchscript_graph(fixture_text("torchscript_graph_fx_int8.txt"), "x86")
    assert tally.conv == {"int8": 8} and tally.matmul == {"int8": 4}
    assert all(name.endswith(":x86") for name in tally.implementations)


def test_openvino_runtime_model_layers():
    int8 = K.parse_openvino_layers(json.loads(fixture_text("openvino_layers_int8.json")))
    fp32 = K.parse_openvino_layers(json.loads(fixture_text("openvino_layers_fp32.json")))
    bf16 = K.parse_openvino_layers(json.loads(fixture_text("openvino_layers_bf16.json")))
    assert int8.conv == {"int8": 8} and int8.isa() == "brgconv_avx512"
    assert fp32.conv == {"fp32": 8} and fp32.matmul == {"fp32": 4}
    # bf16 asked for on a CPU without native bf16: OpenVINO runs it emulated, it does not refuse
    assert bf16.conv == {"bf16": 8} and bf16.isa() == "jit_avx512"


def test_onnxruntime_profile_node_events():
    int8, providers = K.parse_ort_profile(json.loads(fixture_text("ort_profile_int8.json")))
    fp32, _ = K.parse_ort_profile(json.loads(fixture_text("ort_profile_fp32.json")))
    assert int8.conv == {"int8": 8} and "QLinearConv:CPUExecutionProvider" in int8.implementations
    assert providers == {"CPUExecutionProvider"}
    assert fp32.conv == {"fp32": 8} and fp32.matmul == {"fp32": 4}


def test_benchmark_app_median_in_ms_or_us():
    assert parse_benchmark_app(fixture_text("benchmark_app_int8.txt")) > 0
    assert parse_benchmark_app("[ INFO ]    Median:        197.11 us\n") == pytest.approx(0.19711)
    assert parse_benchmark_app("[ INFO ]    Median:        3.62 ms\n") == pytest.approx(3.62)
    with pytest.raises(MeasurementError, match="Median"):
        parse_benchmark_app("nothing")


# -- the result and its label -------------------------------------------------------------------


def test_label_and_round_trip():
    r = kernels({"int8": 53}, implementations=("brg_conv_fwd:avx512_core_vnni x53",), isa="avx512_core_vnni")
    assert r.label() == "int8 53/53 conv (avx512_core_vnni)" and r.fallback_convs == 0
    assert load(Result, dump(r)) == r
    assert kernels({"int8": 12, "fp32": 41}).label() == "int8 12/53 conv"
    assert kernels({"fp32": 53}, expected="fp32").fallback_convs == 0
    with pytest.raises(ValueError, match="precisions"):
        kernels({"int4": 1})


def test_expected_precision_from_name_and_build():
    assert K.expected_precision("openvino-int8", {"quantized": True}) == "int8"
    assert K.expected_precision("dynamic-int8", {"quantized": True}) == "fp32"  # Linear layers only
    assert K.expected_precision("openvino-bf16", {"precision": "bf16"}) == "bf16"
    assert K.expected_precision("eager", {}) == "fp32"


# -- the silent-fallback detector in the verdict ---------------------------------------------


def test_a_fallback_is_a_critical_issue_and_the_variant_is_not_ready():
    verdict = score([kernels({"int8": 12, "fp32": 41}, variant="pt2e-int8")], ScoringConfig())
    assert any("pt2e-int8: silent fallback: 41 of 53 convolutions in fp32" in i for i in verdict.critical_issues)
    assert not verdict.variants[0].ready


def test_a_clean_quantized_variant_is_not_flagged():
    verdict = score([kernels({"int8": 53}, variant="pt2e-int8"), LatencyResult("pt2e-int8", 1, (0.01,) * 3)],
                    ScoringConfig())
    assert not any("fallback" in i for i in verdict.critical_issues)
    assert verdict.variants[0].kernels == "int8 53/53 conv"


# -- live: one per runtime on the tiny model ----------------------------------------------------


def onnx_int8_variant(tmp_path: Path, exclude_conv: bool) -> Variant:
    """The tiny model in ONNX Runtime int8; ``exclude_conv`` plants its convolution in fp32."""
    pytest.importorskip("onnxruntime")
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    from qpbench.runtime.backends import OnnxRuntimeBackend
    from qpbench.variants import onnx as onnx_variants

    ctx = context(tmp_path, threads=1)
    fp32 = onnx_variants.export_onnx(ctx, ctx.artifact_path("onnx-fp32", ".onnx"))
    convs = [n.name for n in onnx.load(str(fp32)).graph.node if n.op_type == "Conv"]
    assert convs, "the tiny model's graph has a convolution"
    int8 = tmp_path / "int8.onnx"
    quantize_static(str(fp32), str(int8), onnx_variants.CalibrationReader(ctx.workload.calibration_batches(1, 4)),
                    quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    nodes_to_exclude=convs if exclude_conv else [])
    runner = OnnxRuntimeBackend.load(int8, 1)
    return Variant("onnx-int8", RunnerModule(runner), "planted" if exclude_conv else "clean", threads=1,
                   meta={"runtime": "onnxruntime", "quantized": True, "artifact": str(int8)})


@pytest.mark.parametrize("planted", [False, True])
def test_live_onnxruntime_and_the_planted_fp32_convolution(tmp_path, planted):
    from qpbench.measure.kernels import kernels_result

    variant = onnx_int8_variant(tmp_path, exclude_conv=planted)
    result = kernels_result(variant, (torch.rand(1, 3, 16, 16), torch.rand(1, 13)), flops=1e6)
    assert result.source == "onnxruntime_profile" and result.conv_total == 1
    assert result.fallback_convs == (1 if planted else 0)
    issues = score([result], ScoringConfig()).critical_issues
    assert any("silent fallback: 1 of 1 convolutions in fp32" in i for i in issues) == planted


@pytest.mark.slow
@pytest.mark.builds_only
def test_live_openvino_runtime_model(tmp_path):
    pytest.importorskip("openvino")
    from qpbench.measure.kernels import kernels_result
    from qpbench.variants import openvino as openvino_variants

    ctx = context(tmp_path, threads=1)
    variant = openvino_variants.build_openvino_fp32(ctx)
    result = kernels_result(variant, ctx.workload.example_batch(1), flops=None)
    assert result.source == "openvino_runtime_model" and result.conv == {"fp32": 1}
    assert result.expected == "fp32" and result.fallback_convs == 0


def test_live_pytorch_onednn_verbose_and_module_weights():
    from qpbench.measure.kernels import kernels_result

    big = torch.nn.Sequential(torch.nn.Conv2d(64, 64, 3), torch.nn.Flatten(), torch.nn.LazyLinear(1))

    class Net(torch.nn.Module):  # a conv large enough for PyTorch to hand to oneDNN
        def __init__(self):
            super().__init__()
            self.body = big

        def forward(self, image, params):
            return self.body(image).reshape(-1)

    example = (torch.rand(1, 64, 32, 32), torch.rand(1, 13))
    net = Net().eval()
    net(*example)
    result = kernels_result(Variant("eager", net, "fp32"), example, flops=None)
    assert result.source == "onednn_verbose" and result.conv == {"fp32": 1}
    assert result.isa  # the ISA oneDNN named, e.g. avx512_core

    class Small(torch.nn.Module):  # too small for oneDNN: counted from the module's weights
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, image, params):
            return self.conv(image).mean(dim=(1, 2, 3))

    small = kernels_result(Variant("eager", Small().eval(), "fp32"), (torch.rand(1, 3, 8, 8), torch.rand(1, 13)), None)
    assert small.conv == {"fp32": 1} and small.source in ("module_weights", "onednn_verbose")


def test_no_heavy_operator_is_a_clear_error():
    with pytest.raises(MeasurementError, match="no convolution"):
        K.require_heavy(K.KernelTally(), "onednn_verbose")


def test_captured_stdout_fd_sees_c_level_writes():
    import ctypes

    with K.captured_stdout_fd() as out:
        ctypes.CDLL(None).printf(b"from C\n")
    assert "from C" in out[0]


def test_flops_of_a_conv():
    from qpbench.measure.model_ops import flops_per_image

    conv = torch.nn.Conv2d(3, 4, 3, bias=False)
    flops = flops_per_image(conv, (torch.rand(2, 3, 8, 8),))
    assert flops == 2 * 4 * 3 * 3 * 3 * 6 * 6  # 2 per multiply-add, per image
    assert np.isfinite(flops)
