"""Peak RSS of fresh processes that build the variant and run it, at batch 1 and a larger
batch (side by side: each peak is its own process's); the two give the variant's per-sample
memory and a batch size that fits."""

import psutil
import pytest

from qpbench.measure.defaults import MEASURE
from qpbench.measure.memory import measure_memories
from qpbench.measure.batching import suggest_batch_size
from qpbench.suite.isolated import builder_or_skip, in_worker


@pytest.mark.qp_after_screen
def test_peak_memory(qp_measured, qp_session, qp_workload, qp_profile, qp_record):
    builder = builder_or_skip(qp_session, qp_measured)
    results = in_worker(lambda: measure_memories(qp_workload, qp_measured.name, builder, qp_measured.rebuild_options,
                                                 batch_sizes=(1, MEASURE.memory_larger_batch),
                                                 iterations=qp_profile.memory_iterations,
                                                 timeout_s=qp_profile.worker_timeout_s), qp_record)
    for result in results:
        assert 0 < result.baseline_rss_mb <= result.peak_rss_mb
        qp_record(result)
    available_mb = psutil.virtual_memory().available / 2**20
    qp_record(suggest_batch_size(results[0], results[1], available_mb))
