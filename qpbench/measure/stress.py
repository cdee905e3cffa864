"""Leaks and latency degradation from one extended run in a fresh process.

The worker (``stress_worker``) warms the variant up, then runs it ``iterations``
times on the same batch, timing each call and reading the process's RSS after
it. ``StressResult`` turns the two series into trends with confidence intervals
(``stats.block_trend``): a leak is RSS growth per 1000 inferences, a
degradation is the latency change over the run; each counts only when it is
significant (the interval excludes zero).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qpbench.config import WORKER_TIMEOUT_S
from qpbench.measure.isolation import run_worker, serve_without_torch, variant_request
from qpbench.runtime.rss import current_rss_mb
from qpbench.results import StressResult
from qpbench.workload import Workload


def stress_loop(
    call: Callable[[], object],
    iterations: int,
    warmup: int,
    timer: Callable[[], float] = time.perf_counter,
    rss: Callable[[], float] = current_rss_mb,
) -> tuple[list[float], list[float]]:
    """(latency per call in s, RSS after each call in MiB) over ``iterations`` calls after ``warmup``."""
    if iterations < 1 or warmup < 0:
        raise ValueError(f"iterations must be >= 1 and warmup >= 0, got {iterations} and {warmup}")
    for _ in range(warmup):
        call()
    # Preallocated arrays: growing lists of floats would be a leak of our own (about 64 KB per 1000 calls).
    latencies = np.zeros(iterations)
    rss_mb = np.zeros(iterations)
    for i in range(iterations):
        start = timer()
        call()
        latencies[i] = timer() - start
        rss_mb[i] = rss()
    return latencies.tolist(), rss_mb.tolist()


def trend_appears(latencies: list[float], rss_mb: list[float], n_blocks: int = 10) -> bool:
    """Whether RSS (over the second half) or latency (over the run) rises significantly: the run is
    then extended once, and the leak is judged on the extension alone (see StressResult)."""
    from qpbench import stats

    half = len(rss_mb) // 2
    if len(rss_mb) - half < 2 * n_blocks:
        return False
    rss = stats.block_trend(range(half, len(rss_mb)), rss_mb[half:], n_blocks)
    latency = stats.block_trend(range(len(latencies)), latencies, n_blocks, center="median")
    return rss.significant_increase or latency.significant_increase


def confirmed_stress_loop(call: Callable[[], object], iterations: int, warmup: int, extend: bool = True,
                          timer: Callable[[], float] = time.perf_counter,
                          rss: Callable[[], float] = current_rss_mb) -> tuple[list[float], list[float], int]:
    """``stress_loop``, extended by as many inferences again when a trend appears: growth that
    stops (allocator and runtime arenas filling) is then seen to stop, and only growth that goes
    on is a leak. Returns (latencies, RSS, inferences added)."""
    latencies, rss_mb = stress_loop(call, iterations, warmup, timer, rss)
    if not (extend and trend_appears(latencies, rss_mb)):
        return latencies, rss_mb, 0
    more_latencies, more_rss = stress_loop(call, iterations, 0, timer, rss)
    return latencies + more_latencies, rss_mb + more_rss, iterations


def measure_stress(
    workload: Workload,
    variant: str,
    builder_path: str,
    options: dict[str, Any],
    batch_size: int,
    iterations: int,
    warmup: int,
    timeout_s: float = WORKER_TIMEOUT_S,
) -> StressResult:
    """Run ``qpbench.measure.stress_worker`` in a new interpreter; ``WorkerFailed`` if it crashes or hangs."""
    with tempfile.TemporaryDirectory(prefix="qpbench-stress-") as tmp:
        request = variant_request(workload, tmp, variant, builder_path, options, batch_size)
        request.update(iterations=iterations, warmup=warmup)
        serve_without_torch(request, workload, Path(tmp), options, batch_size)
        report = run_worker("qpbench.measure.stress_worker", request, "stress", variant, timeout_s)
    return StressResult(
        variant=variant, batch_size=batch_size, warmup=warmup,
        baseline_rss_mb=report["baseline_rss_mb"], peak_rss_mb=report["peak_rss_mb"],
        latencies_s=tuple(report["latencies_s"]), rss_mb=tuple(report["rss_mb"]), extended=report.get("extended", 0),
    )
