"""Sustained throughput: whole batches back to back over the profile's duration, in the variant's worker."""

import pytest

from qpbench.suite.isolated import in_worker


@pytest.mark.qp_timing
@pytest.mark.qp_after_screen
def test_throughput(qp_measured, qp_record):
    (result,) = in_worker(lambda: qp_measured.results("throughput"), qp_record)
    qp_record(result)
