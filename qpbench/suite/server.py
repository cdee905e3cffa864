"""MLPerf LoadGen scenarios: SingleStream (p90 latency), Offline (samples/s) and Server
(Poisson arrivals against a p99 bound), with a bisection for the highest QPS that meets it."""

import statistics
from pathlib import Path

import numpy as np
import pytest

from qpbench.config import MEASURE
from qpbench.measure.isolation import MeasurementError
from qpbench.timing import time_calls
from qpbench.measure.server import LoadGenRun, find_max_server_qps, import_loadgen, run_scenario


@pytest.mark.qp_timing
def test_loadgen_scenarios(qp_variant, qp_session, qp_workload, qp_profile, qp_record):
    try:
        import_loadgen()
    except MeasurementError as exc:
        pytest.skip(str(exc))
    n = min(MEASURE.loadgen_max_samples, qp_workload.data.n_samples)
    samples = [qp_workload.inputs(np.array([i])) for i in range(n)]

    def run_batch(indices):
        import torch

        if len(indices) == 1:
            return qp_variant(*samples[indices[0]])
        return qp_variant(torch.cat([samples[i][0] for i in indices]), torch.cat([samples[i][1] for i in indices]))

    run = LoadGenRun(qp_profile.loadgen_min_duration_s, qp_profile.loadgen_min_queries)
    logs = Path(qp_session.settings.results_dir) / "loadgen" / qp_variant.name
    bound_ms = qp_session.settings.scoring.targets.server_p99_ms
    with qp_variant.runtime():
        estimate = statistics.median(time_calls(lambda: run_batch([0]), 3))
        single = run_scenario(run_batch, n, "SingleStream", qp_variant.name, logs / "SingleStream", run, estimate)
        offline = run_scenario(run_batch, n, "Offline", qp_variant.name, logs / "Offline", run, estimate,
                               max_batch=qp_profile.throughput_batch)
        # A batch-1 server cannot go faster than back-to-back single queries.
        capacity = 1e3 / single.latency_ms["p50"]
        search, tests = find_max_server_qps(
            lambda qps: run_scenario(run_batch, n, "Server", qp_variant.name, logs / f"Server-{qps:.4g}qps", run,
                                     estimate, target_qps=qps, latency_bound_ms=bound_ms),
            capacity, qp_profile.server_search_steps, bound_ms, qp_variant.name)
    for result in (single, offline, *tests, search):
        qp_record(result)
    assert single.queries > 0 and offline.samples_per_s > 0
