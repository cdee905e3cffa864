"""The verdict's types: each criterion's judgement, each variant's, the quantization candidates
and the verdict of the run, with the scoring it was judged under. ``scoring.score`` makes them;
the record, the reports and the gates read them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any

from qpbench import criteria
from qpbench.config import QuantThresholds, ScoringConfig, Targets
from qpbench.schema.shape import OPEN_ENDS, Written


# In the reason of a variant whose hard-gate figure is met on its estimate with an interval that
# holds the target (scoring.judge_variant): not shown to meet it, so not ready.
TOO_CLOSE = "too close to call against the target"


@dataclass(frozen=True)
class CriterionVerdict(Written):
    name: str
    value: float | None  # None: not measured
    target: float
    unit: str
    higher_is_better: bool
    hard_gate: bool
    weight: float
    passed: bool | None  # None: not measured
    score: float | None  # in [0, 1]
    # The figure's 95% interval where its samples give one, and the call it supports against the
    # target: "met", "missed" or "inconclusive" (criteria.py); None: not measured.
    interval: Annotated[tuple[float, float] | None, OPEN_ENDS] = None
    call: str | None = None

    @property
    def inconclusive(self) -> bool:
        return self.call == criteria.INCONCLUSIVE

    @property
    def unbounded(self) -> bool:
        """Passing on the estimate, with too few samples to bound it (not "too close to call")."""
        return self.call == criteria.UNBOUNDED


@dataclass(frozen=True)
class VariantVerdict(Written):
    __json_omit_empty__ = ("accuracy_samples",)  # records written before have none
    variant: str
    criteria: tuple[CriterionVerdict, ...]
    score: float  # 0-100 over the measured criteria of the run's score basis (Verdict.score_basis)
    ready: bool
    reasons: tuple[str, ...]  # why it is not ready
    batch1_p50_ms: float | None
    speedup_vs_reference: float | None  # reference batch-1 p50 / this one's
    artifact_mb: float | None = None  # serialized artifact on disk, in MB of 10**6 bytes (a file size, not RSS)
    size_reduction: float | None = None  # reference artifact / this one's
    kernels: str | None = None  # e.g. "int8 53/53 conv (avx512_core_vnni)": what the heavy operators ran in
    achieved_ops_per_s: float | None = None  # the model's operations per image / batch-1 median
    peak_ops_per_s: float | None = None  # the machine's peak for the precision the variant claims
    # The samples its accuracy figures rest on, and the evaluation set's size, where the looks
    # decided before the whole set (measure/accuracy.py); None: the whole set, or not measured.
    accuracy_samples: tuple[int, int] | None = None

    def criterion(self, name: str) -> CriterionVerdict:
        return next(c for c in self.criteria if c.name == name)

    @property
    def at_gate(self) -> bool:
        """Not ready only because of hard gates too close to call (their intervals hold their
        targets), on whichever side of the target each estimate fell."""
        close = {c.name for c in self.criteria if c.hard_gate and c.inconclusive}
        return not self.ready and bool(close) and all(r.split(" ", 1)[0] in close for r in self.reasons)


@dataclass(frozen=True)
class QuantCandidate(Written):
    """A quantized variant judged by the plan's rule against the fp32 reference."""

    variant: str
    corr_loss: float | None  # relative Pearson loss vs labels
    mae_increase: float | None  # relative MAE increase vs labels
    speedup: float | None  # batch-1 median, reference / this
    size_reduction: float | None
    accepted: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class VariantReason(Written):
    """A variant and why (it was skipped, or screened out); unpacks as ``name, reason``."""

    variant: str
    reason: str

    def __iter__(self) -> Iterator[str]:
        return iter((self.variant, self.reason))


@dataclass(frozen=True, kw_only=True)
class Verdict(Written):
    """The verdict, and the scoring it was judged under (its targets, weights, hard gates and
    quantization rule: ``config``)."""

    __json_derived__ = ("recommended_score",)
    __json_order__ = ("recommended", "recommended_score")
    __json_omit_empty__ = ("score_basis",)

    recommended: str | None
    reference: str
    critical_issues: tuple[str, ...]
    recommendations: tuple[str, ...]
    targets: Targets
    weights: dict[str, float]
    hard_gates: tuple[str, ...]
    variants: tuple[VariantVerdict, ...]
    skipped: tuple[VariantReason, ...] = ()  # the technique does not apply
    quantization: tuple[QuantCandidate, ...] = ()
    best_quantization: str | None = None  # the fastest accepted quantization method
    screened_out: tuple[VariantReason, ...] = ()  # not measured after the screen
    tie: tuple[str, ...] = ()  # the fastest variants a head-to-head could not tell apart, the pick first (verdict/decision.py)
    quant_thresholds: QuantThresholds = field(default_factory=QuantThresholds)
    # The criteria every variant's score rests on, where the run measured some criteria for some
    # variants only (the screen left the others out): those are judged, not scored. Empty: every
    # variant got every criterion measured in the run, and each score rests on all of them.
    score_basis: tuple[str, ...] = ()

    @classmethod
    def of(cls, config: ScoringConfig, **parts: Any) -> Verdict:
        """The verdict ``parts`` under ``config``."""
        return cls(targets=config.targets, weights=dict(config.weights), hard_gates=tuple(config.hard_gates),
                   quant_thresholds=config.quant, **parts)

    @cached_property
    def config(self) -> ScoringConfig:
        return ScoringConfig(self.targets, dict(self.weights), self.hard_gates, self.quant_thresholds)

    @property
    def recommended_score(self) -> float | None:
        for v in self.variants:
            if v.variant == self.recommended:
                return v.score
        return None
