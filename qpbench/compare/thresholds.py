"""The regression thresholds of a comparison: one per metric family (relative ones a fraction of
the baseline, absolute ones in the metric's unit), with per-variant overrides from the
``qp_regression`` marker, and the families a regression gate fails on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qpbench.config import DEFAULT_THRESHOLDS
from qpbench.errors import ConfigError


ALL_VARIANTS = "*"


@dataclass(frozen=True)
class Thresholds:
    """Per-family thresholds, with per-variant overrides (from the marker)."""

    default: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    per_variant: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # variant -> family -> value

    def __post_init__(self) -> None:
        for where, values in [("", self.default), *((f" for {v}", o) for v, o in self.per_variant.items())]:
            for name, value in values.items():
                check_threshold(name, value, where)

    def get(self, family: str, variant: str) -> float:
        """The variant's own override, else one for every variant ("*"), else the default."""
        for key in (variant, ALL_VARIANTS):
            if family in self.per_variant.get(key, {}):
                return float(self.per_variant[key][family])
        return float(self.default[family])


def check_threshold(name: str, value: Any, where: str = "") -> float:
    if name not in DEFAULT_THRESHOLDS:
        raise ConfigError(f"unknown regression threshold {name!r}{where}: choose from {list(DEFAULT_THRESHOLDS)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"regression threshold {name}{where} must be a number >= 0, got {value!r}")
    return float(value)


def make_thresholds(overrides: Mapping[str, float], per_variant: Mapping[str, Mapping[str, float]] | None = None) -> Thresholds:
    for name, value in overrides.items():
        check_threshold(name, value)
    return Thresholds({**DEFAULT_THRESHOLDS, **overrides}, dict(per_variant or {}))


def check_families(names: Sequence[str]) -> tuple[str, ...]:
    if "all" in names:
        return tuple(DEFAULT_THRESHOLDS)
    unknown = [n for n in names if n not in DEFAULT_THRESHOLDS]
    if unknown:
        raise ConfigError(f"unknown metric families {unknown} for the regression gate: choose from {list(DEFAULT_THRESHOLDS)} or all")
    return tuple(names)
