"""The default workload, the ResNet-50 that `make bench` runs first: the shipped checkpoint loads
into the shipped model, its forward pass on a handful of shipped samples gives the recorded
predictions, and it is accurate on 200 shipped samples.

The recorded predictions (tests/fixtures/default_predictions.json) are remade by
``PYTHONPATH=. .venv/bin/python -m tests.default_workload``. Tolerance: 1e-3 absolute on the
predicted SSIM, far above what a change of thread count, oneDNN kernel or ISA moves an fp32
forward pass (about 1e-6 here) and far below what a wrong weight, layer or preprocessing does
(the predictions spread over 0.47..0.93)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from qpbench import stats
from tests.default_workload import FIXTURE, N_IMAGES, load_default, predict_samples

TOLERANCE = 1e-3
PEARSON_FLOOR = 0.9  # the accuracy gate; the shipped checkpoint measures 0.96 on the whole split


@pytest.fixture(scope="module")
def default():
    torch.manual_seed(0)  # the checkpoint must override the random initialisation, whatever it is
    return load_default()


def test_the_shipped_checkpoint_loads_into_the_shipped_model(default):
    workload, model = default
    state = torch.load(workload.spec.checkpoint, map_location="cpu", weights_only=True)
    loaded = model.state_dict()
    assert set(state) == set(loaded)
    for key in ("backbone.conv1.weight", "backbone.layer4.2.bn3.running_var", "head.5.weight"):
        assert torch.equal(loaded[key], state[key].float()), key
    assert not model.training and all(p.dtype == torch.float32 for p in model.parameters())


def test_a_forward_pass_on_shipped_samples_gives_the_recorded_predictions(default):
    workload, model = default
    recorded = json.loads(FIXTURE.read_text())
    assert recorded["labels"] == pytest.approx(workload.data.ssim[recorded["samples"]].tolist(), abs=1e-6)
    got = predict_samples(workload, model, recorded["samples"])
    assert got == pytest.approx(recorded["predictions"], abs=TOLERANCE), (got, recorded["made_with"])


@pytest.mark.slow
@pytest.mark.builds_only
def test_pearson_on_200_shipped_samples_is_above_the_gate(default):
    workload, model = default
    data = workload.data
    assert data.n_images == N_IMAGES and data.n_samples == 200
    # One backbone pass per image, then the rest of forward() per sample: the same arithmetic as
    # model(image, params) on every sample (checked on three of them), at a quarter of the cost.
    with torch.inference_mode():
        features = model.backbone(workload.preprocess(data.images))
        params = torch.from_numpy(data.params)
        joined = torch.cat([features[torch.from_numpy(data.img_idx).long()], model.param_mlp(params)], dim=1)
        pred = torch.sigmoid(model.head(joined)).squeeze(1).double().numpy()
    some = np.array([0, 101, 199])
    assert pred[some] == pytest.approx(predict_samples(workload, model, some), abs=1e-5)
    assert stats.pearson(pred, data.ssim.astype(np.float64)) >= PEARSON_FLOOR
