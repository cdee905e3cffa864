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


# Long-run faults for detectors.py: a leak and a slowdown that goes on, planted in a model as mixins
# (the model's own state_dict keys stay as they are, so the compact checkpoint still loads).
class Leaks(torch.nn.Module):
    """Keeps QP_PLANT_LEAK_BYTES (default 524: 0.5 MiB per 1000 calls) of every call: a leak."""

    def __init__(self):
        super().__init__()
        self.kept = []
        self.size = int(os.environ.get("QP_PLANT_LEAK_BYTES", "524"))

    def forward(self, image, params):
        self.kept.append(bytes(max(0, self.size - 33)))  # a bytes object carries 33 bytes of header
        return super().forward(image, params)


class SlowsDown(torch.nn.Module):
    """Each call slower than the last, by QP_PLANT_SLOWING (default 0.15) of the usual call time per
    1000 calls: a 1000-call stress run ends about 15% slower than it began, and it goes on. The
    usual call time is the median time between the starts of the first 100 calls (the stress run's
    warm-up: the whole call, with what the harness adds around forward), so the busy work added is
    a share of what the stress run times."""

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.rate = float(os.environ.get("QP_PLANT_SLOWING", "0.15")) / 1000
        self.last = None
        self.periods = []

    def forward(self, image, params):
        now = time.perf_counter()
        self.calls += 1
        if self.calls <= 100:
            if self.last is not None:
                self.periods.append(now - self.last)
            self.last = now
        out = super().forward(image, params)
        if self.calls > 100:
            usual = sorted(self.periods)[len(self.periods) // 2]
            until = time.perf_counter() + usual * self.rate * (self.calls - 100)
            while time.perf_counter() < until:
                pass
        return out


class TorchvisionQuality(torch.nn.Module):
    """An untrained torchvision mobilenet_v3_small given as a user model: image features plus the
    conversion parameters to one score per image."""

    def __init__(self):
        super().__init__()
        from torchvision.models import mobilenet_v3_small

        torch.manual_seed(0)
        self.backbone = mobilenet_v3_small(num_classes=32)
        self.head = torch.nn.Linear(32 + 13, 1)

    def forward(self, image, params):
        features = torch.cat([self.backbone(image), params], dim=1)
        return torch.sigmoid(self.head(features)).squeeze(1)


class LeakyCompact(Leaks, CompactQualityModel):
    pass


class SlowingCompact(SlowsDown, CompactQualityModel):
    pass


class LeakyTorchvision(Leaks, TorchvisionQuality):
    pass


class SlowingTorchvision(SlowsDown, TorchvisionQuality):
    pass


def leaky_compact():
    return LeakyCompact()


def slowing_compact():
    return SlowingCompact()


def torchvision_model():
    return TorchvisionQuality()


def leaky_torchvision():
    return LeakyTorchvision()


def slowing_torchvision():
    return SlowingTorchvision()


# Torch work between a runtime variant's calls: openvino-int8, with a 2-thread torch matmul run
# before every call in the process that built it (where torch's OpenMP threads then spin). Its
# figures, made in the torch-free worker, must read as openvino-int8's (issue: "A recommendation
# that holds"; recommendation.sh's planted run).
class TorchBetween:
    serves_numpy = True

    def __init__(self, inner):
        self.inner, self.runner = inner, inner.runner
        self.work = torch.randn(384, 384)

    def __call__(self, image, params):
        self.work @ self.work
        return self.inner(image, params)


def build_torch_between(ctx):
    from qpbench.variants.openvino import build_openvino_int8

    variant = build_openvino_int8(ctx)
    variant.name = "openvino-int8-torch-between"
    variant.module = TorchBetween(variant.module)
    return variant


def pytest_qpbench_register_variants(registry):
    registry.register(VariantSpec("planted", "eager, slowed by QP_PLANT_SLOWDOWN", build_planted))
    registry.register(VariantSpec("openvino-int8-torch-between",
                                  "openvino-int8 with torch work before every call in its build process",
                                  build_torch_between, quantized=True))
