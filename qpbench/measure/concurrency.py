"""Concurrent requests against one variant: caller threads sharing one copy of it,
and several processes, each with its own copy, the threads split between them.

Everything runs in fresh worker processes (``concurrency_worker``). Each worker
first runs every input once, serially, and keeps those outputs; then its
threads send requests for ``duration_s`` and every output is compared with the
serial one for the same input. A request that raises is an error; one whose
output differs by more than ``MEASURE.concurrency_max_abs_diff`` is a mismatch.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qpbench.config import WORKER_TIMEOUT_S
from qpbench.measure.defaults import MEASURE
from qpbench.measure.isolation import run_worker, run_workers, serve_without_torch, variant_request
from qpbench.results import ConcurrencyResult
from qpbench.workload import Workload



@dataclass
class ThreadRun:
    """What ``serve_threads`` saw (plain data, so a worker can print it as JSON)."""

    threads: int
    span_s: float
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    mismatches: int = 0
    max_abs_diff: float = 0.0
    error_messages: list[str] = field(default_factory=list)


def serve_threads(
    call: Callable[[int], np.ndarray],
    expected: list[np.ndarray],
    threads: int,
    duration_s: float,
    clock: Callable[[], float] = time.perf_counter,
) -> ThreadRun:
    """``threads`` threads call ``call(i)`` for inputs i in turn until ``duration_s`` has passed."""
    if threads < 1 or duration_s <= 0 or not expected:
        raise ValueError(f"need threads >= 1, duration_s > 0 and expected outputs, got {threads}, {duration_s}, {len(expected)}")
    lock = threading.Lock()
    run = ThreadRun(threads=threads, span_s=0.0)
    start_together = threading.Barrier(threads)
    stop_at = [0.0]

    def worker(index: int) -> None:
        start_together.wait()
        if index == 0:
            stop_at[0] = clock() + duration_s
        start_together.wait()
        latencies, diffs, errors, messages = [], [], 0, []
        i = index
        while clock() < stop_at[0]:
            sample = i % len(expected)
            i += threads
            t0 = clock()
            try:
                out = np.asarray(call(sample))
            except Exception as exc:  # a request that fails is counted, not fatal
                errors += 1
                messages.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            latencies.append(clock() - t0)
            diffs.append(float(np.max(np.abs(out - expected[sample]))) if out.shape == expected[sample].shape else np.inf)
        with lock:
            run.latencies_s += latencies
            run.errors += errors
            run.error_messages += messages[:3]
            run.mismatches += sum(d > MEASURE.concurrency_max_abs_diff for d in diffs)
            run.max_abs_diff = max([run.max_abs_diff, *diffs])

    pool = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
    begin = clock()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    run.span_s = clock() - begin
    return run


def _result(variant: str, processes: int, batch_size: int, runs: list[dict[str, Any]]) -> ConcurrencyResult:
    return ConcurrencyResult(
        variant=variant, processes=processes, threads=sum(r["threads"] for r in runs), batch_size=batch_size,
        duration_s=max(r["span_s"] for r in runs),
        latencies_s=tuple(x for r in runs for x in r["latencies_s"]),
        errors=sum(r["errors"] for r in runs), mismatches=sum(r["mismatches"] for r in runs),
        max_abs_diff=max(r["max_abs_diff"] for r in runs),
        error_messages=tuple(m for r in runs for m in r["error_messages"])[:5],
    )


def measure_concurrency(
    workload: Workload,
    variant: str,
    builder_path: str,
    options: dict[str, Any],
    batch_size: int,
    thread_counts: tuple[int, ...],
    processes: tuple[int, ...],
    duration_s: float,
    timeout_s: float = WORKER_TIMEOUT_S,
) -> list[ConcurrencyResult]:
    """One result per thread count in one process, then one per process count with the
    largest thread count split between the processes. ``WorkerFailed`` if a worker fails."""
    out: list[ConcurrencyResult] = []
    with tempfile.TemporaryDirectory(prefix="qpbench-conc-") as tmp:
        request = variant_request(workload, tmp, variant, builder_path, options, batch_size,
                                  n_images=MEASURE.concurrency_inputs * batch_size)
        request.update(thread_counts=list(thread_counts), duration_s=duration_s)
        serve_without_torch(request, workload, Path(tmp), options, MEASURE.concurrency_inputs * batch_size)
        report = run_worker("qpbench.measure.concurrency_worker", request, "concurrency", variant, timeout_s)
        out += [_result(variant, 1, batch_size, [run]) for run in report["runs"]]
        total = max(thread_counts)
        for n in processes:
            if n < 2:
                continue
            per_process = max(1, total // n)
            barrier = tempfile.mkdtemp(dir=tmp, prefix=f"barrier-{n}-")
            reqs = [{**request, "thread_counts": [per_process], "barrier": {"dir": barrier, "parties": n}} for _ in range(n)]
            reports = run_workers("qpbench.measure.concurrency_worker", reqs, "concurrency", variant, timeout_s)
            out.append(_result(variant, n, batch_size, [r["runs"][0] for r in reports]))
    return out
