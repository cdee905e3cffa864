"""Latency: how many rounds to time, and results from pytest-benchmark's raw samples."""

from __future__ import annotations

import math

from qpbench.config import Profile
from qpbench.results import LatencyResult


def rounds_for(call_s: float, profile: Profile) -> int:
    """Rounds that fill the profile's time budget, within its min/max."""
    if call_s <= 0 or not math.isfinite(call_s):
        return profile.max_rounds
    return int(min(profile.max_rounds, max(profile.min_rounds, profile.latency_budget_s // call_s)))


def from_benchmark(benchmark: object, variant: str, batch_size: int) -> LatencyResult:
    """A LatencyResult from the raw per-round times pytest-benchmark kept."""
    stats = getattr(benchmark, "stats", None)
    data = getattr(getattr(stats, "stats", None), "data", None)
    if not data:
        raise RuntimeError("pytest-benchmark recorded no samples (is it disabled?)")
    return LatencyResult(variant=variant, batch_size=batch_size, samples_s=tuple(float(x) for x in data))
