"""Global unstructured pruning: the requested sparsity, permanent, honest about size."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from qpbench.data.dataset import load_labelled
from qpbench.errors import VariantUnavailable
from qpbench.optimize.prune import load_sparse, prune_global, prunable_weights
from qpbench.variants.pruned import build_pruned
from qpbench.variants import BuildContext, serialized_size
from qpbench.workload import Workload, WorkloadSpec


class Net(nn.Module):
    """About 60k weights: enough that file sizes are not dominated by headers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.param_mlp = nn.Linear(13, 64)
        self.head = nn.Sequential(nn.Linear(128, 256), nn.ReLU(), nn.Linear(256, 1))

    def forward(self, image, params):
        y = torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(image)))))).mean(dim=(2, 3))
        return torch.sigmoid(self.head(torch.cat([y, torch.relu(self.param_mlp(params))], 1))).squeeze(1)


def make_net():
    torch.manual_seed(0)
    model = Net()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    return model


class NoWeights(nn.Module):
    def forward(self, image, params):
        return torch.sigmoid(params.sum(1) + image.mean(dim=(1, 2, 3)))


def workload_of(tiny_files, factory) -> Workload:
    spec = WorkloadSpec("tiny", "tests:factory", None, str(tiny_files["dataset"]), 16)
    return Workload(spec=spec, factory=factory, data=load_labelled(spec.dataset))


@pytest.mark.parametrize("sparsity", [0.3, 0.7])
def test_prune_global_reaches_the_requested_sparsity_permanently(sparsity):
    model = make_net().eval()
    report = prune_global(model, sparsity)
    assert report.achieved == pytest.approx(sparsity, abs=0.01)
    assert report.layers == 5 and report.weights == sum(m.weight.numel() for _, m in prunable_weights(model))
    zeros = sum(int((m.weight == 0).sum()) for _, m in prunable_weights(model))
    assert zeros == report.zeros
    assert report.min_layer_sparsity < sparsity < report.max_layer_sparsity  # global: layers differ
    assert not any(k.endswith(("_orig", "_mask")) for k in model.state_dict())  # prune.remove: permanent
    assert all(not m._forward_pre_hooks for m in model.modules())
    assert all(m.bias is None or (m.bias != 0).all() for _, m in prunable_weights(model))  # biases kept


def test_prune_global_rejects_bad_input():
    with pytest.raises(ValueError, match="sparsity must be in"):
        prune_global(make_net(), 1.0)
    with pytest.raises(ValueError, match="no Conv2d or Linear"):
        prune_global(NoWeights(), 0.3)


def test_build_pruned_reports_sizes_honestly_and_reloads(tiny_files, tmp_path):
    wl = workload_of(tiny_files, make_net)
    variant = build_pruned(BuildContext(wl, options={"threads": 1}, artifact_dir=tmp_path))
    meta = variant.meta
    assert variant.threads == 1 and meta["conv_bn_folded"] == 2
    assert meta["achieved"] == pytest.approx(0.3, abs=0.01) and meta["requested"] == 0.3
    assert "do not get faster" in meta["note"] and "dense" in meta["artifact_format"]

    dense = tmp_path / "tiny-pruned.pt"
    assert meta["artifact"] == str(dense) and variant.artifact_bytes == dense.stat().st_size
    eager_bytes = serialized_size(wl.build_model())
    assert variant.artifact_bytes > 0.95 * eager_bytes  # zeros cost 4 bytes each: no shrink
    sparse = tmp_path / "tiny-pruned.sparse.npz"
    assert meta["sparse_artifact_bytes"] == sparse.stat().st_size
    assert meta["sparse_artifact_bytes"] < 0.85 * variant.artifact_bytes  # bitmask + nonzero values
    assert meta["csr_int64_bytes_estimate"] > variant.artifact_bytes  # CSR at 30 %: larger than dense

    state = variant.module.state_dict()
    restored = load_sparse(sparse)
    assert restored.keys() == state.keys()
    for key, tensor in state.items():
        assert torch.equal(restored[key], tensor), key

    reloaded = build_pruned(BuildContext(wl, options={"artifact": str(dense)}, artifact_dir=tmp_path))
    assert reloaded.meta["loaded_from_artifact"] is True and reloaded.meta["requested"] is None
    assert reloaded.meta["achieved"] == meta["achieved"]
    for batch in (1, 8):
        image, params = wl.example_batch(batch)
        torch.testing.assert_close(reloaded(image, params), variant(image, params), rtol=0, atol=0)
        with torch.inference_mode():
            eager = wl.build_model()(image, params)
        assert not torch.equal(variant(image, params), eager)  # pruning does change the model


def test_build_pruned_without_prunable_layers_is_unavailable(tiny_files, tmp_path):
    with pytest.raises(VariantUnavailable, match="no Conv2d or Linear"):
        build_pruned(BuildContext(workload_of(tiny_files, NoWeights), artifact_dir=tmp_path))
