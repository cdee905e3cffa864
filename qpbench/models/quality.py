"""The deployment plan's QualityPredictionModel (ResNet-50 backbone).

Key names match the shipped checkpoint ``weights/qp_resnet50_fp16.pt``.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet50

from qpbench.models import N_PARAMS


def make_head(in_features: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_features, 512),
        nn.ReLU(inplace=True),
        nn.Dropout(0.1),
        nn.Linear(512, 128),
        nn.ReLU(inplace=True),
        nn.Linear(128, 1),
    )


class QualityPredictionModel(nn.Module):
    """sigmoid(head(cat(backbone(image), param_mlp(params)))) -> predicted SSIM.

    ``image``: float (N, 3, 224, 224), ImageNet-normalised.
    ``params``: float (N, 13), the scaled vtracer parameter vector.
    Returns float (N,) in [0, 1].
    """

    def __init__(self) -> None:
        super().__init__()
        self.backbone = resnet50(weights=None)
        self.backbone.fc = nn.Identity()
        self.param_mlp = nn.Sequential(nn.Linear(N_PARAMS, 64), nn.ReLU(inplace=True))
        self.head = make_head(2048 + 64)

    def forward(self, image: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        features = torch.cat([self.backbone(image), self.param_mlp(params)], dim=1)
        return torch.sigmoid(self.head(features)).squeeze(1)


def build() -> QualityPredictionModel:
    """Model factory of the default workload (random weights; the workload loads the checkpoint)."""
    return QualityPredictionModel()
