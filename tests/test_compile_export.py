"""TorchScript, torch.compile and torch.export/AOTInductor builders on a tiny Conv+BN model.

fp32 paths agree with eager to rtol/atol 1e-4 (compilers reorder and fuse
arithmetic; nothing is quantized). Inductor compiles are the slow part (a few
seconds each here): one build_compiled (3 graphs) and one build_aoti (1 package)
are shared by the tests through module-scoped fixtures.
"""

from __future__ import annotations


import pytest
import torch
from torch import nn

import torch._inductor.config as inductor_config

from qpbench.data.dataset import load_labelled
from qpbench.errors import VariantUnavailable
from qpbench.optimize.compile import dynamo_counts, inductor_freezing
from qpbench.optimize.export import export_model, load_aoti
from qpbench.variants.compiled import build_aoti, build_compiled
from qpbench.variants.torchscript import build_torchscript
from qpbench.variants import BuildContext, VariantSpec, build_variant
from qpbench.workload import Workload, WorkloadSpec

TOL = {"rtol": 1e-4, "atol": 1e-4}
BATCHES = (1, 4, 8, 16)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.param_mlp = nn.Linear(13, 8)
        self.head = nn.Linear(16, 1)

    def forward(self, image, params):
        y = torch.relu(self.bn1(self.conv1(image)))
        y = torch.relu(self.bn2(self.conv2(y))).mean(dim=(2, 3))
        return torch.sigmoid(self.head(torch.cat([y, torch.relu(self.param_mlp(params))], 1))).squeeze(1)


def make_net():
    torch.manual_seed(0)  # build_model() calls the factory each time: same weights every time
    model = Net()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
    return model


class Unscriptable(Net):
    def forward(self, *inputs):  # variable arguments: torch.jit.script refuses, trace is fine
        image, params = inputs
        return super().forward(image, params)


def make_unscriptable():
    model = Unscriptable()
    model.load_state_dict(make_net().state_dict())
    return model


class Uncapturable(nn.Module):
    def forward(self, *inputs):  # torch.jit.script refuses *args
        image, params = inputs
        torch._dynamo.graph_break()  # strict torch.export refuses graph breaks
        scores = [float(v) for v in params.sum(1)]  # leaves the graph: a trace records constants
        return torch.sigmoid(torch.tensor(scores) + 0.0 * image.mean())


class Exploding(Net):
    def forward(self, image, params):
        raise RuntimeError("boom")


def workload_of(tiny_files, factory) -> Workload:
    spec = WorkloadSpec("tiny", "tests:factory", None, str(tiny_files["dataset"]), 16)
    return Workload(spec=spec, factory=factory, data=load_labelled(spec.dataset))


@pytest.fixture(scope="module")
def workload(tiny_files):
    return workload_of(tiny_files, make_net)


@pytest.fixture
def freezing_off():
    """The freezing flag False for the test, the original value back afterwards."""
    original = inductor_config.freezing
    inductor_config.freezing = False
    yield
    inductor_config.freezing = original


def ctx_for(workload, tmp_path, **options):
    return BuildContext(workload, options=options, artifact_dir=tmp_path)


def assert_matches_eager(variant, workload, batches=BATCHES):
    reference = workload.build_model()
    for b in batches:
        image, params = workload.example_batch(b)
        with torch.inference_mode():
            expected = reference(image, params).reshape(-1)
        torch.testing.assert_close(variant(image, params), expected, **TOL)


def assert_same_outputs(a, b, workload):
    for batch in (1, 8):
        image, params = workload.example_batch(batch)
        torch.testing.assert_close(a(image, params), b(image, params), rtol=1e-6, atol=1e-6)


def test_inductor_freezing_sets_and_restores_the_flag_even_on_error():
    before = inductor_config.freezing
    with pytest.raises(RuntimeError):
        with inductor_freezing():
            assert inductor_config.freezing is True
            raise RuntimeError("boom")
    assert inductor_config.freezing == before
    with inductor_freezing(False):
        assert inductor_config.freezing is False
    assert inductor_config.freezing == before


# ------------------------------------------------------------------ TorchScript


def test_torchscript_scripts_freezes_saves_the_frozen_module_and_reloads_it(workload, tmp_path):
    variant = build_torchscript(ctx_for(workload, tmp_path, threads=1))
    assert variant.meta["method"] == "script" and variant.meta["legacy"] is True
    assert variant.threads == 1
    assert_matches_eager(variant, workload)
    artifact = tmp_path / "tiny-torchscript.pt"
    assert variant.meta["artifact"] == str(artifact) and variant.artifact_bytes == artifact.stat().st_size

    reloaded = build_torchscript(ctx_for(workload, tmp_path, artifact=str(artifact)))
    assert reloaded.meta["loaded_from_artifact"] is True and reloaded.meta["method"] == "torch.jit.load"
    assert_same_outputs(reloaded, variant, workload)

    # The trap: what optimize_for_inference returns saves to a file that cannot be loaded back.
    optimized_file = tmp_path / "optimized.pt"
    with pytest.warns(FutureWarning, match="deprecated"):
        torch.jit.save(variant.module, str(optimized_file))
        with pytest.raises(RuntimeError, match="required keyword attribute"):
            torch.jit.load(str(optimized_file))
    assert "optimize_for_inference" in variant.meta["artifact_note"]


def test_torchscript_falls_back_to_trace_and_says_why(tiny_files, tmp_path):
    wl = workload_of(tiny_files, make_unscriptable)
    variant = build_torchscript(ctx_for(wl, tmp_path))
    assert variant.meta["method"] == "trace" and variant.meta["script_error"]
    assert_matches_eager(variant, wl, batches=(1, 8))


def test_a_model_that_cannot_be_scripted_traced_or_exported_is_unavailable_with_a_reason(tiny_files, tmp_path):
    wl = workload_of(tiny_files, Uncapturable)
    with pytest.raises(VariantUnavailable, match=r"torch.jit.script failed .*torch.jit.trace disagrees"):
        build_torchscript(ctx_for(wl, tmp_path))
    with pytest.raises(VariantUnavailable, match=r"torch.export \(strict\) cannot export"):
        build_aoti(ctx_for(wl, tmp_path))
    assert not list(tmp_path.glob("*.pt2"))


# ------------------------------------------------------------------ torch.compile


@pytest.fixture(scope="module")
def compiled(workload, tmp_path_factory):
    original = inductor_config.freezing
    inductor_config.freezing = False
    try:
        spec = VariantSpec("compiled", "torch.compile", build_compiled)
        variant = build_variant(spec, ctx_for(workload, tmp_path_factory.mktemp("compiled")))
        yield variant, inductor_config.freezing
    finally:
        inductor_config.freezing = original


@pytest.mark.slow
@pytest.mark.builds_only
def test_compile_matches_eager_without_recompiling_and_restores_freezing(compiled, workload):
    variant, freezing_after_build = compiled
    assert freezing_after_build is False
    meta = variant.meta
    assert meta["compile_batch_sizes"] == [1, 8, 16] and meta["compile_time_s"] > 0
    assert meta["graphs_compiled"] == 3  # the batch guards at 1 / 2-15 / >=16 (conv backend choice)
    before = dynamo_counts()
    assert_matches_eager(variant, workload, batches=(1, 4, 8, 16, 2, 15, 32))
    assert dynamo_counts()["graphs"] == before["graphs"], "a batch size recompiled after the build"
    assert inductor_config.freezing is False


def test_compile_has_no_artifact_even_through_build_variant(compiled):
    variant, _ = compiled
    assert variant.artifact_bytes is None  # not an nn.Module: no state_dict poses as an artifact
    assert "not a deployable file" in variant.meta["artifact_note"]
    assert "artifact" not in variant.rebuild_options()


def test_a_failing_compile_is_unavailable_and_restores_freezing(tiny_files, tmp_path, freezing_off):
    wl = workload_of(tiny_files, Exploding)
    with pytest.raises(VariantUnavailable, match="torch.compile .*boom"):
        build_compiled(ctx_for(wl, tmp_path, compile_batch_sizes=(2,)))
    assert inductor_config.freezing is False


# ------------------------------------------------------------------ torch.export + AOTInductor


@pytest.mark.slow
@pytest.mark.builds_only
def test_aoti_package_serves_every_batch_size_and_reloads(workload, tmp_path, freezing_off):
    variant = build_aoti(ctx_for(workload, tmp_path))
    assert inductor_config.freezing is False
    artifact = tmp_path / "tiny-aoti.pt2"
    assert variant.meta["artifact"] == str(artifact) and variant.artifact_bytes == artifact.stat().st_size
    assert variant.meta["compile_time_s"] > 0 and variant.meta["loaded_from_artifact"] is False
    # Frozen: prepacked oneDNN convolutions. Plain "convolution" would mean freezing was ignored
    # (it is, silently, when AOTInductor compiles with grad enabled).
    ops = variant.meta["aoti_ops"]
    assert ops.get("mkldnn__convolution_pointwise") == 2 and "convolution" not in ops
    assert_matches_eager(variant, workload, batches=(1, 4, 8, 16, 3))

    reloaded = build_aoti(ctx_for(workload, tmp_path, artifact=str(artifact)))
    assert reloaded.meta["loaded_from_artifact"] is True and "compile_time_s" not in reloaded.meta
    assert_same_outputs(reloaded, variant, workload)
    assert_same_outputs(lambda i, p: load_aoti(artifact)(i, p).reshape(-1), variant, workload)


def test_export_keeps_the_batch_dynamic_even_from_a_batch_of_one(workload):
    program = export_model(workload.build_model(), workload.example_batch(1))
    image_name = program.graph_signature.user_inputs[0]
    image = next(n for n in program.graph_module.graph.nodes if n.name == image_name)
    assert isinstance(image.meta["val"].shape[0], torch.SymInt)


def test_aoti_restores_freezing_when_packaging_fails(workload, tmp_path, monkeypatch, freezing_off):
    seen = []

    def failing(program, package_path):
        seen.append(inductor_config.freezing)
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(torch._inductor, "aoti_compile_and_package", failing)
    with pytest.raises(VariantUnavailable, match="AOTInductor cannot compile.*no C\\+\\+ compiler"):
        build_aoti(ctx_for(workload, tmp_path))
    assert seen == [True] and inductor_config.freezing is False


@pytest.mark.slow
@pytest.mark.builds_only
def test_aoti_with_a_static_batch_of_one(workload, tmp_path, freezing_off):
    variant = build_aoti(ctx_for(workload, tmp_path, dynamic_batch=False))
    assert "static batch of 1" in variant.meta["export"]
    assert variant.meta["artifact"] == str(tmp_path / "tiny-aoti-b1.pt2")
    assert_matches_eager(variant, workload, batches=(1,))
