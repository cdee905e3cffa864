"""Fixtures for qpbench's own tests: a tiny model, its checkpoint and labelled data.

The tiny model's prediction is an exact function of the parameter vector, and
the labels are made with that same function, so a correct harness measures a
Pearson of 1 on it, while its Conv+BN path still gives the optimizations
something to fold.
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
            return torch.sigmoid(self.param_head(params) + 0.0 * self.img_head(feat)).squeeze(1)


    def build():
        return TinyModel()


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


def write_tiny_files(root: Path, n_images: int = 6, per_image: int = 4, size: int = 16) -> dict[str, Path]:
    """tinymodel.py, tiny.pt (state_dict) and tiny.npz under ``root``."""
    import torch

    root.mkdir(parents=True, exist_ok=True)
    (root / "tinymodel.py").write_text(TINY_MODEL_SRC)
    namespace: dict = {}
    exec(compile(TINY_MODEL_SRC, "tinymodel", "exec"), namespace)
    torch.manual_seed(0)
    model = namespace["build"]()
    with torch.no_grad():
        model.param_head.weight.copy_(torch.from_numpy(PARAM_WEIGHTS).view(1, -1))
        model.param_head.bias.zero_()
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
    torch.save(model.state_dict(), root / "tiny.pt")
    rng = np.random.default_rng(0)
    n = n_images * per_image
    params = rng.random((n, 13), dtype=np.float32)
    ssim = 1.0 / (1.0 + np.exp(-(params @ PARAM_WEIGHTS)))
    np.savez_compressed(
        root / "tiny.npz",
        images=rng.integers(0, 256, (n_images, size, size, 3), dtype=np.uint8),
        img_idx=np.repeat(np.arange(n_images), per_image).astype(np.int32),
        params_vec=params,
        ssim=ssim.astype(np.float32),
    )
    return {"module": root / "tinymodel.py", "checkpoint": root / "tiny.pt", "dataset": root / "tiny.npz"}


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_files(tmp_path_factory.mktemp("tiny"))
