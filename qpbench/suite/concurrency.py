"""Concurrent batch-1 requests: threads sharing one copy of the variant, and processes
with the threads split between them, each output checked against the serial one."""

import pytest

from qpbench.measure.concurrency import measure_concurrency
from qpbench.suite.isolated import builder_or_skip, in_worker


@pytest.mark.qp_timing
@pytest.mark.qp_after_screen
def test_concurrency(qp_measured, qp_session, qp_workload, qp_profile, qp_record):
    builder = builder_or_skip(qp_session, qp_measured)
    results = in_worker(lambda: measure_concurrency(
        qp_workload, qp_measured.name, builder, qp_measured.rebuild_options, batch_size=1,
        thread_counts=qp_profile.concurrency_threads, processes=qp_profile.concurrency_processes,
        duration_s=qp_profile.concurrency_s, timeout_s=qp_profile.worker_timeout_s,
    ), qp_record)
    for result in results:
        qp_record(result)
    assert all(r.latencies_s for r in results), "a concurrency level completed no request"
