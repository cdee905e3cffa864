"""Sustained throughput: whole batches back to back over the profile's duration."""

import pytest

from qpbench.measure.throughput import measure_throughput


@pytest.mark.qp_timing
def test_throughput(qp_variant, qp_workload, qp_profile, qp_record):
    batch = qp_profile.throughput_batch
    image, params = qp_workload.example_batch(batch)
    with qp_variant.runtime():
        qp_variant(image, params)  # warm-up outside the timed window
        result = measure_throughput(lambda: qp_variant(image, params), qp_variant.name, batch, qp_profile.throughput_s)
    assert result.images >= batch
    qp_record(result)
