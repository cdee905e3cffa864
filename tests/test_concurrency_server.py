"""Concurrency (threads and processes against serial outputs) and the MLPerf LoadGen scenarios."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qpbench.measure.concurrency import measure_concurrency, serve_threads
from qpbench.measure.server import LoadGenRun, find_max_server_qps, parse_summary, run_scenario
from qpbench.results import LoadGenResult

from .planted import planted  # noqa: F401  (fixture)

EXPECTED = [np.array([i / 10], dtype=np.float32) for i in range(8)]


def test_clean_threads_agree_with_the_serial_outputs():
    run = serve_threads(lambda i: EXPECTED[i].copy(), EXPECTED, threads=4, duration_s=0.2)
    assert run.latencies_s and run.errors == 0 and run.mismatches == 0 and run.max_abs_diff == 0.0


def test_a_racy_callable_is_caught_as_mismatches():
    shared = {}

    def racy(i):  # the input goes through shared state, as a model with a scratch attribute would
        shared["x"] = i
        time.sleep(0.0005)
        return EXPECTED[shared["x"]]

    assert serve_threads(racy, EXPECTED, threads=1, duration_s=0.1).mismatches == 0
    run = serve_threads(racy, EXPECTED, threads=4, duration_s=0.3)
    assert run.mismatches > 0 and run.max_abs_diff > 0


def test_failing_requests_are_counted_with_their_messages():
    def flaky(i):
        if i == 3:
            raise RuntimeError("bad input 3")
        return EXPECTED[i]

    run = serve_threads(flaky, EXPECTED, threads=2, duration_s=0.1)
    assert run.errors > 0 and run.latencies_s
    assert any("RuntimeError: bad input 3" in m for m in run.error_messages)


def test_serve_threads_rejects_bad_arguments():
    with pytest.raises(ValueError, match="threads >= 1"):
        serve_threads(lambda i: EXPECTED[i], EXPECTED, threads=0, duration_s=1)


@pytest.mark.slow
def test_concurrency_workers_on_a_clean_and_a_thread_unsafe_model(planted):
    def measure(factory):
        return measure_concurrency(planted(factory), "eager", "qpbench.variants:build_eager", {"threads": 1}, 1,
                                   thread_counts=(1, 4), processes=(2,), duration_s=0.3, timeout_s=120)

    clean = measure("tinymodel:build")
    assert [(r.processes, r.threads) for r in clean] == [(1, 1), (1, 4), (2, 4)]
    assert all(r.faults == 0 and r.latencies_s and r.images_per_s > 0 for r in clean)
    racy = {(r.processes, r.threads): r for r in measure("plantedmodels:racy")}
    assert racy[(1, 1)].faults == 0
    assert racy[(1, 4)].mismatches > 0  # four threads share one copy's scratch attribute
    assert racy[(2, 4)].mismatches > 0  # two threads per process still share it


# LoadGen -------------------------------------------------------------------------------------

SUMMARY = """================================================
MLPerf Results Summary
================================================
SUT name : PySUT
Scenario : Server
Mode     : PerformanceOnly
Completed samples per second    : 24.33
Result is : INVALID
  Performance constraints satisfied : Yes
  Min duration satisfied : Yes
  Min queries satisfied : Yes
  Early stopping satisfied: NO
Recommendations:
Early Stopping Result:
 * Run unsuccessful.

================================================
Additional Stats
================================================
Scheduled samples per second : 24.38
Min latency (ns)                : 5628770
Max latency (ns)                : 13657414
Mean latency (ns)               : 6404575
50.00 percentile latency (ns)   : 6005891
90.00 percentile latency (ns)   : 7051132
99.00 percentile latency (ns)   : 13657414
"""


def test_a_loadgen_summary_is_parsed():
    parsed = parse_summary(SUMMARY)
    assert parsed["valid"] is False and parsed["constraints_met"] is True
    assert parsed["samples_per_s"] == 24.33
    assert parsed["latency_ms"]["p99"] == pytest.approx(13.657414) and parsed["latency_ms"]["p50"] == pytest.approx(6.005891)
    assert parsed["invalid_reasons"] == ("Early stopping satisfied: no",)
    failing = parse_summary(SUMMARY.replace("Performance constraints satisfied : Yes", "Performance constraints satisfied : NO"))
    assert failing["constraints_met"] is False


def test_a_summary_without_a_result_is_an_error():
    from qpbench.measure.isolation import MeasurementError

    with pytest.raises(MeasurementError, match="did not complete"):
        parse_summary("Scenario : Server\n")


def test_the_qps_search_bisects_to_the_highest_rate_that_meets_the_bound():
    tried = []

    def fake_test(qps):  # a system that keeps its p99 bound up to 37 QPS
        tried.append(qps)
        ok = qps <= 37
        return LoadGenResult("v", "Server", False, qps, {}, 100, target_qps=qps, latency_bound_ms=100.0, constraints_met=ok)

    search, runs = find_max_server_qps(fake_test, 100.0, 6, 100.0, "v")
    assert len(runs) == 6 and tried[0] == 50.0
    assert 37 - 100 / 2**6 <= search.max_valid_qps <= 37
    assert search.tried_valid == tuple(q <= 37 for q in tried)
    nothing, _ = find_max_server_qps(lambda q: fake_test(q + 1000), 100.0, 2, 100.0, "v")
    assert nothing.max_valid_qps == 0.0


def test_the_qps_search_decides_the_criterion_at_its_target_and_spends_no_slow_test_on_a_fast_variant():
    """The criterion's verdict is what LoadGen said at the target rate, where the rates around it
    would not decide it. Searched up to 100 QPS with a 30 QPS target, a system that keeps its
    bound up to 25 QPS fails at 50, is tried at 30 (not at 25) and fails, and is bisected below;
    one that keeps it up to 37 fails at 50, passes at 30 and is bisected above. A fast one (up to
    90) passes at 50 and is never tried at a 10 QPS target, a slow test."""
    def system(limit, tried):
        def test(qps):
            tried.append(qps)
            return LoadGenResult("v", "Server", False, qps, {}, 100, target_qps=qps, latency_bound_ms=100.0,
                                 constraints_met=qps <= limit)
        return test

    tried = []
    below, _ = find_max_server_qps(system(25, tried), 100.0, 4, 100.0, "v", target_qps=30.0)
    assert tried == [50.0, 30.0, 15.0, 22.5] and below.max_valid_qps == 22.5 and not below.tried_valid[1]
    tried = []
    above, _ = find_max_server_qps(system(37, tried), 100.0, 4, 100.0, "v", target_qps=30.0)
    assert tried == [50.0, 30.0, 40.0, 35.0] and above.max_valid_qps == 35.0 and above.tried_valid[1]
    tried = []
    fast, _ = find_max_server_qps(system(90, tried), 100.0, 3, 100.0, "v", target_qps=10.0)
    assert tried == [50.0, 75.0, 87.5] and 10.0 not in tried
    for outside in (0.0, 100.0, 250.0):  # a target outside the range changes nothing
        tried = []
        find_max_server_qps(system(37, tried), 100.0, 2, 100.0, "v", target_qps=outside)
        assert tried == [50.0, 25.0]


def test_a_server_test_is_allowed_the_time_its_minimum_of_queries_takes():
    """500 queries at 7.9 QPS take 63 s: a 60 s limit ended such tests short of their minimum, and
    LoadGen called every rate below 8.3 QPS invalid whatever its latency. The limit stretches to
    what the rate needs; other scenarios and fast rates keep the set limit."""
    full = LoadGenRun(min_duration_s=10.0, min_query_count=500, max_duration_s=60.0)
    assert full.max_duration_for(None) == 60.0 and full.max_duration_for(100.0) == 60.0
    for qps in (7.9, 3.9, 1.0):
        assert full.max_duration_for(qps) * qps >= 1.2 * 500
    assert LoadGenRun(1.0, 64, 60.0).max_duration_for(4.0) == 60.0


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_loadgen_single_stream_and_offline_write_logs_only_where_told(tmp_path, elsewhere):
    run = LoadGenRun(min_duration_s=0.2, min_query_count=64)
    single = run_scenario(lambda idx: time.sleep(0.001), 8, "SingleStream", "v", tmp_path / "ss", run, 0.001)
    offline = run_scenario(lambda idx: time.sleep(0.001), 8, "Offline", "v", tmp_path / "off", run, 0.001, max_batch=4)
    assert single.valid and single.queries >= 64 and "p90" in single.latency_ms
    assert offline.samples_per_s > 0
    assert (tmp_path / "ss" / "mlperf_log_summary.txt").exists()
    assert list(elsewhere.iterdir()) == []


def test_loadgen_calls_the_model_on_the_calling_thread_as_the_latency_test_does(tmp_path, elsewhere):
    """A torch model called from a second thread runs under another OpenMP team (35-50% slower
    on a ResNet-50): LoadGen's queries are served on the thread that asked for the test."""
    import threading

    callers = set()
    run = LoadGenRun(min_duration_s=0.1, min_query_count=16)
    for scenario, extra in (("SingleStream", {}), ("Offline", {"max_batch": 4}),
                            ("Server", {"target_qps": 200.0, "latency_bound_ms": 1000.0})):
        run_scenario(lambda idx: callers.add(threading.get_ident()), 8, scenario, "v", tmp_path / scenario, run,
                     0.001, **extra)
    assert callers == {threading.get_ident()}


def test_loadgen_server_misses_a_bound_below_the_sut_s_own_time_and_meets_one_far_above_it(tmp_path, elsewhere):
    """Bounds relative to the SUT's own service time (a sleep), never to the machine's speed: a
    bound shorter than the sleep cannot be met however fast the machine; one 100 times the
    sleep, at a query rate a tenth of what the sleep allows, is met unless the machine stalls
    for a large multiple of it."""
    run = LoadGenRun(min_duration_s=0.3, min_query_count=64)
    sleep_s = 0.002

    def sut(idx):
        time.sleep(sleep_s)

    tight = run_scenario(sut, 8, "Server", "v", tmp_path / "tight", run, sleep_s,
                         target_qps=0.1 / sleep_s, latency_bound_ms=sleep_s * 1e3 / 2)
    assert not tight.constraints_met and not tight.valid
    loose = run_scenario(sut, 8, "Server", "v", tmp_path / "loose", run, sleep_s,
                         target_qps=0.1 / sleep_s, latency_bound_ms=sleep_s * 1e3 * 100)
    assert loose.constraints_met and loose.target_qps == pytest.approx(0.1 / sleep_s)
    assert loose.latency_ms["p99"] >= sleep_s * 1e3  # LoadGen's latencies include the SUT's time


def test_a_sut_that_raises_is_reported(tmp_path):
    from qpbench.measure.isolation import MeasurementError

    def broken(idx):
        raise RuntimeError("kernel crashed")

    with pytest.raises(MeasurementError, match="kernel crashed"):
        run_scenario(broken, 8, "SingleStream", "v", tmp_path / "b", LoadGenRun(0.1, 64), 0.001)
    assert threading.active_count() < 20  # the serving thread is stopped
