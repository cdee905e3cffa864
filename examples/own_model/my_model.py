"""Stands in for your own model: any nn.Module with forward(image, params) -> (N,) SSIM.

Here it is qpbench's compact architecture, so the shipped checkpoint fits it.
"""

from qpbench.models.compact import CompactQualityModel


def build():
    return CompactQualityModel()
