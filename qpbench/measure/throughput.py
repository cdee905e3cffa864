"""Sustained throughput: whole batches back to back, for a fixed duration or until the mean
batch time is precise (a stopping rule, measure/stopping.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

from qpbench.measure.stopping import StopRule, measure_until
from qpbench.results import ThroughputResult


def throughput_until(run_batch: Callable[[], object], variant: str, batch_size: int, rule: StopRule,
                     call_s: float, clock: Callable[[], float] = time.perf_counter) -> ThroughputResult:
    """Batches back to back until ``rule`` (on the mean batch time) says stop; images over the
    sum of the batches' times."""
    times, reached = measure_until(run_batch, rule, call_s, timer=clock)
    return ThroughputResult(variant=variant, batch_size=batch_size, images=len(times) * batch_size,
                            duration_s=sum(times), precision=reached.to_dict())
