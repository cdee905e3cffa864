"""Planted slowdowns for the rerun evidence: busy work proportional to a call's own time.

- the variant "planted", eager slowed by QP_PLANT_SLOWDOWN (0.2: every call 20% slower);
- the model factory ``slowed_compact``, the shipped compact CNN slowed by QP_PLANT_MODEL_SLOWDOWN
  (a whole-model slowdown: eager and every variant built from it slow together)."""

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


# A whole-model slowdown: the user's model itself (its factory, as a code change would do) slowed
# by QP_PLANT_MODEL_SLOWDOWN, so eager and every variant built from it slow together.
from qpbench.models.compact import CompactQualityModel  # noqa: E402


class SlowedCompact(CompactQualityModel):
    def forward(self, image, params):
        factor = float(os.environ.get("QP_PLANT_MODEL_SLOWDOWN", "0"))
        start = time.perf_counter()
        out = super().forward(image, params)
        if factor:
            until = time.perf_counter() + (time.perf_counter() - start) * factor
            while time.perf_counter() < until:
                pass
        return out


def slowed_compact():
    return SlowedCompact()
