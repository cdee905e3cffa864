"""A compact CNN for the same task (DATA.md's small network).

Four stages of (3x3 stride-2 conv, 3x3 conv), each followed by BatchNorm and
ReLU, channels 8-16-24-32, on a 64x64 input; average and max pooling are
concatenated, then the same parameter MLP as the ResNet model and a smaller
head. About 80k parameters: a forward pass costs about a millisecond, which is
what the project's own tests and quick runs need.
"""

from __future__ import annotations

import torch
from torch import nn

from qpbench.models import N_PARAMS

CHANNELS = (8, 16, 24, 32)


def conv_bn_relu(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class CompactQualityModel(nn.Module):
    """``image``: float (N, 3, 64, 64), ImageNet-normalised; ``params``: (N, 13)."""

    def __init__(self, channels: tuple[int, ...] = CHANNELS) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c_out in channels:
            layers += conv_bn_relu(c_in, c_out, stride=2)
            layers += conv_bn_relu(c_out, c_out, stride=1)
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.param_mlp = nn.Sequential(nn.Linear(N_PARAMS, 64), nn.ReLU(inplace=True))
        self.head = nn.Sequential(
            nn.Linear(2 * c_in + 64, 256),
            nn.ReLU(inplace=True),
            nn.Linear(256, 64),
            nn.ReLU(inplace=True),
            nn.Linear(64, 1),
        )

    def image_features(self, image: torch.Tensor) -> torch.Tensor:
        fmap = self.features(image)
        return torch.cat([fmap.mean(dim=(2, 3)), fmap.amax(dim=(2, 3))], dim=1)

    def predict_from_features(self, features: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        joint = torch.cat([features, self.param_mlp(params)], dim=1)
        return torch.sigmoid(self.head(joint)).squeeze(1)

    def forward(self, image: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return self.predict_from_features(self.image_features(image), params)


def build() -> CompactQualityModel:
    """Model factory of the compact workload."""
    return CompactQualityModel()
