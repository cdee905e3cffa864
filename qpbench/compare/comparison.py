"""A comparison of a run with a baseline, as data: per variant and metric, the change,
its interval and a verdict. ``qpbench.compare.runs`` computes it; the run record holds it;
the renderers and the regression gate read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qpbench.schema.shape import Written

REGRESSED = "regressed"
IMPROVED = "improved"
UNCHANGED = "unchanged"
NOT_COMPARABLE = "not comparable"


@dataclass(frozen=True)
class MetricChange(Written):
    variant: str
    metric: str  # e.g. "speed_ratio_b1", "latency_b4_p50_ms", "pearson"
    family: str
    baseline: float | None
    current: float | None
    change: float | None  # relative (fraction) or absolute, see ``relative``
    relative: bool
    ci_low: float | None  # confidence interval of ``change`` (None: no samples)
    ci_high: float | None
    threshold: float
    verdict: str
    reason: str  # why this verdict, in words


@dataclass(frozen=True)
class Comparison(Written):
    __json_names__ = {"baseline_label": "baseline", "current_label": "current"}
    __json_derived__ = ("counts",)  # written for readers of the file
    __json_order__ = ("baseline", "current", "same_machine", "machine_differences", "any_machine", "counts", "notes")
    __json_omit_empty__ = ("baseline_path", "thresholds", "gate")

    baseline_label: str
    current_label: str
    same_machine: bool
    machine_differences: tuple[str, ...]
    any_machine: bool  # absolute metrics compared although the machines differ
    changes: tuple[MetricChange, ...]
    notes: tuple[str, ...] = ()
    # What a run adds when it records the comparison (--qp-compare): where the baseline was,
    # the thresholds used and the regression gate's outcome.
    baseline_path: str | None = None
    thresholds: Mapping[str, Any] | None = None
    gate: Mapping[str, Any] | None = None

    def with_verdict(self, verdict: str) -> list[MetricChange]:
        return [c for c in self.changes if c.verdict == verdict]

    @property
    def regressions(self) -> list[MetricChange]:
        return self.with_verdict(REGRESSED)

    @property
    def comparable(self) -> list[MetricChange]:
        return [c for c in self.changes if c.verdict != NOT_COMPARABLE]

    def counts(self) -> dict[str, int]:
        return {v: len(self.with_verdict(v)) for v in (REGRESSED, IMPROVED, UNCHANGED, NOT_COMPARABLE)}
