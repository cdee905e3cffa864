"""The run's CI gate: the score gate (--qp-fail-under) and the regression gate
(--qp-fail-on-regression), reported together.

A gate result is its lines as printed; the run fails when either gate fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qpbench.scoring import Verdict


@dataclass(frozen=True)
class GateResult:
    failed: bool = False
    lines: tuple[str, ...] = ()

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
