"""Speed against the reference, measured the way baselines compare it: calls of the
variant and of the eager reference interleaved at batch 1 in the same run."""

import pytest

from qpbench.config import MEASURE
from qpbench.measure.latency import rounds_for
from qpbench.measure.paired import measure_paired
from qpbench.timing import time_calls


@pytest.mark.qp_timing
def test_speed_ratio(qp_variant, qp_session, qp_workload, qp_profile, qp_record):
    reference = qp_session.reference
    if qp_variant.name == reference:
        pytest.skip("the reference is not compared with itself")
    ref = qp_session.variant(reference)
    image, params = qp_workload.example_batch(1)
    # The fastest of three calls estimates the cost: interference only ever adds time, and
    # one stalled call must not shrink the number of pairs to the profile's minimum.
    with qp_variant.runtime():
        estimate = min(time_calls(lambda: qp_variant(image, params), 3))
    with ref.runtime():
        estimate += min(time_calls(lambda: ref(image, params), 3))
    result = measure_paired(
        qp_variant.name, lambda: qp_variant(image, params), qp_variant.runtime,
        reference, lambda: ref(image, params), ref.runtime,
        batch_size=1, pairs=max(MEASURE.min_pairs, rounds_for(estimate, qp_profile)), warmup=qp_profile.warmup_rounds,
    )
    qp_record(result)
