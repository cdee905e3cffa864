"""Interleaved A/B timing of a variant against the reference in the same run."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from qpbench.measure.stopping import StopRule, check, precision_of
from qpbench.results import PairedResult

Call = Callable[[], object]
Runtime = Callable[[], AbstractContextManager]


def settled(runtime: Runtime, seconds: float) -> Runtime:
    """``runtime`` followed, after the timed call, by ``seconds`` of sleep: torch's OpenMP threads
    spin for a few ms after a parallel region, and a runtime's call timed in that time competes
    with them for the cores (head_to_head.SETTLE_S)."""

    @contextmanager
    def run() -> Iterator[None]:
        with runtime():
            yield
        time.sleep(seconds)

    return run


def _timed(fn: Call, runtime: Runtime, timer: Callable[[], float]) -> float:
    with runtime():  # each side runs under its own thread settings; only the call is timed
        start = timer()
        fn()
        return timer() - start


def abba(pairs: int) -> Iterator[bool]:
    """True: the variant first in this pair. ABBA order cancels a first-or-second bias."""
    for i in range(pairs):
        yield i % 2 == 0


def time_paired(
    variant: Call, variant_runtime: Runtime, reference: Call, reference_runtime: Runtime, pairs: int,
    timer: Callable[[], float] = time.perf_counter,
) -> tuple[list[float], list[float]]:
    """``pairs`` calls of each, alternating; returns (variant times, reference times), paired by index."""
    if pairs < 1:
        raise ValueError(f"pairs must be >= 1, got {pairs}")
    v_s: list[float] = []
    r_s: list[float] = []
    for variant_first in abba(pairs):
        if variant_first:
            v_s.append(_timed(variant, variant_runtime, timer))
            r_s.append(_timed(reference, reference_runtime, timer))
        else:
            r_s.append(_timed(reference, reference_runtime, timer))
            v_s.append(_timed(variant, variant_runtime, timer))
    return v_s, r_s


def paired_until(
    variant_name: str, variant: Call, variant_runtime: Runtime,
    reference_name: str, reference: Call, reference_runtime: Runtime,
    batch_size: int, rule: StopRule, pair_s: float, warmup: int = 1, timer: Callable[[], float] = time.perf_counter,
) -> PairedResult:
    """Pairs in ABBA blocks (an even number each) until ``rule``, on the median ratio, says stop."""
    if warmup:
        time_paired(variant, variant_runtime, reference, reference_runtime, warmup, timer)
    block = max(2, 2 * int(0.125 // pair_s)) if pair_s > 0 else 2
    v_s: list[float] = []
    r_s: list[float] = []
    start = timer()
    while True:
        v, r = time_paired(variant, variant_runtime, reference, reference_runtime,
                           min(block, rule.max_samples - len(v_s)), timer)
        v_s += v
        r_s += r
        ratios = [a / b for a, b in zip(v_s, r_s) if a > 0 and b > 0] or [math.nan]
        reached = check(ratios, rule, timer() - start)
        if reached is None and len(v_s) >= rule.max_samples:
            reached = precision_of(ratios, rule, timer() - start, "max_samples")
        if reached is not None:
            return PairedResult(variant_name, reference_name, batch_size, tuple(v_s), tuple(r_s),
                                precision=reached.to_dict())
