"""Sustained throughput: whole batches back to back for a fixed duration."""

from __future__ import annotations

import time
from collections.abc import Callable

from qpbench.results import ThroughputResult


def measure_throughput(
    run_batch: Callable[[], object],
    variant: str,
    batch_size: int,
    duration_s: float,
    clock: Callable[[], float] = time.perf_counter,
) -> ThroughputResult:
    """Run batches until ``duration_s`` has passed; count only completed batches.

    At least one batch always runs, so a batch slower than the duration still
    yields a (low) figure rather than nothing.
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    start = clock()
    batches = 0
    elapsed = 0.0
    while batches == 0 or elapsed < duration_s:
        run_batch()
        batches += 1
        elapsed = clock() - start
    return ThroughputResult(variant=variant, batch_size=batch_size, images=batches * batch_size, duration_s=elapsed)
