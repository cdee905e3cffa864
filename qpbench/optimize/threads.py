"""Intra-op thread settings: a restoring context manager and a measured sweep."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from qpbench.runtime.cpu_quota import usable_cpus
from qpbench.timing import median_call_s


@contextlib.contextmanager
def thread_settings(num_threads: int | None) -> Iterator[None]:
    """Set torch's intra-op thread count inside the block and restore it after."""
    import torch

    if num_threads is None:
        yield
        return
    if num_threads < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}")
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def candidate_thread_counts(logical_cores: int | None = None, root: Path = Path("/")) -> list[int]:
    """1, 2, 4, ... up to the cores this process may use, plus that count itself.

    The default count is the affinity capped by a container's CPU quota (``root``: where
    /proc and the cgroup files are, for tests): threads past the quota only add throttling.
    """
    if logical_cores is None:
        logical_cores = usable_cpus(root)
    counts = {logical_cores}
    n = 1
    while n < logical_cores:
        counts.add(n)
        n *= 2
    return sorted(counts)


@dataclass(frozen=True)
class SweepResult:
    best: int
    median_s: dict[int, float]  # thread count -> median seconds per call


def sweep_threads(
    run: Callable[[], object],
    candidates: list[int],
    rounds: int = 5,
    warmup: int = 1,
    timer: Callable[[], float] = time.perf_counter,
) -> SweepResult:
    """Time ``run`` at each thread count (median of ``rounds``) and pick the fastest.

    Ties go to fewer threads: the same speed with fewer threads leaves cores to
    the rest of the service.
    """
    if not candidates:
        raise ValueError("no thread counts to sweep")
    medians: dict[int, float] = {}
    for n in candidates:
        with thread_settings(n):
            medians[n] = median_call_s(run, rounds, timer, warmup)
    return SweepResult(best=fastest(medians), median_s=medians)


def fastest(median_s: dict[int, float]) -> int:
    """The thread count with the lowest median; ties go to fewer threads."""
    return min(median_s, key=lambda n: (median_s[n], n))
