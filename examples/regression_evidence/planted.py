"""A variant for the rerun evidence: eager plus busy work proportional to its own call time
(QP_PLANT_SLOWDOWN=0.2 makes every call 20% slower)."""

import os
import time

import torch

from qpbench.variants import VariantSpec, build_eager


class Slowed(torch.nn.Module):
    def __init__(self, inner, factor):
        super().__init__()
        self.inner = inner
        self.factor = factor

    def forward(self, image, params):
        start = time.perf_counter()
        out = self.inner(image, params)
        if self.factor:
            until = time.perf_counter() + (time.perf_counter() - start) * self.factor
            while time.perf_counter() < until:
                pass
        return out


def build_planted(ctx):
    variant = build_eager(ctx)
    variant.name = "planted"
    variant.module = Slowed(variant.module, float(os.environ.get("QP_PLANT_SLOWDOWN", "0")))
    return variant


def pytest_qpbench_register_variants(registry):
    registry.register(VariantSpec("planted", "eager, slowed by QP_PLANT_SLOWDOWN", build_planted))
