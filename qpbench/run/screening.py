"""Which variants the run keeps measuring after the screen (docs/engine.md, "How long").

The run measures every variant's screen first: its build, accuracy and fidelity, batch-1
latency, paired speed against the reference and kernels. Those hold every hard gate and the
figures the recommendation is made from (the fastest ready variant, ``verdict/scoring.py``). The
other measurements (the larger batch sizes, throughput, memory, agreement with the runtime's
tool, and the long runs: stress, concurrency, LoadGen) then go to the variants that can still
be recommended: those not clearly out of the running. A variant is clearly out when it failed
while being built or measured, or missed a hard gate or the quantization rule by a figure that
is not in doubt (a batch-1 p95 whose interval still holds the target is in doubt, so the
variant is measured further). A failure always screens out. A variant whose screen did not run (``-k`` deselected it) is
kept: nothing is known against it. A variant whose screen score is within
``MEASURE.screen_margin_points`` of the best kept one's (of every variant's, when none is
left) is kept too, so every variant that may end within that many points of the recommended
one is measured in full.

``--qp-long-run``: ``ready`` keeps what the screen keeps, ``all`` keeps every variant, and names
add those variants to the screen's choice. ``contenders`` (the default) measures in full
only the kept variants a head-to-head may find tied with the fastest of them (their batch-1
medians within ``HEAD_TO_HEAD_WITHIN`` of its, verdict/decision.py), the fastest first; the run
measures the other kept variants after them, by speed, and each is measured in full only when no
variant measured in full before it is still ready (``standby_reason``): the recommended variant
is always measured in full, and the others say why they were not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from qpbench.config import ScoringConfig
from qpbench.measure.defaults import MEASURE
from qpbench.criteria import CRITERIA
from qpbench.results import LatencyResult, Result
from qpbench.verdict.decision import contenders as race
from qpbench.verdict.scoring import score
from qpbench.verdict import VariantVerdict

ALL = "all"
READY = "ready"
CONTENDERS = "contenders"
POLICIES = (ALL, READY, CONTENDERS)


@dataclass(frozen=True)
class Screen:
    """The screen's decision: the variants measured further, and why the others are not."""

    policy: tuple[str, ...]  # the --qp-long-run value
    kept: tuple[str, ...]
    out: dict[str, str] = field(default_factory=dict)  # variant -> why it is not measured further
    # --qp-long-run=contenders: the kept variants measured in full whatever comes after them, the
    # fastest first, and every kept variant by batch-1 median (those without one last): the order
    # the run measures them in.
    contenders: tuple[str, ...] = ()
    order: tuple[str, ...] = ()
    p50: dict[str, float] = field(default_factory=dict)  # the kept variants' screen batch-1 medians, ms
    ready: frozenset[str] = frozenset()  # the kept variants ready at the screen (the others: p95 in doubt)

    def keeps(self, variant: str) -> bool:
        return variant not in self.out

    @property
    def by_speed(self) -> bool:
        """Whether the run measures the kept variants by speed and the slower ones on standby."""
        return CONTENDERS in self.policy and bool(self.contenders)

    def to_dict(self) -> dict[str, object]:
        return {"policy": list(self.policy), "kept": list(self.kept),
                "screened_out": [{"variant": k, "reason": v} for k, v in self.out.items()]}


def standby_reason(screen: Screen, variant: str, standing: Sequence[str]) -> str | None:
    """Under ``contenders``: why a kept variant that is not a contender gets no long runs (None: it
    is measured in full), given ``standing``, the variants measured in full before it that are still
    ready and confirmed. With none standing it is measured in full: the next ready one by speed."""
    if not screen.by_speed or variant in screen.contenders or variant not in screen.kept or not standing:
        return None
    best = min(standing, key=lambda n: screen.p50.get(n, float("inf")))
    mine, theirs = screen.p50.get(variant), screen.p50.get(best)
    slower = f"{mine / theirs:.1f}x slower than {best}" if mine and theirs else f"slower than {best}"
    state = "ready at the screen" if variant in screen.ready else "its batch-1 p95 too close to call at the screen"
    return f"{state}, {slower} at batch 1, which its long runs left ready: long runs not made"


def p95_in_doubt(results: Iterable[Result]) -> set[str]:
    """Variants whose batch-1 p95 interval still held the target when its timing stopped."""
    return {r.variant for r in results if isinstance(r, LatencyResult) and r.batch_size == 1
            and r.precision is not None and r.precision.get("p95_decided") is False}


def out_reasons(v: VariantVerdict, in_doubt: set[str]) -> list[str]:
    """Why ``v`` cannot be recommended whatever is measured next (empty: it still can)."""
    if v.ready:
        return []
    reasons = [r for r in v.reasons if not r.endswith("not measured")]
    if v.variant in in_doubt:  # too close to call: the p95 alone does not rule it out
        reasons = [r for r in reasons if not r.startswith("latency_p95_ms ")]
    return reasons


def failed(reasons: Sequence[str]) -> bool:
    """Whether a variant's reasons include a failure (a build or measurement that crashed, a
    silent fallback), not only targets or rules it missed."""
    misses = tuple(f"{name} " for name in CRITERIA) + ("quantization rule:", "bf16 rule:")
    return any(not r.startswith(misses) for r in reasons)


def decide(results: Sequence[Result], errors: Mapping[str, list[str]], config: ScoringConfig, reference: str,
           variants: Sequence[str], policy: Sequence[str] = (READY,)) -> Screen:
    """The variants (of ``variants``) measured after the screen, from the screen's results."""
    policy = tuple(policy) or (READY,)
    if ALL in policy:
        return Screen(policy, tuple(variants))
    verdict = score(results, config, reference, errors)
    by_name = {v.variant: v for v in verdict.variants}
    in_doubt = p95_in_doubt(results)
    out: dict[str, str] = {}
    for name in variants:
        v = by_name.get(name)
        reasons = [] if v is None else out_reasons(v, in_doubt)  # no screen (deselected): nothing against it
        if reasons:
            out[name] = "; ".join(reasons)
    # Every variant within the margin of the best screen score is measured in full too: of the
    # ready ones when there are any (the recommendation is among them), else of all. (Not under
    # ``contenders``: it measures what can still be recommended, and the scores rest on what every
    # variant got, verdict/scoring.py.)
    kept = [by_name[n].score for n in variants if n in by_name and n not in out]
    best = max(kept or [by_name[n].score for n in out if n in by_name] or [0.0])
    for name in list(out) if CONTENDERS not in policy else ():
        v = by_name.get(name)
        if v is not None and not failed(v.reasons) and v.score >= best - MEASURE.screen_margin_points:
            del out[name]
    named = [n for n in policy if n not in POLICIES]
    for name in named:
        out.pop(name, None)
    kept = tuple(n for n in variants if n not in out)
    if CONTENDERS not in policy:
        return Screen(policy, kept, out)
    p50 = {n: by_name[n].batch1_p50_ms for n in kept if n in by_name and by_name[n].batch1_p50_ms}
    first = race(p50)
    order = tuple(sorted(kept, key=lambda n: (n not in first, p50.get(n, float("inf")))))
    ready = frozenset(n for n in kept if n in by_name and by_name[n].ready)
    return Screen(policy, kept, out, tuple(dict.fromkeys([*first, *(n for n in named if n in kept)])), order, p50,
                  ready)
