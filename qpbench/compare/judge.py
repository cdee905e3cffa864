"""How a change is judged: the comparison's statistics (``COMPARISON``), a relative change
against its confidence interval and threshold, an absolute one against its threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

from qpbench.compare.comparison import IMPROVED, REGRESSED, UNCHANGED


@dataclass(frozen=True)
class ComparisonStats:
    """How a change is judged."""

    confidence: float = 0.95  # of the bootstrap interval of a change
    # Absolute times are compared on a low quantile: other processes on a shared machine only
    # ever add time to a call, so bursts of interference move the median and the tail, while
    # the fast part of the distribution still tracks the code's own speed (a slower code path
    # moves it too). Ratios measured in pairs need no such guard and use the median.
    latency_quantile: float = 0.10
    # Below this many samples a p10 is the minimum and its bootstrap interval means little:
    # such a latency is reported, not judged.
    min_latency_samples: int = 20
    bootstrap_resamples: int = 2000
    # The machine's speed, read from the probe's own p10, may differ this much (relative) between a
    # run and the baseline's usual before the reference/probe ratio is no longer compared: in the
    # host's slow spells (probe 30-40% slower) a 1-ms model slowed twice as much as the probe.
    probe_speed_tolerance: float = 0.15


COMPARISON = ComparisonStats()


def judge_relative(change: float, low: float | None, high: float | None, threshold: float,
                   higher_is_worse: bool = True) -> tuple[str, str]:
    """Verdict for a relative change: a regression only when the whole confidence interval lies
    beyond the threshold (the change is significant *and* at least the minimum effect).

    Without samples (a single value per run) the threshold alone decides.
    """
    sign = 1.0 if higher_is_worse else -1.0
    if low is None or high is None:
        worst_case_worse = best_case_worse = sign * change
        basis = "single value, no samples"
    else:
        # The interval of "how much worse", whichever direction is worse.
        best_case_worse, worst_case_worse = sorted((sign * low, sign * high))
        basis = f"{COMPARISON.confidence:.0%} interval [{low:+.1%}, {high:+.1%}]"
    if best_case_worse > threshold:
        return REGRESSED, f"{change:+.1%}, interval beyond the {threshold:.0%} threshold: {basis}"
    if worst_case_worse < -threshold:
        return IMPROVED, f"{change:+.1%}, interval beyond the {threshold:.0%} threshold: {basis}"
    if abs(change) > threshold:
        return UNCHANGED, f"{change:+.1%}, but the interval reaches within the {threshold:.0%} threshold: {basis}"
    return UNCHANGED, f"{change:+.1%} within the {threshold:.0%} threshold: {basis}"


def judge_absolute(change: float, higher_is_better: bool, limit: float) -> tuple[str, str]:
    """(verdict, reason) of a deterministic difference against an absolute threshold."""
    worse = -change if higher_is_better else change
    if worse > limit:
        return REGRESSED, f"{change:+.4f} beyond the {limit:g} threshold (deterministic on the same data)"
    if -worse > limit:
        return IMPROVED, f"{change:+.4f} beyond the {limit:g} threshold (deterministic on the same data)"
    return UNCHANGED, f"{change:+.4f} within the {limit:g} threshold"
