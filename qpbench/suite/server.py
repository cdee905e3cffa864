"""MLPerf LoadGen scenarios: SingleStream (p90 latency), Offline (samples/s) and Server
(Poisson arrivals against a p99 bound), with a bisection for the highest QPS that meets it.
LoadGen runs in the variant's worker, beside the model and its threads only."""

from pathlib import Path

import pytest

from qpbench.measure.isolation import MeasurementError
from qpbench.measure.server import import_loadgen
from qpbench.suite.isolated import in_worker


@pytest.mark.qp_timing
@pytest.mark.qp_after_screen
def test_loadgen_scenarios(qp_measured, qp_session, qp_record):
    try:
        import_loadgen()
    except MeasurementError as exc:
        pytest.skip(str(exc))
    logs = Path(qp_session.settings.results_dir).resolve() / "loadgen" / qp_measured.name
    targets = qp_session.settings.scoring.targets
    results = in_worker(lambda: qp_measured.results("loadgen", log_dir=str(logs), bound_ms=targets.server_p99_ms,
                                                    target_qps=targets.server_qps), qp_record)
    for result in results:
        qp_record(result)
