"""Latency by batch size, timed by pytest-benchmark (so --benchmark-save/compare/json work)."""

import statistics

import pytest

from qpbench.measure.latency import from_benchmark, rounds_for, time_calls


@pytest.mark.qp_timing
def test_latency(benchmark, qp_variant, qp_workload, qp_batch_size, qp_profile, qp_record):
    if benchmark.disabled:
        pytest.skip("pytest-benchmark is disabled (--benchmark-disable, or under pytest-xdist): latency not measured")
    image, params = qp_workload.example_batch(qp_batch_size)
    benchmark.group = f"latency batch {qp_batch_size}"
    benchmark.extra_info.update(variant=qp_variant.name, batch_size=qp_batch_size, threads=qp_variant.threads)
    with qp_variant.runtime():
        # Two warm calls estimate the call time, which sets how many rounds fit the budget.
        estimate = statistics.median(time_calls(lambda: qp_variant(image, params), 2))
        out = benchmark.pedantic(
            qp_variant, args=(image, params), iterations=1,
            rounds=rounds_for(estimate, qp_profile), warmup_rounds=qp_profile.warmup_rounds,
        )
    assert tuple(out.shape) == (qp_batch_size,), f"expected one prediction per image, got {tuple(out.shape)}"
    assert bool(((out >= 0) & (out <= 1)).all()), "predicted SSIM outside [0, 1] (or NaN)"
    qp_record(from_benchmark(benchmark, qp_variant.name, qp_batch_size))
