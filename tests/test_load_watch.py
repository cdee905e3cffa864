"""The noise guard (qpbench/measure/load_watch.py): other processes' CPU and stolen time while a
timing ran, a second try when the machine was busy, and the verdict naming what stayed under load."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from qpbench.config import ScoringConfig
from qpbench.measure.defaults import MEASURE
from qpbench.measure.load_watch import CpuTimes, LoadWatch, load_between, measured_quietly, read_cpu_times, under_load
from qpbench.results import LatencyResult
from qpbench.verdict.scoring import score


def times(wall: float, busy: float, own: float, steal: float = 0.0, total: float | None = None) -> CpuTimes:
    return CpuTimes(busy, steal, total if total is not None else 2 * wall, own, wall)


def test_others_cpu_is_the_machine_busy_time_less_our_own_per_second():
    load = load_between(times(0, 0, 0), times(10, busy=25, own=20, steal=1, total=20))
    assert load == {"others_cpu": 0.5, "steal_pct": 5.0}
    assert load_between(times(0, 0, 0), times(10, busy=19.9, own=20)) ["others_cpu"] == 0.0  # never negative


def fake_reader(loads: list[float]):
    """A reader whose successive measurement windows had these 'others' CPU loads (1 s each)."""
    clock = {"t": 0.0, "busy": 0.0, "i": 0}

    def read() -> CpuTimes:
        i = clock["i"]
        clock["i"] += 1
        if i % 2 == 1:  # the end of a window: time passes, others use loads[window]
            clock["t"] += 1.0
            clock["busy"] += loads[i // 2]
        return times(clock["t"], clock["busy"], own=0.0)

    return read


def test_a_busy_measurement_is_taken_again_and_a_quiet_one_is_not():
    calls = []
    result, load = measured_quietly(lambda: calls.append(1) or len(calls), fake_reader([0.9, 0.0]), repeats=1)
    assert result == 2 and load["others_cpu"] == 0.0 and not under_load(load)
    calls.clear()
    result, load = measured_quietly(lambda: calls.append(1) or len(calls), fake_reader([0.0, 0.9]), repeats=1)
    assert result == 1 and not under_load(load)


def test_repeats_are_bounded_and_the_last_load_is_kept():
    calls = []
    _, load = measured_quietly(lambda: calls.append(1), fake_reader([0.9, 0.8, 0.7]), repeats=1)
    assert len(calls) == 2 and load["others_cpu"] == 0.8 and under_load(load)


def test_without_proc_stat_nothing_is_read_or_marked(tmp_path):
    assert read_cpu_times(tmp_path / "missing") is None
    with LoadWatch(lambda: None) as watch:
        pass
    assert watch.load is None and not under_load(watch.load)


def test_a_busy_process_beside_the_measurement_is_seen():
    """A planted busy loop on one vCPU while this process sleeps: others used about one CPU."""
    if read_cpu_times() is None:
        pytest.skip("no /proc/stat on this platform: the noise guard reads nothing here")
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # the hog is running
        with LoadWatch() as watch:
            time.sleep(1.0)
    finally:
        hog.kill()
        hog.wait()
    assert watch.load["others_cpu"] > MEASURE.load_others_cpu


def test_the_verdict_names_figures_taken_under_load_and_only_those():
    quiet = LatencyResult("eager", 1, (0.01,) * 20, load={"others_cpu": 0.05, "steal_pct": 0.0})
    busy = LatencyResult("fast", 1, (0.005,) * 20, load={"others_cpu": 1.1, "steal_pct": 0.0})
    advice = " ".join(r for r in score([quiet, busy], ScoringConfig(), "eager").recommendations
                      if r.startswith("Taken under load"))
    assert "fast latency b1 (others 1.10 CPU" in advice and "eager latency" not in advice
    assert "Taken under load" not in " ".join(score([quiet], ScoringConfig(), "eager").recommendations)


def test_loadgen_and_the_latency_test_disagreeing_is_said_and_agreeing_is_not():
    from qpbench.results import LoadGenResult

    def single(p50_ms: float) -> LoadGenResult:
        return LoadGenResult("eager", "SingleStream", True, 100.0, {"p50": p50_ms, "p90": p50_ms * 1.1}, 64)

    latency = LatencyResult("eager", 1, (0.010,) * 20)
    apart = " ".join(score([latency, single(15.0)], ScoringConfig(), "eager").recommendations)
    assert "LoadGen SingleStream p50 and the latency test's batch-1 p50 differ" in apart and "eager 15.00 vs 10.00 ms" in apart
    close = " ".join(score([latency, single(10.5)], ScoringConfig(), "eager").recommendations)
    assert "LoadGen SingleStream" not in close
