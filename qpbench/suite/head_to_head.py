"""The race for the recommendation, timed head to head at the end of the run: the fastest ready
variant against each ready variant whose batch-1 median is within ``decision.HEAD_TO_HEAD_WITHIN``
of it, calls alternating in one process (measure/head_to_head.py); the verdict calls a tie from
the ratio's interval and breaks it by a stated rule (verdict/decision.py)."""

import pytest

from qpbench.suite.isolated import in_worker


@pytest.mark.qpbench
@pytest.mark.qp_timing
@pytest.mark.qp_last
def test_head_to_head(qp_session, qp_workload, qp_record):
    if qp_session.is_worker:
        pytest.skip("under pytest-xdist each process sees only its share of the results: no head-to-head")
    qp_session.variants.use_workload(qp_workload)
    names = qp_session.contenders()
    if len(names) < 2:
        pytest.skip("no race to time: fewer than two ready variants with a confirmed batch-1 figure within "
                    "the head-to-head range of the fastest")
    fastest, *others = names
    for other in others:
        (result,) = in_worker(lambda: qp_session.variants.engine.variant(fastest).results("head_to_head", other=other),
                              qp_record)
        qp_record(result)
