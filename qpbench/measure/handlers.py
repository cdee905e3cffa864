"""What is done with a built variant for each measurement request.

A variant worker (variant_worker.py) runs these on the requests it reads; a
variant whose builder no fresh process can import runs the same functions in
the test process (engine.py). Each timing loop runs here, next to the model,
through ``qpbench.timing``; only the raw samples travel back.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from qpbench.config import MEASURE, get_profile
from qpbench.measure.isolation import MeasurementError, NotApplicable
from qpbench.measure.load_watch import measured_quietly
from qpbench.measure.paired import paired_until
from qpbench.measure.predictions import CheckFailed
from qpbench.measure.probe import one_thread, probe_call
from qpbench.measure.server import LoadGenRun, find_max_server_qps, run_scenario
from qpbench.measure.stopping import measure_until, rule_for
from qpbench.measure.throughput import throughput_until
from qpbench.results import LatencyResult, Result
from qpbench.timing import time_calls
from qpbench.variants import BuildContext, Variant, VariantSpec, build_variant
from qpbench.workload import Workload


@dataclass
class Loaded:
    """A worker's state: the workload and the built variant (and the reference, once asked for)."""

    workload: Workload
    variant: Variant
    reference: Variant | None = None
    examples: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    cache: dict[str, Any] | None = None  # the build request's cache settings ({"root", "rebuild"})

    def batch(self, batch_size: int) -> tuple[Any, Any]:
        if batch_size not in self.examples:
            self.examples[batch_size] = self.workload.example_batch(batch_size)
        return self.examples[batch_size]


def build(spec: VariantSpec, workload: Workload, options: dict[str, Any] | None, sweep_rounds: int,
          calibration_batches: int, artifact_dir: str | None, cache: dict[str, Any] | None = None) -> Variant:
    """Build the variant into ``artifact_dir`` (the run's); with ``options`` (a first build's
    ``rebuild_options``) nothing is re-measured and its artifact is loaded, not written again.
    A first build with ``cache`` ({"root", "rebuild"}) goes through the build cache."""
    if cache and not options and artifact_dir:
        from qpbench.variants.build_cache import BuildCache, cached_build

        return cached_build(spec, workload, sweep_rounds, calibration_batches, Path(artifact_dir),
                            BuildCache(Path(cache["root"])), rebuild=bool(cache.get("rebuild")))
    ctx = BuildContext(workload, options=options or {}, sweep_rounds=1 if options else sweep_rounds,
                       artifact_dir=Path(artifact_dir) if artifact_dir and not options else None,
                       calibration_batches=calibration_batches)
    return build_variant(spec, ctx)


def check_output(out: Any, batch_size: int) -> None:
    if tuple(out.shape) != (batch_size,):
        raise CheckFailed(f"expected one prediction per image, got {tuple(out.shape)}")
    if not bool(((out >= 0) & (out <= 1)).all()):
        raise CheckFailed("predicted SSIM outside [0, 1] (or NaN)")


def latency(loaded: Loaded, profile: str | dict[str, Any], batch_size: int, p95_target_s: float | None = None) -> LatencyResult:
    """Per-call times at one batch size, until the median is precise (and, given the per-call
    ``p95_target_s``, the p95 is clear of it): the profile's stopping rule (stopping.py)."""
    p = get_profile(profile)
    variant = loaded.variant
    image, params = loaded.batch(batch_size)
    rule = rule_for("latency", p, p95_target_s)
    with variant.runtime():
        # The fastest of three warm calls estimates the call time, which sizes the blocks between
        # two checks of the rule: interference only adds time.
        estimate = min(time_calls(lambda: variant(image, params), 3))
        (samples, reached), load = measured_quietly(
            lambda: measure_until(lambda: variant(image, params), rule, estimate, warmup=p.warmup_rounds))
        check_output(variant(image, params), batch_size)
    return LatencyResult(variant=variant.name, batch_size=batch_size, samples_s=tuple(samples), load=load,
                         precision=reached.to_dict())


def paired(loaded: Loaded, profile: str | dict[str, Any]) -> Result:
    """Batch-1 calls of the variant and the reference, interleaved (ABBA), until the median
    ratio is precise (the profile's stopping rule)."""
    ref = loaded.reference
    if ref is None:
        raise RuntimeError("paired timing needs the reference: send a 'reference' request first")
    image, params = loaded.batch(1)
    return _paired_with(loaded, profile, ref.name, lambda: ref(image, params), ref.runtime)


def probe(loaded: Loaded, profile: str | dict[str, Any]) -> Result:
    """Batch-1 calls of the variant (the reference) and of the machine-speed probe, interleaved
    (ABBA), both at one thread: the model's speed against the machine's (probe.py)."""
    name, call = probe_call()
    return _paired_with(loaded, profile, name, call, one_thread, one_thread)


def _paired_with(loaded: Loaded, profile: str | dict[str, Any], ref_name: str, ref_call: Any, ref_runtime: Any,
                 runtime: Any = None) -> Result:
    p = get_profile(profile)
    variant = loaded.variant
    runtime = runtime or variant.runtime
    image, params = loaded.batch(1)
    # The fastest of three calls estimates the cost of a pair: interference only ever adds time.
    with runtime():
        estimate = min(time_calls(lambda: variant(image, params), 3))
    with ref_runtime():
        estimate += min(time_calls(ref_call, 3))
    result, load = measured_quietly(lambda: paired_until(
        variant.name, lambda: variant(image, params), runtime, ref_name, ref_call, ref_runtime,
        batch_size=1, rule=rule_for("paired", p), pair_s=estimate, warmup=p.warmup_rounds,
    ))
    return replace(result, load=load)


def throughput(loaded: Loaded, profile: str | dict[str, Any]) -> Result:
    p = get_profile(profile)
    variant = loaded.variant
    image, params = loaded.batch(p.throughput_batch)
    with variant.runtime():
        estimate = min(time_calls(lambda: variant(image, params), 2))  # warm-up outside the timed window too
        result, load = measured_quietly(lambda: throughput_until(
            lambda: variant(image, params), variant.name, p.throughput_batch, rule_for("throughput", p), estimate))
    if result.images < p.throughput_batch:
        raise CheckFailed("no batch completed")
    return replace(result, load=load)


def loadgen(loaded: Loaded, profile: str | dict[str, Any], log_dir: str, bound_ms: float,
            target_qps: float | None = None) -> list[Result]:
    """SingleStream, Offline and the Server QPS search, in this process with the variant's threads."""
    p = get_profile(profile)
    variant, workload = loaded.variant, loaded.workload
    n = min(MEASURE.loadgen_max_samples, workload.data.n_samples)
    samples = [workload.inputs(np.array([i])) for i in range(n)]

    def run_batch(indices: list[int]) -> Any:
        import torch

        if len(indices) == 1:
            return variant(*samples[indices[0]])
        return variant(torch.cat([samples[i][0] for i in indices]), torch.cat([samples[i][1] for i in indices]))

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


def kernels(loaded: Loaded) -> Result:
    """Which kernels the heavy operators ran with (measure/kernels.py), from one inference here."""
    from qpbench.measure.kernels import kernels_result, model_flops

    try:
        return kernels_result(loaded.variant, loaded.batch(1), model_flops(loaded.workload))
    except NotApplicable:
        raise
    except MeasurementError as exc:
        raise NotApplicable(str(exc)) from None


def tool_agreement(loaded: Loaded) -> Result:
    """The harness's batch-1 time beside the runtime's own tool on the same artifact (agreement.py)."""
    from qpbench.measure.agreement import tool_agreement as compare

    return compare(loaded.variant, *loaded.batch(1))
