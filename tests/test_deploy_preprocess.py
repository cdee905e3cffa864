"""The wrapper's numpy preprocessing equals the run's torch preprocessing.

Tolerance 1e-4 in normalised units (one uint8 step is 1/255/0.225 = 0.017):
shrinking agrees to about 1e-6; enlarging a tiny side to 224 differs by up to
6e-5, where torch's channels-last bilinear kernel rounds differently.
"""

from __future__ import annotations

import numpy as np
import pytest

from qpbench.runtime.preprocess import preprocess_image, resize_bilinear
from qpbench.workload import preprocess

TOL = 1e-4
SHAPES = [(50, 70), (128, 128), (64, 64), (16, 16), (7, 300), (300, 200), (1, 1), (223, 225)]


@pytest.mark.parametrize("size", [16, 64, 224])
@pytest.mark.parametrize("h, w", SHAPES)
def test_numpy_preprocessing_equals_torch(h, w, size):
    img = np.random.default_rng(h * 1000 + w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    expected = preprocess(img[None], size).numpy()[0]
    got = preprocess_image(img, size)
    assert got.dtype == np.float32 and got.shape == (3, size, size) and got.flags.c_contiguous
    assert np.abs(got - expected).max() <= TOL


def test_same_size_is_not_resampled():
    chw = np.random.default_rng(0).random((3, 8, 8), dtype=np.float32)
    assert resize_bilinear(chw, 8) is chw


def test_a_wrong_resize_would_be_caught():
    """The tolerance is tight enough to see align_corners=True instead of False."""
    img = np.random.default_rng(1).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(img[None]).permute(0, 3, 1, 2).float() / 255.0
    wrong = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=True)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    wrong = ((wrong - mean) / std).numpy()[0]
    assert np.abs(preprocess_image(img, 64) - wrong).max() > 100 * TOL
