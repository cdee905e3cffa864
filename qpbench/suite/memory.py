"""Peak RSS of a fresh process that builds the variant and runs batch-1 inference."""

import pytest

from qpbench.measure.memory import measure_memory


def test_peak_memory(qp_variant, qp_session, qp_workload, qp_profile, qp_record):
    builder = qp_session.registry.get(qp_variant.name).builder_path
    if builder is None:
        pytest.skip(f"variant {qp_variant.name!r} has no importable builder: a fresh process cannot rebuild it")
    result = measure_memory(
        qp_workload, qp_variant.name, builder,
        options=qp_variant.rebuild_options(),
        batch_size=1, iterations=qp_profile.memory_iterations,
    )
    assert 0 < result.baseline_rss_mb <= result.peak_rss_mb
    qp_record(result)
