"""The run's CI gate: the score gate (--qp-fail-under) and the regression gate
(--qp-fail-on-regression), reported together.

A gate result is its lines as printed; the run fails when either gate fails. A regression gate
that could not judge (every gated figure taken under load) neither passes nor fails: the run
ends with its own exit status, INCONCLUSIVE_EXIT, so CI can retry it rather than report a
regression.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Annotated

from qpbench.compare.comparison import Comparison
from qpbench.schema.shape import TEXT, Written
from qpbench.verdict import Verdict

# pytest's exit statuses 0-6 are its own (6: --max-warnings, pytest 9). 75 is EX_TEMPFAIL of
# sysexits.h, "a temporary failure; retry": GitLab's retry:exit_codes and shell loops can retry on it.
INCONCLUSIVE_EXIT = 75
# Why a figure was not judged that a retry on a quiet machine cures (compare.taken_under_load,
# compare.machine_speed_apart); another workload or CPU, or a missing figure, gives the same answer again.
PASSING_REASONS = ("taken under load", "the machine ran ")


@dataclass(frozen=True)
class GateResult(Written):
    __json_names__ = {"lines": "message"}  # a record holds the lines as one message
    __json_skip__ = ("inconclusive",)

    failed: bool = False
    lines: Annotated[tuple[str, ...], TEXT] = ()
    inconclusive: bool = False  # the regression gate could not judge (not failed): INCONCLUSIVE_EXIT

    @property
    def message(self) -> str | None:
        return "\n".join(self.lines) or None


@dataclass(frozen=True)
class GateSummary:
    score: GateResult = field(default_factory=GateResult)
    regression: GateResult = field(default_factory=GateResult)

    @property
    def failed(self) -> bool:
        return self.score.failed or self.regression.failed

    @property
    def inconclusive(self) -> bool:
        """No gate failed, and the regression gate could not judge."""
        return not self.failed and self.regression.inconclusive


def could_not_judge(comparison: Comparison, families: Collection[str]) -> bool:
    """Whether the regression gate could not judge: nothing was compared, and every figure of the
    gated ``families`` was left out for a passing reason (load, a slow spell of the machine)."""
    gated = [c for c in comparison.changes if c.family in families]
    return not comparison.comparable and bool(gated) and all(c.reason.startswith(PASSING_REASONS) for c in gated)


def exit_status(gate: GateSummary, status: int) -> int:
    """The run's exit status: pytest's ``status``, or INCONCLUSIVE_EXIT where everything else passed
    and the regression gate could not judge. A test or a gate that failed keeps its failure."""
    return INCONCLUSIVE_EXIT if status == 0 and gate.inconclusive else status


def score_gate(verdict: Verdict, threshold: float | None) -> GateResult:
    """Fails when no variant is ready or the recommended one scores below ``threshold``; no gate without one."""
    if threshold is None:
        return GateResult()
    if verdict.recommended is None:
        line = f"FAIL qpbench gate: no variant is ready, required a recommended variant scoring >= {threshold:g}"
        return GateResult(True, (line,))
    got = verdict.recommended_score or 0.0
    if got < threshold:
        return GateResult(True, (f"FAIL qpbench gate: recommended variant {verdict.recommended} scores {got:.1f} < {threshold:g}",))
    return GateResult(False, (f"PASS qpbench gate: recommended variant {verdict.recommended} scores {got:.1f} >= {threshold:g}",))


def hosts_score_gate(verdicts: dict[str, Verdict], threshold: float | None) -> GateResult:
    """One score gate per host: fails when any host fails; each line names its host, failures first."""
    gates = {host: score_gate(verdict, threshold) for host, verdict in verdicts.items()}
    lines = [f"{line} [{host}]" for host, gate in gates.items() for line in gate.lines]
    return GateResult(any(gate.failed for gate in gates.values()),
                      tuple(sorted(lines, key=lambda line: not line.startswith("FAIL"))))
