"""Speed against the reference, measured the way baselines compare it: calls of the
variant and of the eager reference interleaved at batch 1, in the variant's worker."""

import pytest

from qpbench.suite.isolated import in_worker


@pytest.mark.qp_timing
def test_speed_ratio(qp_measured, qp_session, qp_record):
    if qp_measured.name == qp_session.reference:
        pytest.skip("the reference is not compared with itself")
    (result,) = in_worker(lambda: qp_measured.results("paired"), qp_record)
    qp_record(result)
