"""Latency by batch size, timed by pytest-benchmark (so --benchmark-save/compare/json work).

Under pytest-xdist pytest-benchmark disables itself; the calls are then timed
here, the test holding the machine's timing lock so no other qpbench test of
the run runs beside it (see qpbench/timing_lock.py).
"""

import pytest

from qpbench.measure.latency import from_benchmark, rounds_for
from qpbench.timing import time_calls
from qpbench.results import LatencyResult
from qpbench.timing_lock import times_itself


@pytest.mark.qp_timing
def test_latency(benchmark, qp_variant, qp_workload, qp_batch_size, qp_profile, qp_record, qp_session):
    own_timer = benchmark.disabled and times_itself(qp_session.config)
    if benchmark.disabled and not own_timer:
        pytest.skip("pytest-benchmark is disabled (--benchmark-disable): latency not measured")
    image, params = qp_workload.example_batch(qp_batch_size)
    benchmark.group = f"latency batch {qp_batch_size}"
    benchmark.extra_info.update(variant=qp_variant.name, batch_size=qp_batch_size, threads=qp_variant.threads)
    with qp_variant.runtime():
        # The fastest of three warm calls estimates the call time, which sets how many rounds
        # fit the budget: interference only adds time, and one stalled call must not cut the
        # rounds to the profile's minimum.
        estimate = min(time_calls(lambda: qp_variant(image, params), 3))
        rounds = rounds_for(estimate, qp_profile)
        if own_timer:
            time_calls(lambda: qp_variant(image, params), qp_profile.warmup_rounds)
            samples = time_calls(lambda: qp_variant(image, params), rounds)
            out = qp_variant(image, params)
        else:
            out = benchmark.pedantic(
                qp_variant, args=(image, params), iterations=1,
                rounds=rounds, warmup_rounds=qp_profile.warmup_rounds,
            )
    assert tuple(out.shape) == (qp_batch_size,), f"expected one prediction per image, got {tuple(out.shape)}"
    assert bool(((out >= 0) & (out <= 1)).all()), "predicted SSIM outside [0, 1] (or NaN)"
    if own_timer:
        qp_record(LatencyResult(variant=qp_variant.name, batch_size=qp_batch_size, samples_s=tuple(samples)))
    else:
        qp_record(from_benchmark(benchmark, qp_variant.name, qp_batch_size))
