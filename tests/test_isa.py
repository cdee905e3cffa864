"""What the CPU offers: the peak for each precision, the bf16 variants (skipped without native
bf16, their build path run by simulating it), the bf16 rule, agreement with the runtimes' tools,
and the kernels and peak shown in every report."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qpbench import peak
from qpbench.config import QuantThresholds, ScoringConfig
from qpbench.errors import VariantUnavailable
from qpbench.measure import agreement
from qpbench.results import AccuracyResult, FidelityResult, KernelsResult, LatencyResult, VariantInfo
from qpbench.render import terminal, view
from qpbench.verdict.scoring import score
from qpbench.variants import bf16
from qpbench.variants.registry import VariantRegistry
from tests.test_quantize import context

ICE_LAKE = {"avx2": True, "fma": True, "avx512f": True, "avx512bw": True, "avx512_vnni": True}
SAPPHIRE = {**ICE_LAKE, "avx512_bf16": True, "amx_bf16": True, "amx_int8": True}

# -- the peak -----------------------------------------------------------------------------------


def test_peak_per_precision_and_isa():
    assert peak.peak_for("fp32", ICE_LAKE, 2, 2.8e9).ops_per_s == 2 * 2.8e9 * 64
    assert peak.peak_for("int8", ICE_LAKE, 2, 2.8e9).unit == "AVX-512 VNNI"
    assert peak.peak_for("int8", SAPPHIRE, 1, 1e9).ops_per_s == 4096e9
    assert peak.peak_for("bf16", SAPPHIRE, 1, 1e9).unit == "AMX-BF16"
    assert peak.peak_for("bf16", ICE_LAKE, 1, 1e9).unit == "AVX-512 FMA"  # emulated: fp32's units
    assert peak.peak_for("int8", {"avx2": True, "fma": True}, 1, 1e9).unit == "AVX2"
    with pytest.raises(ValueError, match="precision"):
        peak.peak_for("int4", ICE_LAKE, 1, 1e9)
    with pytest.raises(ValueError, match="cores"):
        peak.peak_for("fp32", ICE_LAKE, 0, 1e9)


def test_cpu_hz_from_the_model_name_or_mhz(tmp_path):
    named = tmp_path / "a"
    named.write_text("model name\t: Intel(R) Xeon(R) Processor @ 2.80GHz\ncpu MHz\t\t: 2793.438\n")
    plain = tmp_path / "b"
    plain.write_text("model name\t: AMD EPYC 7B13\ncpu MHz\t\t: 2450.000\n")
    assert peak.cpu_hz(named) == pytest.approx(2.8e9)
    assert peak.cpu_hz(plain) == pytest.approx(2.45e9)
    assert peak.cpu_hz(tmp_path / "missing") is None


# -- bf16 variants ------------------------------------------------------------------------------


def test_bf16_variants_are_registered():
    names = VariantRegistry().names()
    assert "openvino-bf16" in names and "aoti-bf16" in names


@pytest.mark.parametrize("builder", [bf16.build_openvino_bf16, bf16.build_aoti_bf16])
def test_without_native_bf16_they_are_skipped_with_the_reason(tmp_path, monkeypatch, builder):
    monkeypatch.setattr(bf16, "cpu_info", lambda: {"isa": dict(ICE_LAKE)})
    with pytest.raises(VariantUnavailable, match="no native bf16"):
        builder(context(tmp_path, threads=1))


def test_native_bf16_is_read_from_the_probe(monkeypatch):
    monkeypatch.setattr(bf16, "cpu_info", lambda: {"isa": dict(SAPPHIRE)})
    assert bf16.native_bf16()
    monkeypatch.setattr(bf16, "cpu_info", lambda: {"isa": {**ICE_LAKE, "avx512_bf16": True}})
    assert bf16.native_bf16()


def _close_to_fp32(variant, ctx) -> None:
    image, params = ctx.workload.example_batch(4)
    ref = ctx.workload.build_model().eval()(image, params).detach()
    out = variant(image, params)
    assert out.shape == (4,) and torch.allclose(out.float(), ref, atol=0.05)


@pytest.mark.slow
@pytest.mark.builds_only
def test_openvino_bf16_builds_where_bf16_is_simulated(tmp_path, monkeypatch):
    """OpenVINO accepts bf16 on a CPU without it and emulates: the build path runs anywhere."""
    pytest.importorskip("openvino")
    monkeypatch.setattr(bf16, "cpu_info", lambda: {"isa": dict(SAPPHIRE)})
    ctx = context(tmp_path, threads=1)
    variant = bf16.build_openvino_bf16(ctx)
    assert variant.meta["precision"] == "bf16" and variant.meta["artifact"].endswith("openvino-fp32.xml")
    _close_to_fp32(variant, ctx)
    from qpbench.measure.kernels import kernels_result

    result = kernels_result(variant, ctx.workload.example_batch(1), flops=None)
    assert result.expected == "bf16" and result.conv == {"bf16": 1} and result.fallback_convs == 0


@pytest.mark.slow
@pytest.mark.builds_only
def test_aoti_bf16_builds_where_bf16_is_simulated(tmp_path, monkeypatch):
    """oneDNN emulates bf16 on AVX-512 without it: the AOTInductor bf16 package builds and runs."""
    monkeypatch.setattr(bf16, "cpu_info", lambda: {"isa": dict(SAPPHIRE)})
    ctx = context(tmp_path, threads=1)
    try:
        variant = bf16.build_aoti_bf16(ctx)
    except VariantUnavailable as exc:  # no C++ compiler here
        pytest.skip(str(exc))
    assert variant.meta["precision"] == "bf16" and variant.meta["artifact"].endswith(".pt2")
    _close_to_fp32(variant, ctx)


def _bf16_results(loss: float) -> list:
    info = VariantInfo("openvino-bf16", "bf16", 1.0, 10, meta={"precision": "bf16"})
    ref = VariantInfo("eager", "fp32", 1.0, 10)
    fid = FidelityResult("openvino-bf16", "eager", 100, 0.01, 0.001, 0.999, loss)
    accs = [AccuracyResult(v, 100, 0.95, 0.95, 0.05, 0.07, 0.6, 0.9) for v in ("eager", "openvino-bf16")]
    lat = [LatencyResult(v, 1, (0.01,) * 5) for v in ("eager", "openvino-bf16")]
    return [info, ref, fid, *accs, *lat]


def test_the_bf16_rule_rejects_a_fidelity_loss_above_1_percent():
    verdict = score(_bf16_results(0.02), ScoringConfig())
    v = next(v for v in verdict.variants if v.variant == "openvino-bf16")
    assert not v.ready and any("bf16 rule: fidelity loss 2.00% > 1%" in r for r in v.reasons)


def test_the_bf16_rule_accepts_a_small_loss_and_is_configurable():
    ok = score(_bf16_results(0.005), ScoringConfig())
    assert not any("bf16 rule" in r for v in ok.variants for r in v.reasons)
    loose = ScoringConfig(quant=QuantThresholds(max_bf16_fidelity_loss=0.05))
    assert not any("bf16 rule" in r for v in score(_bf16_results(0.02), loose).variants for r in v.reasons)


# -- tool agreement -----------------------------------------------------------------------------


def test_benchmark_app_command_and_config():
    cmd = agreement.benchmark_app_command("benchmark_app", "m.xml", "c.json", (1, 3, 224, 224), 13, 3)
    assert "image[1,3,224,224],params[1,13]" in cmd and cmd[cmd.index("-t") + 1] == "3"
    assert cmd[cmd.index("-hint") + 1] == "latency" and cmd[cmd.index("-api") + 1] == "sync"
    assert agreement.openvino_config(2, "bf16") == {
        "CPU": {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "bf16", "INFERENCE_NUM_THREADS": "2"}}


HARNESS = agreement.Harness(median_ms=0.30, low_ms=0.29, high_ms=0.31)  # the verdict's figure, handed in


def test_versus_a_fake_benchmark_app(tmp_path):
    tool = tmp_path / "benchmark_app"
    tool.write_text("#!/bin/sh\necho '[ INFO ]    Median:        250.00 us'\n")
    tool.chmod(0o755)
    r = agreement.versus_benchmark_app("openvino-fp32", HARNESS, "m.xml", 1, "f32", (1, 3, 8, 8), 13,
                                       seconds=1, rounds=2, tool=str(tool))
    assert r.tool_ms == pytest.approx(0.25) and r.tool == "benchmark_app" and "-load_config" in r.command
    # The figure compared is the verdict's, not a second timing made for the check.
    assert r.harness_ms == 0.30 and r.harness_interval_ms == (0.29, 0.31) and r.tool_interval_ms == (0.25, 0.25)


def test_a_bare_loop_runs_in_windows_and_its_interval_spans_them():
    calls = []

    def bare():
        calls.append(1)

    samples, (low, high) = agreement.bare_windows(bare, windows=3, window_s=0.0, pause_s=0.0)
    assert len(samples) == 60 and len(calls) == 10 + 3 + 60  # warm-up, estimate, 3 windows of at least 20
    assert low <= float(np.median(samples)) <= high


@pytest.mark.slow
@pytest.mark.builds_only
def test_the_dispatch_picks_the_tool_by_runtime():
    class Session:
        def run(self, outputs, feeds):
            return [np.zeros(1, np.float32)]

    class OrtRunner:
        session = Session()

    r = agreement.tool_agreement("onnx-fp32", "onnxruntime", OrtRunner(), None, lambda: None, (1, 3, 8, 8), 13,
                                 HARNESS)
    assert r.tool == "onnxruntime InferenceSession.run loop" and r.harness_ms == 0.30 and r.tool_ms >= 0
    net = torch.nn.Linear(13, 1)
    x = torch.rand(1, 13)
    r = agreement.tool_agreement("eager", None, None, None, lambda: net(x), (1, 3, 8, 8), 13, HARNESS)
    assert r.tool == "bare module call loop" and r.tool_ms > 0

    class TputRunner:
        hint = "THROUGHPUT"

    with pytest.raises(agreement.NotApplicable, match="latency hint"):
        agreement.tool_agreement("openvino-fp32-tput", "openvino", TputRunner(), None, lambda: None, (1,), 13, HARNESS)


@pytest.mark.slow
@pytest.mark.builds_only
def test_openvino_backend_binds_inputs_without_copies(tmp_path):
    """Inputs are bound to the request once per buffer; a new buffer rebinds; results are copies."""
    pytest.importorskip("openvino")
    from qpbench.variants import openvino as openvino_variants

    ctx = context(tmp_path, threads=1)
    runner = openvino_variants.build_openvino_fp32(ctx).module.runner
    image, params = (t.numpy() for t in ctx.workload.example_batch(2))
    first = runner.run(image[:1], params[:1])
    again = runner.run(image[:1], params[:1])
    other = runner.run(image[1:2], params[1:2])
    assert first.shape == (1,) and np.array_equal(first, again)
    assert np.allclose(np.concatenate([first, other]), runner.run(image, params), atol=1e-5)
    buffer = params[:1].copy()  # the tiny model's output follows its parameters
    runner.run(image[:1], buffer)
    buffer[...] = params[1:2]  # refilled in place: the bound memory is read at each call
    assert np.allclose(runner.run(image[:1], buffer), runner.run(image[:1].copy(), params[1:2].copy()), atol=1e-6)


# -- reports ------------------------------------------------------------------------------------


def test_kernels_and_peak_in_the_view_and_terminal_table():
    k = KernelsResult("fx-int8", "onednn_verbose", "int8", {"int8": 53}, {}, isa="avx512_core_vnni",
                      flops_per_image=8.2e9, peak_ops_per_s=1.4e12)
    verdict = score([k, LatencyResult("fx-int8", 1, (0.0082,) * 5)], ScoringConfig())
    row = view.variant_rows(verdict)[0]
    assert row.kernels == "int8 53/53 conv (avx512_core_vnni)"
    assert row.ops == "1000 of 1400 GOP/s (71%)"
    text = "\n".join(terminal.summary_lines(verdict, None))
    assert "int8 53/53 conv (avx512_core_vnni)" in text and "1000 of 1400 GOP/s" in text
    assert view.ops_text(None, 1.0) == "-" and view.ops_text(2e9, None) == "2 GOP/s"
    assert math.isclose(verdict.variants[0].achieved_ops_per_s, 1e12)


def test_machine_peak_uses_the_probe(monkeypatch):
    from qpbench.measure import kernels as suite

    monkeypatch.setattr(suite, "cpu_info", lambda: {"isa": dict(ICE_LAKE)})
    monkeypatch.setattr(suite.peak, "cpu_hz", lambda: 2.8e9)
    p = suite.machine_peak("int8", 1)
    assert p.unit == "AVX-512 VNNI" and p.cores == 1 and p.ops_per_s == 2.8e9 * 256
    monkeypatch.setattr(suite.peak, "cpu_hz", lambda: None)
    assert suite.machine_peak("fp32", 1) is None
