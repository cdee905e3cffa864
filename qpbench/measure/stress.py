"""Leaks and latency degradation from one extended run in a fresh process.

The worker (``stress_worker``) warms the variant up, then runs it ``iterations``
times on the same batch, timing each call and reading the process's RSS after
it. ``StressResult`` turns the two series into trends with confidence intervals
(``stats.block_trend``): a leak is RSS growth per 1000 inferences, a
degradation is the latency change over the run; each counts only when it is
significant (the interval excludes zero).
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from qpbench.config import WORKER_TIMEOUT_S, Targets
from qpbench.measure.isolation import run_worker, serve_without_torch, variant_request
from qpbench.runtime.rss import current_rss_mb
from qpbench.results import StressResult, latency_trend
from qpbench.workload import Workload

if TYPE_CHECKING:
    from qpbench.stats import Trend


EXTEND_CONFIDENCE = 0.8  # the test that extends a stress run; the judgement after is at 95%
EARLY_CONFIDENCE = 0.99  # the bounds a run must show below the targets to end before its ceiling
CHECK_EVERY = 100  # inferences between two looks of the stopping rule, from the floor on
PROBE_EVERY = 5  # the probe is timed after every 5th inference at least: 10 times in each of 20 blocks of 1000
PROBE_SHARE = 0.02  # and more often (after every inference at most) as long as it takes under 2% of the run
PROBE_VALUES = 100_000


def probe_values() -> np.ndarray:
    """The probes' fixed input: ``PROBE_VALUES`` doubles in [0, 1), the same in every worker."""
    return np.random.default_rng(20261128).random(PROBE_VALUES)


def machine_probe() -> Callable[[], object]:
    """The stress run's machine-speed probe: a square root over 100,000 fixed doubles into a buffer
    made once, then their sum (about 0.3 ms). It allocates nothing, so it can neither hide a leak
    (a network's freed activations leave heap holes that a small leak fills without growing RSS)
    nor fake one, and it needs only numpy, so the torch-free runtime workers run it too."""
    values = probe_values()
    out = np.empty_like(values)

    def probe() -> object:
        np.sqrt(values, out=out)
        return out.sum()

    return probe


def pool_probe() -> Callable[[], object]:
    """The probe of a worker that runs a torch model: the same square root and sum, in torch, into
    tensors made once, so they run on the intra-op thread pool the model's own kernels run on
    (100,000 doubles split over its threads; about 0.1 ms at two threads). A step in the pool's
    speed that one thread does not feel (another tenant's work beside one of the two vCPUs, the
    threads moved) then shows in the probe: in five 3000-call runs of an untrained mobilenet_v3_small
    on the AVX-512 AMD EPYC, one stepped from 2.72 to 3.25 ms mid-run; this probe's block medians
    followed it (correlation 0.97) where ``machine_probe``'s did not (-0.49). It allocates nothing
    either (0.001 MB of heap over 100,000 calls)."""
    import torch

    values = torch.from_numpy(probe_values())
    out = torch.empty_like(values)
    total = torch.empty((), dtype=values.dtype)

    def probe() -> object:
        torch.sqrt(values, out=out)
        return torch.sum(out, dim=0, out=total)

    return probe


class StressSeries(NamedTuple):
    """What a stress run records per inference after warm-up: its latency (s), the RSS after it
    (MiB), the probe's time after it (s, None between probes) and the malloc'd memory in use after
    it (MiB; empty without a heap reader)."""

    latencies_s: list[float]
    rss_mb: list[float]
    probe_s: list[float | None]
    heap_mb: list[float]

    def then(self, more: StressSeries) -> StressSeries:
        return StressSeries(*(a + b for a, b in zip(self, more)))


def stress_loop(
    call: Callable[[], object],
    iterations: int,
    warmup: int,
    timer: Callable[[], float] = time.perf_counter,
    rss: Callable[[], float] = current_rss_mb,
    probe: Callable[[], object] | None = None,
    heap: Callable[[], float | None] | None = None,
    stop: Callable[[StressSeries], bool] | None = None,
    floor: int | None = None,
) -> StressSeries:
    """``iterations`` calls after ``warmup``, each timed, with the RSS read after it. With a
    ``probe`` (the machine-speed probe), it is timed after the first call and then after every
    ``probe_cadence``-th: the machine's speed through the run, so the slowdown is judged with it
    held fixed. With a ``heap``
    reader (``heap_in_use_mb``), the malloc'd memory in use is read after every call too. With a
    ``stop`` rule (``shown_flat``), the run ends early, at a multiple of ``CHECK_EVERY`` calls from
    ``floor`` on, once the rule holds on the series so far."""
    if iterations < 1 or warmup < 0:
        raise ValueError(f"iterations must be >= 1 and warmup >= 0, got {iterations} and {warmup}")
    floor = iterations if floor is None else max(1, min(floor, iterations))
    for i in range(warmup):
        call()
        if probe is not None and i % PROBE_EVERY == 0:
            probe()  # the probe's own buffers and kernel caches fill here, not in the measured RSS
    if heap is not None and heap() is None:
        heap = None  # no glibc: RSS alone
    # Preallocated arrays: growing lists of floats would be a leak of our own (about 64 KB per 1000 calls).
    latencies = np.zeros(iterations)
    rss_mb = np.zeros(iterations)
    probe_s = np.full(iterations, np.nan)
    heap_mb = np.zeros(iterations)
    every = PROBE_EVERY
    for i in range(iterations):
        start = timer()
        call()
        latencies[i] = timer() - start
        rss_mb[i] = rss()
        if heap is not None:
            heap_mb[i] = heap()
        if probe is not None and i % every == 0:
            start = timer()
            probe()
            probe_s[i] = timer() - start
            if i == 0:
                every = probe_cadence(float(latencies[0]), float(probe_s[0]))
        done = i + 1
        if stop is not None and done >= floor and done < iterations and (done - floor) % CHECK_EVERY == 0:
            # Views of the arrays: the rule reads them without making a Python float per sample (lists
            # of those, longer at each look, grew RSS by 0.1-0.3 MB per 1000 calls: a leak of our own).
            if stop(StressSeries(latencies[:done], rss_mb[:done], probe_s[:done],
                                 heap_mb[:done] if heap is not None else heap_mb[:0])):
                return as_series(done, latencies, rss_mb, probe_s, heap_mb if heap is not None else None)
    return as_series(iterations, latencies, rss_mb, probe_s, heap_mb if heap is not None else None)


def probe_cadence(call_s: float, probe_s: float) -> int:
    """Every how many calls the probe is timed: as often as it costs at most ``PROBE_SHARE`` of the
    run's time, every call at most and every ``PROBE_EVERY``-th at least. A ResNet-50 call (15-100
    ms) takes the probe's 0.3 ms after every call; a 1 ms model after every 5th. More probe times
    per block pin the machine's speed closer: in 40 seeded runs of a 15% slowdown on a wandering
    machine (tests/test_stress.py: 10 ms calls, the probe then after every 2nd), 34 were caught
    against 30 with the probe after every 5th, and 7 of 40 clean runs were extended against 8."""
    if call_s <= 0 or probe_s <= 0:
        return PROBE_EVERY
    return max(1, min(PROBE_EVERY, int(np.ceil(probe_s / (PROBE_SHARE * call_s)))))


def as_series(n: int, latencies: np.ndarray, rss_mb: np.ndarray, probe_s: np.ndarray,
              heap_mb: np.ndarray | None) -> StressSeries:
    """The first ``n`` samples of the loop's arrays as lists (NaN probe slots: None)."""
    return StressSeries(latencies[:n].tolist(), rss_mb[:n].tolist(),
                        [None if np.isnan(v) else float(v) for v in probe_s[:n]],
                        heap_mb[:n].tolist() if heap_mb is not None else [])


def shown_flat(targets: Targets, planned: int, n_blocks: int = 10) -> Callable[[StressSeries], bool]:
    """The stress run's stopping rule: the run has shown enough once no trend appears (at
    ``EXTEND_CONFIDENCE``, the test that would extend it) and the ``EARLY_CONFIDENCE`` upper bounds
    of the leak (RSS and heap, per 1000 inferences over the second half) are below its target and
    the ``EARLY_CONFIDENCE`` interval of the latency trend (its rate carried over the ``planned``
    run, in % of the median) lies within plus or minus the slowdown target: whatever the rest of
    the run could show, it would not be a flag. A run with any trend, up or down, goes on to its
    full length (and its extension): in 2 of 20 runs with a planted 15% slowdown, calls that got
    40-75% faster as the host sped up had ended the run at 500 inferences, unseen."""
    def flat(series: StressSeries) -> bool:
        return long_enough(series, n_blocks) and nothing_ahead(series, len(series.rss_mb) // 2, targets, planned,
                                                               n_blocks)

    return flat


def dismissed(first: StressSeries, targets: Targets, planned: int, n_blocks: int = 10) -> Callable[[StressSeries], bool]:
    """The extension's stopping rule: the trend that extended the ``first`` run is dismissed once the
    extension so far shows what ``shown_flat`` asks of a run, judged as ``StressResult`` judges an
    extended run: the memory over the extension alone, the latency over the whole run (``planned``:
    the first run and its longest extension). A leak or a slowdown that goes on is never dismissed,
    so it runs the whole extension and is judged on it as before; a trend that was chance (a host
    slower for a while, an arena that stopped filling) costs the extension's floor, not its length."""
    head = [np.asarray(part, dtype=float) for part in first[:3]]  # None between probes reads as NaN
    head_heap = np.asarray(first.heap_mb, dtype=float)

    def quiet(more: StressSeries) -> bool:
        if len(more.rss_mb) < 2 * n_blocks:
            return False
        whole = StressSeries(*(np.concatenate((a, np.asarray(b, dtype=float))) for a, b in zip(head, more[:3])),
                             np.concatenate((head_heap, np.asarray(more.heap_mb, dtype=float))))
        return nothing_ahead(whole, len(head[0]), targets, planned, n_blocks)

    return quiet


def nothing_ahead(series: StressSeries, memory_from: int, targets: Targets, planned: int, n_blocks: int) -> bool:
    """Whether the memory from ``memory_from`` on and the latency over the whole series show no trend (at
    ``EXTEND_CONFIDENCE``) and ``EARLY_CONFIDENCE`` bounds inside the targets (the latency's rate
    carried over ``planned`` inferences): what the rest of a run could show would not be a flag."""
    if any(t.high * 1000 >= targets.leak_mb_per_1k
           for t in memory_trends(series, n_blocks, EARLY_CONFIDENCE, memory_from)):
        return False
    if latency_trend(series.latencies_s, series.probe_s, 0, n_blocks, EXTEND_CONFIDENCE).significant_increase:
        return False
    median = float(np.median(series.latencies_s))
    lat = latency_trend(series.latencies_s, series.probe_s, 0, n_blocks, EARLY_CONFIDENCE)
    # Flat both ways: a run whose calls got much faster (the host speeding up) can hide a
    # slowdown of the model that the rest of the run would show.
    bound = targets.slowdown_pct * median / planned / 100.0
    return median > 0 and -bound < lat.low and lat.high < bound


def trend_appears(series: StressSeries, n_blocks: int = 10, targets: Targets | None = None) -> bool:
    """Whether a trend appears that the run's extension must confirm or dismiss: RSS or the heap
    in use (over the second half) rising at ``EXTEND_CONFIDENCE`` with an ``EARLY_CONFIDENCE`` upper
    bound at or above the leak target, or latency (over the run, with the probe's times held fixed
    when there are any) rising at ``EXTEND_CONFIDENCE``. The run is then extended once, and the leak
    is judged on the extension alone, the slowdown on the whole run (see StressResult), both at 95%.
    The looser test here costs time, not false alarms, and catches more of what is there: over a
    500-call half a leak of 0.5 MB/1k is only 0.25 MB. Memory growth whose 99% upper bound is
    below the leak target cannot become a leak flag, so it is not worth an extension: RSS moves by
    whole pages and the heap in use is read to the byte, so growth of a few pages, or a few hundred
    bytes, per 1000 calls is significant at 80% and extended 7 of 9 stress runs of a default run
    (0.015-0.097 MB/1k against a 0.25 target). The latency trend keeps no such bound: a floor on
    its size cost slowdowns caught in the seeded tests."""
    if not long_enough(series, n_blocks):
        return False
    leak_target = (targets or Targets()).leak_mb_per_1k
    loose = memory_trends(series, n_blocks, EXTEND_CONFIDENCE)
    bounds = memory_trends(series, n_blocks, EARLY_CONFIDENCE)
    if any(t.significant_increase and b.high * 1000 >= leak_target for t, b in zip(loose, bounds)):
        return True
    return latency_trend(series.latencies_s, series.probe_s, 0, n_blocks, EXTEND_CONFIDENCE).significant_increase


def long_enough(series: StressSeries, n_blocks: int) -> bool:
    """Whether the run's second half holds two samples per block (what a trend on it needs)."""
    return len(series.rss_mb) - len(series.rss_mb) // 2 >= 2 * n_blocks


def memory_trends(series: StressSeries, n_blocks: int, confidence: float, start: int | None = None) -> list[Trend]:
    """The RSS trend, then the heap's when the run read it, from ``start`` on (MiB per inference;
    by default the second half of the run: the first is where arenas still fill), as StressResult
    judges the leak (``stats.memory_trend``)."""
    from qpbench import stats

    start = len(series.rss_mb) // 2 if start is None else start
    return [stats.memory_trend(m, start, n_blocks, confidence) for m in (series.rss_mb, series.heap_mb) if len(m)]


def confirmed_stress_loop(call: Callable[[], object], iterations: int, warmup: int, extend: bool = True,
                          timer: Callable[[], float] = time.perf_counter, rss: Callable[[], float] = current_rss_mb,
                          probe: Callable[[], object] | None = None,
                          heap: Callable[[], float | None] | None = None,
                          stop: Callable[[StressSeries], bool] | None = None,
                          floor: int | None = None, targets: Targets | None = None) -> tuple[StressSeries, int]:
    """``stress_loop`` (ended early by ``stop`` from ``floor`` on), extended by as many inferences
    again when a trend appears (``trend_appears`` against the ``targets``): growth that stops
    (allocator and runtime arenas filling) is then seen to stop, and only growth that goes on is a
    leak. With a ``stop`` rule the extension may end from ``floor`` on too, once it has dismissed
    the trend (``dismissed``). Returns (the series, inferences added).

    The rules (``trend_appears``, ``stop``, ``dismissed``) run on a thread of their own: glibc gives
    each thread its own malloc arena, so their numpy temporaries, longer at each look, no longer
    extend the heap the model allocates from. Run on the measuring thread they did: 108 KB of RSS
    a step, one or two calls after a look, with the heap in use flat, three of them in one
    1000-call extension of the compact CNN on the AVX-512 AMD EPYC (a leak flag of 0.32 MB per
    1000 calls for a model that keeps nothing); on their own thread, a 3000-call run of it grew
    RSS by 20 KB at the first look and by no step of 16 KB or more after."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qpbench-stress-rules") as rules:
        def apart(rule: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            return rules.submit(rule, *args, **kwargs).result()

        if extend:  # scipy and LAPACK load, and allocate, on the first fit: here, not between RSS samples
            warm = [1.0] * 40
            apart(trend_appears, StressSeries(warm, warm, [1.0 + (i % 3) for i in range(40)], warm), n_blocks=10)
        on_rules = None
        if stop is not None:  # the rule's numpy temporaries at their largest, before the first RSS sample
            flat = np.ones(iterations)  # a probe time after every call: the most the rule reads
            apart(stop, StressSeries(flat, flat, flat, flat))
            on_rules = functools.partial(apart, stop)
        series = stress_loop(call, iterations, warmup, timer, rss, probe, heap, on_rules, floor)
        if not (extend and apart(trend_appears, series, targets=targets)):
            return series, 0
        more = len(series.latencies_s)
        quiet = None
        if stop is not None:  # a run that may end early may end its extension early too, from the same floor
            quiet = functools.partial(apart, apart(dismissed, series, targets or Targets(), 2 * more))
            flat = np.ones(more)
            quiet(StressSeries(flat, flat, flat, flat if series.heap_mb else flat[:0]))  # its temporaries, now
        added = stress_loop(call, more, 0, timer, rss, probe, heap, quiet, floor)
    return series.then(added), len(added.latencies_s)


def measure_stress(
    workload: Workload,
    variant: str,
    builder_path: str,
    options: dict[str, Any],
    batch_size: int,
    iterations: int,
    warmup: int,
    timeout_s: float = WORKER_TIMEOUT_S,
    min_iterations: int | None = None,
    targets: Targets | None = None,
) -> StressResult:
    """Run ``qpbench.measure.stress_worker`` in a new interpreter; ``WorkerFailed`` if it crashes or hangs.

    With ``min_iterations``, the run may end from there on once it has shown no leak or slowdown
    of the ``targets``' size (``shown_flat``); without, it runs all ``iterations``."""
    with tempfile.TemporaryDirectory(prefix="qpbench-stress-") as tmp:
        request = variant_request(workload, tmp, variant, builder_path, options, batch_size)
        t = targets or Targets()
        request.update(iterations=iterations, warmup=warmup, leak_mb_per_1k=t.leak_mb_per_1k,
                       slowdown_pct=t.slowdown_pct)
        if min_iterations is not None and min_iterations < iterations:
            request.update(min_iterations=min_iterations)
        serve_without_torch(request, workload, Path(tmp), options, batch_size)
        report = run_worker("qpbench.measure.stress_worker", request, "stress", variant, timeout_s)
    return StressResult(
        variant=variant, batch_size=batch_size, warmup=warmup,
        baseline_rss_mb=report["baseline_rss_mb"], peak_rss_mb=report["peak_rss_mb"],
        latencies_s=tuple(report["latencies_s"]), rss_mb=tuple(report["rss_mb"]), extended=report.get("extended", 0),
        probe_s=tuple(report.get("probe_s", ())), heap_mb=tuple(report.get("heap_mb", ())), planned=iterations,
    )
