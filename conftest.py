"""Fixtures for qpbench's own tests: a tiny model, its checkpoint and labelled data.

The tiny model's prediction depends on its image (through Conv+BN, which the
optimizations fold) as much as on its parameter vector. The labels are the
model's own predictions on images preprocessed by an independent reference
(``reference_inputs``: /255, NCHW, ImageNet normalisation, written here, not
taken from qpbench), so a correct harness measures a Pearson of 1 on it, and a
fault anywhere on the image path (preprocessing, layout, folding) moves the
predictions away from the labels.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.backends.backend_agg  # noqa: F401
import matplotlib.figure  # noqa: F401
import numpy as np
import pytest

# A run writes its HTML report with matplotlib. pytester's in-process runs drop
# the modules they imported when they end; matplotlib (C extensions, class
# identity checks) does not survive a second import in one process, so it is
# imported here, before any pytester run, and stays.

TINY_MODEL_SRC = textwrap.dedent(
    '''
    import torch
    from torch import nn


    class TinyModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(4)
            self.img_head = nn.Linear(4, 1)
            self.param_head = nn.Linear(13, 1)

        def forward(self, image, params):
            feat = torch.relu(self.bn(self.conv(image))).mean(dim=(2, 3))
            return torch.sigmoid(self.param_head(params) + self.img_head(feat)).squeeze(1)


    def build():
        return TinyModel()


    class Sleepy(TinyModel):
        """The tiny model, slowed on request by QP_TEST_MODEL_SLEEP_S per call: a whole-model slowdown."""

        def forward(self, image, params):
            import os, time

            time.sleep(float(os.environ.get("QP_TEST_MODEL_SLEEP_S", "0")))
            return super().forward(image, params)


    def sleepy():
        return Sleepy()


    def broken():
        raise RuntimeError("factory exploded")


    def fat():
        """The tiny model plus 200 MB of ballast that is not in its checkpoint."""
        model = TinyModel()
        model.register_buffer("ballast", torch.ones(50_000_000), persistent=False)
        return model
    '''
)

PARAM_WEIGHTS = np.linspace(-2.0, 2.0, 13).astype(np.float32)
# the reference preprocessing's constants, written out rather than imported from qpbench
REFERENCE_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
REFERENCE_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def reference_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 (N, S, S, 3) -> float32 (N, 3, S, S): /255, ImageNet-normalised; no resize (the tiny
    workload's input size is its images' size)."""
    return np.ascontiguousarray(((images.astype(np.float32) / 255.0 - REFERENCE_MEAN) / REFERENCE_STD).transpose(0, 3, 1, 2))


def tiny_images(rng: np.random.Generator, n_images: int, size: int) -> np.ndarray:
    """Images that differ as wholes (a colour per image plus noise), so the model's spatially
    averaged features, and with them its image term, differ from image to image."""
    colours = rng.integers(0, 256, (n_images, 1, 1, 3))
    noise = rng.integers(-40, 41, (n_images, size, size, 3))
    return np.clip(colours + noise, 0, 255).astype(np.uint8)


def tiny_predictions(model, images: np.ndarray, img_idx: np.ndarray, params: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        image = torch.from_numpy(reference_inputs(images)[img_idx])
        return model(image, torch.from_numpy(params)).numpy()


def write_tiny_files(root: Path, n_images: int = 6, per_image: int = 4, size: int = 16) -> dict[str, Path]:
    """tinymodel.py, tiny.pt (state_dict) and tiny.npz under ``root``."""
    import torch

    root.mkdir(parents=True, exist_ok=True)
    (root / "tinymodel.py").write_text(TINY_MODEL_SRC)
    namespace: dict = {}
    exec(compile(TINY_MODEL_SRC, "tinymodel", "exec"), namespace)
    torch.manual_seed(0)
    model = namespace["build"]().eval()
    rng = np.random.default_rng(0)
    n = n_images * per_image
    params = rng.random((n, 13), dtype=np.float32)
    images = tiny_images(rng, n_images, size)
    img_idx = np.repeat(np.arange(n_images), per_image).astype(np.int32)
    with torch.no_grad():
        model.param_head.weight.copy_(torch.from_numpy(PARAM_WEIGHTS).view(1, -1))
        model.param_head.bias.zero_()
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
        # scale the image term to a spread like the parameter term's (std about 1.4), centred on 0
        feat = torch.relu(model.bn(model.conv(torch.from_numpy(reference_inputs(images))))).mean(dim=(2, 3))
        term = model.img_head(feat).squeeze(1)
        scale = 1.5 / float(term.std())
        model.img_head.weight.mul_(scale)
        model.img_head.bias.copy_(model.img_head.bias * scale - float(term.mean()) * scale)
    torch.save(model.state_dict(), root / "tiny.pt")
    np.savez_compressed(
        root / "tiny.npz",
        images=images,
        img_idx=img_idx,
        params_vec=params,
        ssim=tiny_predictions(model, images, img_idx, params).astype(np.float32),
    )
    return {"module": root / "tinymodel.py", "checkpoint": root / "tiny.pt", "dataset": root / "tiny.npz"}


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_files(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def tiny_suite(pytester: pytest.Pytester, tiny_files: dict[str, Path]) -> pytest.Pytester:
    """A project holding the real bench/ tests, the tiny model, its checkpoint and data."""
    import shutil

    for src in (Path(__file__).resolve().parent / "bench").glob("test_*.py"):
        shutil.copy(src, pytester.path / src.name)
    for path in tiny_files.values():
        shutil.copy(path, pytester.path / path.name)
    pytester.syspathinsert()
    return pytester
