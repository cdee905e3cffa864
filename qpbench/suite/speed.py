"""Speed against the reference, measured the way baselines compare it: calls of the
variant and of the eager reference interleaved at batch 1, in the variant's worker. The
reference itself is timed the same way against the machine-speed probe (measure/probe.py),
so that a slower model is told apart from a slower machine."""

import pytest

from qpbench.suite.isolated import in_worker


@pytest.mark.qp_timing
def test_speed_ratio(qp_measured, qp_session, qp_record):
    op = "probe" if qp_measured.name == qp_session.reference else "paired"
    (result,) = in_worker(lambda: qp_measured.results(op), qp_record)
    qp_record(result)
