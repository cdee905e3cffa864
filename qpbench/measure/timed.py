"""The timing requests a variant answers, on whatever serves it: a torch variant in its
variant worker (handlers.py) or an ONNX Runtime / OpenVINO artifact in a process without torch
(bare_worker.py). Both hand these functions a ``Served``: the same loops, clocks, stopping
rules and checks, so the two paths differ only in what is loaded in the process.

Importing this module loads neither torch nor a runtime.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Protocol

from qpbench.config import get_profile
from qpbench.measure.defaults import MEASURE
from qpbench.measure.load_watch import measured_quietly
from qpbench.measure.predictions import CheckFailed
from qpbench.measure.server import LoadGenRun, find_max_server_qps, run_scenario
from qpbench.measure.stopping import measure_until, rule_for
from qpbench.measure.throughput import throughput_until
from qpbench.results import LatencyResult, Result
from qpbench.timing import time_calls


class Served(Protocol):
    """A built variant and its inputs, as the timing requests use them."""

    variant: Any  # callable (image, params) -> (N,), with ``name`` and ``runtime()``

    @property
    def n_samples(self) -> int: ...

    def batch(self, batch_size: int) -> tuple[Any, Any]: ...

    def sample(self, index: int) -> tuple[Any, Any]: ...

    def cat(self, samples: list[tuple[Any, Any]]) -> tuple[Any, Any]: ...


def check_output(out: Any, batch_size: int) -> None:
    if tuple(out.shape) != (batch_size,):
        raise CheckFailed(f"expected one prediction per image, got {tuple(out.shape)}")
    if not bool(((out >= 0) & (out <= 1)).all()):
        raise CheckFailed("predicted SSIM outside [0, 1] (or NaN)")


def latency(served: Served, profile: str | dict[str, Any], batch_size: int,
            tail_targets_s: Sequence[Sequence[float]] = ()) -> LatencyResult:
    """Per-call times at one batch size, until the median is precise over the windows of the
    run (and, given per-call tail targets ((quantile, seconds), criteria.tail_targets_s), each
    quantile is bounded and clear of its target): the profile's stopping rule (stopping.py)."""
    p = get_profile(profile)
    variant = served.variant
    image, params = served.batch(batch_size)
    rule = rule_for("latency", p, tail_targets_s)
    with variant.runtime():
        # The fastest of three warm calls estimates the call time, which sizes the blocks between
        # two checks of the rule: interference only adds time.
        estimate = min(time_calls(lambda: variant(image, params), 3))
        (samples, reached), load = measured_quietly(
            lambda: measure_until(lambda: variant(image, params), rule, estimate, warmup=p.warmup_rounds))
        check_output(variant(image, params), batch_size)
    return LatencyResult(variant=variant.name, batch_size=batch_size, samples_s=tuple(samples), load=load,
                         precision=reached.to_dict())


def throughput(served: Served, profile: str | dict[str, Any]) -> Result:
    p = get_profile(profile)
    variant = served.variant
    image, params = served.batch(p.throughput_batch)
    with variant.runtime():
        estimate = min(time_calls(lambda: variant(image, params), 2))  # warm-up outside the timed window too
        result, load = measured_quietly(lambda: throughput_until(
            lambda: variant(image, params), variant.name, p.throughput_batch, rule_for("throughput", p), estimate))
    if result.images < p.throughput_batch:
        raise CheckFailed("no batch completed")
    return replace(result, load=load)


def loadgen_samples(n_samples: int) -> int:
    """How many samples LoadGen's sample library holds in memory."""
    return min(MEASURE.loadgen_max_samples, n_samples)


def loadgen(served: Served, profile: str | dict[str, Any], log_dir: str, bound_ms: float,
            target_qps: float | None = None) -> list[Result]:
    """SingleStream, Offline and the Server QPS search, in this process with the variant's threads."""
    p = get_profile(profile)
    variant = served.variant
    n = loadgen_samples(served.n_samples)
    samples = [served.sample(i) for i in range(n)]

    def run_batch(indices: list[int]) -> Any:
        if len(indices) == 1:
            return variant(*samples[indices[0]])
        return variant(*served.cat([samples[i] for i in indices]))

    run = LoadGenRun(p.loadgen_min_duration_s, p.loadgen_min_queries)
    logs = Path(log_dir)
    with variant.runtime():
        estimate = statistics.median(time_calls(lambda: run_batch([0]), 3))
        single = run_scenario(run_batch, n, "SingleStream", variant.name, logs / "SingleStream", run, estimate)
        # Offline's one query holds what the expected rate does in its minimum duration: the rate of
        # batches, timed here (a batch-1 guess of 8/latency made runs of 5-9 s instead of about 1).
        batch = list(range(min(p.throughput_batch, n)))
        batch_s = statistics.median(time_calls(lambda: run_batch(batch), 2))
        offline = run_scenario(run_batch, n, "Offline", variant.name, logs / "Offline", run, batch_s,
                               max_batch=len(batch))
        # A batch-1 server cannot go faster than back-to-back single queries.
        capacity = 1e3 / single.latency_ms["p50"]
        search, tests = find_max_server_qps(
            lambda qps: run_scenario(run_batch, n, "Server", variant.name, logs / f"Server-{qps:.4g}qps", run,
                                     estimate, target_qps=qps, latency_bound_ms=bound_ms),
            capacity, p.server_search_steps, bound_ms, variant.name, target_qps)
    if not (single.queries > 0 and offline.samples_per_s > 0):
        raise CheckFailed("LoadGen completed no query")
    return [single, offline, *tests, search]
