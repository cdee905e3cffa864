"""One extended batch-1 run per variant in a fresh process: the leak trend (RSS) and the
latency degradation over the same inferences."""

import pytest

from qpbench.measure.stress import measure_stress
from qpbench.suite.isolated import builder_or_skip, in_worker


@pytest.mark.qp_timing
@pytest.mark.qp_after_screen
def test_stress(qp_measured, qp_session, qp_workload, qp_profile, qp_record):
    builder = builder_or_skip(qp_session, qp_measured)
    result = in_worker(lambda: measure_stress(
        qp_workload, qp_measured.name, builder, qp_measured.rebuild_options, batch_size=1,
        iterations=qp_profile.stress_iterations, warmup=qp_profile.stress_warmup,
        timeout_s=qp_profile.worker_timeout_s, min_iterations=qp_profile.stress_min_iterations,
        targets=qp_session.settings.scoring.targets,
    ), qp_record)
    assert 0 < result.baseline_rss_mb <= result.peak_rss_mb
    qp_record(result)
