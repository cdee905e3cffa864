"""Memory layout: channels_last suits oneDNN's convolutions on x86 CPUs."""

from __future__ import annotations

import torch
from torch import nn


def has_conv2d(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def to_channels_last(model: nn.Module) -> nn.Module:
    """Convert 4-D parameters and buffers to channels_last in place and return the model."""
    return model.to(memory_format=torch.channels_last)
