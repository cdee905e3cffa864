"""The one timing loop: wall time of repeated calls.

Every measurement and every measured choice (latency rounds, the layout and
thread sweeps of the builders) times calls through these two functions, so a
change to how a call is timed (the clock, the warm-up) is made once.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def time_calls(fn: Callable[[], object], rounds: int, timer: Callable[[], float] = time.perf_counter,
               warmup: int = 0) -> list[float]:
    """Wall time of each of ``rounds`` calls, in seconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(rounds):
        start = timer()
        fn()
        samples.append(timer() - start)
    return samples


def median_call_s(fn: Callable[[], object], rounds: int, timer: Callable[[], float] = time.perf_counter,
                  warmup: int = 1) -> float:
    """Median seconds per call; the warm-up calls come first (they allocate and pick kernels)."""
    return statistics.median(time_calls(fn, rounds, timer, warmup))
