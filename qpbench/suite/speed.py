"""Speed against the reference, measured the way baselines compare it: calls of the
variant and of the eager reference interleaved at batch 1, in the variant's worker. The
reference itself is timed the same way against the machine-speed probe (measure/probe.py),
so that a slower model is told apart from a slower machine."""

from dataclasses import replace

import pytest

from qpbench.compare.speed import process_statistic
from qpbench.measure.defaults import MEASURE
from qpbench.suite.isolated import in_worker


@pytest.mark.qp_timing
def test_speed_ratio(qp_measured, qp_session, qp_record):
    """With a baseline to compare with, a figure that would be judged a regression is measured again
    in fresh processes (at most ``MEASURE.speed_reruns``, fewer once the median is back in line):
    what a rerun of the whole run would see, so that one process's state is not called a
    regression, while a model that got slower is slower in every process."""
    op = "probe" if qp_measured.name == qp_session.reference else "paired"

    def measured():
        (result,) = in_worker(lambda: qp_measured.results(op), qp_record)
        return result

    result = measured()
    while len(result.reruns) < MEASURE.speed_reruns and qp_session.regression.out_of_line(result):
        qp_measured.close()  # its next request starts a fresh process
        result = replace(result, reruns=(*result.reruns, process_statistic(measured())))
    qp_record(result)
