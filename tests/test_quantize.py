"""Int8 builders (qpbench.optimize.quantize / qat) on a tiny model with a big Linear.

The model's 2048x2048 Linear holds 16.8 MB of fp32 weights, so an int8
artifact must come out smaller than the fp32 state_dict even with the
AOTInductor package's ~1.7 MB of compiled code. Only one test compiles with
AOTInductor (~15-25 s); the others run the converted graph as is
(``package="eager"``), which has the same numbers.

Tolerances against fp32 on this random (untrained) model, outputs spread over
about 0.1-0.9: each int8 layer rounds its activations to 1/255 of their range
(1/127 for FX's x86 qconfig, whose activations are 7-bit: reduce_range) and
its weights per channel; five such layers move the logit (std 1.5) by up to a
few tenths on the worst sample and the sigmoid (slope <= 0.25) by up to
~0.07 (FX measured 0.064). So: max |diff| < 0.1, mean |diff| < 0.03, and a
correlation with fp32 > 0.95 across the 48 samples, which a wrong scale,
a dropped layer or a shuffled batch would all break.
"""

from __future__ import annotations

import os
import sys
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from qpbench.data.dataset import LabelledSet
from qpbench.errors import VariantError, VariantUnavailable
from qpbench.variants import qat
from qpbench.variants import quantized as quantize
from qpbench.variants import BuildContext, serialized_size
from qpbench.workload import Workload, WorkloadSpec, preprocess

SIZE, N_IMAGES, PER_IMAGE = 16, 12, 4
MAX_ABS_DIFF, MEAN_ABS_DIFF, MIN_CORRELATION = 0.1, 0.03, 0.95
HIDDEN = 2048


class TinyQ(nn.Module):
    def __init__(self, bn: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16) if bn else nn.Identity()
        self.param_mlp = nn.Linear(13, 32)
        self.fc1 = nn.Linear(48, HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, HIDDEN)
        self.out = nn.Linear(HIDDEN, 1)

    def hidden(self, image: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        feat = torch.relu(self.bn(self.conv(image))).mean(dim=(2, 3))
        x = torch.cat([feat, torch.relu(self.param_mlp(params))], dim=1)
        return torch.relu(self.fc2(torch.relu(self.fc1(x))))

    def forward(self, image: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.hidden(image, params))).squeeze(1)


class Branchy(TinyQ):
    def forward(self, image: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        if image.sum() > 0:  # data-dependent control flow: neither torch.fx nor torch.export can capture it
            return torch.sigmoid(self.out(self.hidden(image, params))).squeeze(1)
        return torch.sigmoid(params.sum(1))


def seeded(cls: type[TinyQ], bn: bool = True):
    def factory() -> TinyQ:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = cls(bn)
            with torch.no_grad():
                if bn:
                    model.bn.running_mean.uniform_(-0.3, 0.3)
                    model.bn.running_var.uniform_(0.5, 2.0)
                spread_logits(model)
        return model

    return factory


def spread_logits(model: TinyQ) -> None:
    """Set the last layer so the logits have mean 0 and std 1.5 on the test data: outputs spread over
    about 0.1-0.9 instead of clustering, so a correlation with fp32 means something."""
    data = tiny_data()
    z = model.out.weight @ model.hidden(preprocess(data.images, SIZE)[data.img_idx], torch.from_numpy(data.params)).T
    scale = 1.5 / z.std()
    model.out.weight.mul_(scale)
    model.out.bias.fill_(float(-z.mean() * scale))


def tiny_data() -> LabelledSet:
    rng = np.random.default_rng(0)
    n = N_IMAGES * PER_IMAGE
    params = rng.random((n, 13), dtype=np.float32)
    return LabelledSet(
        images=rng.integers(0, 256, (N_IMAGES, SIZE, SIZE, 3), dtype=np.uint8),
        img_idx=np.repeat(np.arange(N_IMAGES), PER_IMAGE),
        params=params,
        ssim=rng.random(n).astype(np.float32),
        source="in-memory",
    )


def workload(factory) -> Workload:
    spec = WorkloadSpec("tinyq", f"tests.test_quantize:{factory.__name__}", None, "in-memory", SIZE)
    return Workload(spec=spec, factory=factory, data=tiny_data())


def context(tmp_path, factory=None, **options) -> BuildContext:
    wl = workload(factory or seeded(TinyQ))
    return BuildContext(wl, options=options, artifact_dir=tmp_path, calibration_batches=2)


def reference_and_inputs(ctx: BuildContext):
    image, params = ctx.workload.inputs(np.arange(ctx.workload.data.n_samples))
    with torch.inference_mode():
        return ctx.workload.build_model()(image, params), image, params


def assert_close_to_fp32(variant, ctx: BuildContext) -> torch.Tensor:
    ref, image, params = reference_and_inputs(ctx)
    out = variant(image, params)
    assert out.shape == ref.shape
    assert float(ref.std()) > 0.05  # the outputs spread, so the correlation means something
    assert float((out - ref).abs().max()) < MAX_ABS_DIFF and float((out - ref).abs().mean()) < MEAN_ABS_DIFF
    assert float(np.corrcoef(out.numpy(), ref.numpy())[0, 1]) > MIN_CORRELATION
    return out


def assert_artifact_smaller_than_fp32(variant, ctx: BuildContext) -> None:
    path = variant.meta["artifact"]
    assert variant.artifact_bytes == os.path.getsize(path) > 0
    assert variant.artifact_bytes < 0.6 * serialized_size(ctx.workload.build_model())


def assert_reloads_same(builder, variant, tmp_path, ctx: BuildContext, out: torch.Tensor) -> None:
    loaded = builder(context(tmp_path, artifact=variant.meta["artifact"]))
    assert loaded.meta["loaded_from_artifact"] and loaded.artifact_bytes == variant.artifact_bytes
    _, image, params = reference_and_inputs(ctx)
    torch.testing.assert_close(loaded(image, params), out, rtol=0, atol=1e-6)


def test_dynamic_int8_builds_saves_and_reloads(tmp_path):
    ctx = context(tmp_path, threads=1)
    variant = quantize.build_dynamic_int8(ctx)
    assert variant.threads == 1 and variant.meta["legacy"] is True
    assert variant.meta["quantized_layers"] == {"Linear": 4}
    out = assert_close_to_fp32(variant, ctx)
    assert_artifact_smaller_than_fp32(variant, ctx)
    assert_reloads_same(quantize.build_dynamic_int8, variant, tmp_path, ctx, out)


def test_fx_int8_builds_saves_and_reloads(tmp_path):
    ctx = context(tmp_path)
    variant = quantize.build_fx_int8(ctx)
    assert variant.threads is None and variant.meta["legacy"] is True
    assert variant.meta["calibration_samples"] == 16 and sum(variant.meta["quantized_layers"].values()) == 5
    assert any("deprecated" in w for w in variant.meta["warnings"])  # recorded, not shown
    out = assert_close_to_fp32(variant, ctx)
    assert_artifact_smaller_than_fp32(variant, ctx)
    assert_reloads_same(quantize.build_fx_int8, variant, tmp_path, ctx, out)


@pytest.mark.slow
@pytest.mark.builds_only
def test_pt2e_int8_aoti_package_builds_and_reloads_without_torchao(tmp_path, monkeypatch):
    ctx = context(tmp_path)
    variant = quantize.build_pt2e_int8(ctx)  # the one AOTInductor compile of this file
    assert variant.meta["runtime"] == "aoti" and variant.meta["compile_time_s"] > 0
    assert variant.meta["quantized_layers"] == {"conv2d_int8": 1, "linear_int8": 4}
    out = assert_close_to_fp32(variant, ctx)
    assert_artifact_smaller_than_fp32(variant, ctx)
    assert variant.meta["artifact"].endswith(".pt2")
    # Compiled with freezing and grad off, the int8 weights go into oneDNN qconv/qlinear; otherwise the package
    # dequantizes every weight per call and runs fp32 kernels (slower than eager, same numbers).
    with zipfile.ZipFile(variant.meta["artifact"]) as package:
        wrapper = next(package.read(n).decode() for n in package.namelist() if n.endswith("wrapper.cpp"))
    assert "qlinear" in wrapper and "qconv" in wrapper and "dequantize_per_channel" not in wrapper
    monkeypatch.setitem(sys.modules, "torchao", None)  # loading a package needs no torchao
    assert_reloads_same(quantize.build_pt2e_int8, variant, tmp_path, ctx, out)
    _, image, params = reference_and_inputs(ctx)
    assert variant(image[:1], params[:1]).shape == (1,)  # the batch dimension is dynamic


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A pt2e_int8 variant run as the converted graph (no compile)."""
    return quantize.build_pt2e_int8(context(tmp_path_factory.mktemp("pt2e"), package="eager"))


def test_pt2e_int8_eager_graph_keeps_numbers_and_has_no_artifact(converted, tmp_path):
    assert converted.artifact_bytes is None and "no_artifact_reason" in converted.meta
    assert converted.meta["calibration_samples"] == 16
    assert_close_to_fp32(converted, context(tmp_path))


def test_pt2e_falls_back_to_compile_then_gives_both_reasons(converted, tmp_path, monkeypatch):
    def no_aoti(*args):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(quantize, "aoti_package", no_aoti)
    monkeypatch.setattr(quantize, "FrozenCompiled", quantize.GraphRunner)  # stands in for torch.compile
    ctx = context(tmp_path)
    variant = quantize.package_pt2e(ctx, "pt2e_int8", "d", converted.module.model, {})
    assert variant.meta["runtime"] == "torch.compile" and "no C++ compiler" in variant.meta["aoti_failed"]
    assert variant.artifact_bytes is None

    def no_compile(model):
        raise RuntimeError("inductor broke")

    monkeypatch.setattr(quantize, "FrozenCompiled", no_compile)
    with pytest.raises(VariantUnavailable, match="no C\\+\\+ compiler.*inductor broke"):
        quantize.package_pt2e(ctx, "pt2e_int8", "d", converted.module.model, {})
    with pytest.raises(VariantError, match="package"):
        quantize.package_pt2e(context(tmp_path, package="onnx"), "pt2e_int8", "d", converted.module.model, {})


@pytest.mark.parametrize("builder", [quantize.build_fx_int8, quantize.build_pt2e_int8, qat.build_qat_int8])
def test_data_dependent_branch_is_unavailable_with_a_reason(builder, tmp_path):
    with pytest.raises(VariantUnavailable, match="(?i)trac|export"):
        builder(context(tmp_path, factory=seeded(Branchy), package="eager"))


def test_dynamic_int8_does_not_trace_so_a_branch_is_fine(tmp_path):
    ctx = context(tmp_path, factory=seeded(Branchy))
    assert_close_to_fp32(quantize.build_dynamic_int8(ctx), ctx)


@pytest.mark.parametrize("builder", [quantize.build_pt2e_int8, qat.build_qat_int8])
def test_missing_torchao_is_unavailable_naming_it(builder, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchao", None)
    with pytest.raises(VariantUnavailable, match="torchao"):
        builder(context(tmp_path))


def test_missing_artifact_is_an_error(tmp_path):
    with pytest.raises(VariantError, match="does not exist"):
        quantize.build_dynamic_int8(context(tmp_path, artifact=str(tmp_path / "gone.pt")))


def test_qat_without_the_data_extra_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("QPBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(sys.modules, "vtracer", None)
    with pytest.raises(VariantUnavailable, match="data"):
        qat.build_qat_int8(context(tmp_path, factory=seeded(TinyQ, bn=False), package="eager"))


def test_qat_fine_tunes_on_pipeline_data_and_keeps_numbers(tmp_path, monkeypatch):
    pytest.importorskip("vtracer")
    pytest.importorskip("resvg_py")
    monkeypatch.setenv("QPBENCH_CACHE_DIR", str(tmp_path / "cache"))
    # No BatchNorm here: torchao's QAT conv-BN folding exports ~100 pattern graphs (~35 s) whatever the
    # model's size; the ResNet-50 measurement covers it.
    # lr 0: the observers still learn their ranges from the training batches, but the weights stay, so the
    # result must match fp32 like post-training quantization does (training moves it towards the labels).
    ctx = context(tmp_path, factory=seeded(TinyQ, bn=False), package="eager", qat_steps=2, qat_images=6, qat_lr=0.0)
    variant = qat.build_qat_int8(ctx)
    meta = variant.meta
    assert meta["steps"] == 2 and meta["train_samples"] == 20 and meta["held_aside_samples"] == 4
    assert meta["bn_frozen"] is True and len(meta["losses"]) == 2
    assert np.isfinite(meta["loss_first"]) and np.isfinite(meta["loss_last"])
    assert "held_pearson_fp32_before" in meta and "held_pearson_int8_after" in meta
    assert sum(meta["quantized_layers"].values()) == 5
    assert list((tmp_path / "cache").glob("*_s12345_*.npz"))  # training data from its own seed
    assert_close_to_fp32(variant, ctx)
