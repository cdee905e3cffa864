"""Latency by batch size, timed in the variant's worker process, reported through
pytest-benchmark (so --benchmark-save/compare/json work on the same samples).

Under pytest-xdist pytest-benchmark disables itself; the samples are then
recorded by qpbench alone, the test holding the machine's timing lock so no
other qpbench test of the run runs beside it (see qpbench/run/timing_lock.py).
"""

import pytest

from qpbench.measure.latency import replay
from qpbench.suite.isolated import in_worker
from qpbench.run.timing_lock import times_itself
from qpbench.criteria import tail_targets_s


@pytest.mark.qp_timing
@pytest.mark.qp_after_screen(screen_batch_size=1)  # batch 1 is in the screen
def test_latency(benchmark, qp_measured, qp_batch_size, qp_record, qp_session):
    own_timer = benchmark.disabled and times_itself(qp_session.config)
    if benchmark.disabled and not own_timer:
        pytest.skip("pytest-benchmark is disabled (--benchmark-disable): latency not measured")
    benchmark.group = f"latency batch {qp_batch_size}"
    benchmark.extra_info.update(variant=qp_measured.name, batch_size=qp_batch_size, threads=qp_measured.threads)
    # Batch 1 feeds the tail targets (the p95's; a p99's when set): it is timed until each tail is
    # bounded and clear of its target too (or the ceiling).
    tails = tail_targets_s(qp_session.settings.scoring.targets) if qp_batch_size == 1 else []
    (result,) = in_worker(lambda: qp_measured.results("latency", batch_size=qp_batch_size, tail_targets_s=tails),
                          qp_record)
    if not own_timer:
        replay(benchmark, result.samples_s)
    qp_record(result)
