"""The tiny test model (conftest.py) sees its image: a correct image path measures Pearson 1 on its
labels, and a fault on the image path (preprocessing, layout, Conv+BN folding) moves its
predictions off them, so the integration tests built on it are not blind to such faults."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from qpbench import stats
from qpbench.measure.predictions import predict
from qpbench.optimize.fusion import fold_conv_bn
from qpbench.workload import Workload, WorkloadSpec, load_workload


@pytest.fixture
def workload(tiny_files, monkeypatch) -> Workload:
    monkeypatch.syspath_prepend(str(tiny_files["module"].parent))
    monkeypatch.delitem(sys.modules, "tinymodel", raising=False)
    return load_workload(WorkloadSpec("tiny", "tinymodel:build", str(tiny_files["checkpoint"]),
                                      str(tiny_files["dataset"]), 16))


def pearson_and_gap(model, workload: Workload) -> tuple[float, float]:
    with torch.no_grad():
        pred = predict(model, workload.inputs, np.arange(workload.data.n_samples))
    labels = workload.data.ssim.astype(np.float64)
    return stats.pearson(pred, labels), float(np.abs(pred - labels).max())


def test_its_prediction_depends_on_the_image(workload):
    model = workload.build_model()
    image, params = workload.inputs(np.arange(8))
    with torch.no_grad():
        same_params_other_images = model(image.roll(1, dims=0), params) - model(image, params)
    assert float(same_params_other_images.abs().max()) > 0.05


def test_a_correct_image_path_measures_pearson_1_with_and_without_conv_bn_folding(workload):
    model = workload.build_model()
    folded, report = fold_conv_bn(workload.build_model())
    assert report.folded == 1
    for m in (model, folded):
        pearson, gap = pearson_and_gap(m, workload)
        assert pearson == pytest.approx(1.0, abs=1e-6) and gap < 1e-5


def bgr(images, size, clean):
    return clean(images[..., ::-1].copy(), size)


def not_normalised(images, size, clean):
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0


def reshaped_not_permuted(images, size, clean):
    """NHWC bytes read as NCHW: the classic layout bug."""
    return clean(images, size).permute(0, 2, 3, 1).reshape(images.shape[0], 3, size, size).contiguous()


@pytest.mark.parametrize("fault", [bgr, not_normalised, reshaped_not_permuted])
def test_a_wrong_preprocessing_changes_the_predictions(workload, monkeypatch, fault):
    import qpbench.workload as wl

    clean = wl.preprocess
    monkeypatch.setattr(wl, "preprocess", lambda images, size: fault(images, size, clean))
    pearson, gap = pearson_and_gap(workload.build_model(), workload)
    assert pearson < 0.99 and gap > 0.02, (pearson, gap)


def test_a_conv_bn_fold_that_drops_the_running_mean_changes_the_predictions(workload):
    model = workload.build_model()
    with torch.no_grad():
        model.bn.running_mean.zero_()  # what a fold that forgets the BN statistics computes
    folded, _ = fold_conv_bn(model)
    pearson, gap = pearson_and_gap(folded, workload)
    assert pearson < 0.99 and gap > 0.02, (pearson, gap)
