"""examples/time_floor.py: the time a run's measurements take at their profile's floors, from the
per-call times its record holds."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from qpbench.config import get_profile
from qpbench.results import AccuracyResult, LatencyResult, StressResult
from tests.records import make_record

PROFILE = get_profile("quick")  # make_record's


@pytest.fixture(scope="module")
def time_floor():
    path = Path(__file__).resolve().parents[1] / "examples" / "time_floor.py"
    spec = importlib.util.spec_from_file_location("time_floor", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measured(variant: str, call_s: float, full: bool = True, cached: bool = False) -> list:
    out = [LatencyResult(variant, 1, (call_s,) * 20), LatencyResult(variant, 4, (2 * call_s,) * 20),
           AccuracyResult(variant, 400, 0.95, 0.95, 0.02, 0.03, 0.9, 1.0,
                          predictions_from="build cache" if cached else None)]
    if full:
        out.append(StressResult(variant, 1, 10, 300.0, 320.0, (call_s,) * 40, (310.0,) * 40))
    return out


def test_floors_scale_with_the_calls_and_leave_out_what_was_not_measured_in_full(time_floor):
    record = make_record(measured("eager", 0.01) + measured("slow", 0.04) + measured("screened", 0.01, full=False))
    floors = time_floor.floors(record)
    assert set(floors) == {"eager", "slow", "screened"}
    # Screened out: its screen (latency, accuracy) and nothing after it.
    assert set(floors["screened"]) == {"accuracy", "latency/throughput"}
    assert floors["screened"]["accuracy"] == pytest.approx(400 * 0.01)
    stress_calls = PROFILE.stress_min_iterations + PROFILE.stress_warmup
    assert floors["eager"]["stress"] == pytest.approx(stress_calls * 0.01)
    assert floors["slow"]["stress"] == pytest.approx(4 * floors["eager"]["stress"])
    assert floors["slow"]["accuracy"] == pytest.approx(400 * 0.04)  # no batch-16 latency: at batch 1's time
    configurations = len(PROFILE.concurrency_threads) + 1  # and the thread count split over 2 processes
    assert floors["eager"]["concurrency"] == pytest.approx(configurations * PROFILE.concurrency_s)
    # LoadGen: the Server test at the 10 QPS target dominates a fast model's floor.
    assert floors["eager"]["LoadGen"] == pytest.approx(64 * 0.01 + max(64 * 0.005, 0.5) + 6.4)
    assert all(v > 0 for kinds in floors.values() for v in kinds.values())


def test_a_warm_record_is_bounded_without_its_accuracy_pass(time_floor, tmp_path, capsys):
    for name, cached in (("cold", False), ("warm", True)):
        make_record(measured("eager", 0.01, cached=cached)).write(tmp_path / f"{name}.json")
    time_floor.main([str(tmp_path / "cold.json"), str(tmp_path / "warm.json")])
    bounds = [line for line in capsys.readouterr().out.splitlines() if "lower bound" in line]
    assert bounds[0].endswith("(cold)") and bounds[1].endswith("(warm: predictions from the build cache)")
    seconds = [int(b.split("lower bound: ")[1].split(" s")[0]) for b in bounds]
    assert seconds[0] > seconds[1]  # 400 samples at 10 ms: 4 s, and the record's stages are empty


def test_the_reference_predicts_every_sample_a_fidelity_was_judged_on(time_floor):
    whole = [AccuracyResult("slow", 800, 0.95, 0.95, 0.02, 0.03, 0.9, 1.0)]
    floors = time_floor.floors(make_record(measured("eager", 0.01) + measured("slow", 0.04) + whole))
    assert floors["eager"]["accuracy"] == pytest.approx(800 * 0.01)  # its own 400, and the 800 slow's fidelity needs


def test_worker_start_ups_and_the_rest_are_printed_beside_the_bound(time_floor, tmp_path, capsys):
    record = make_record(measured("eager", 0.01))
    record = replace(record, timing={"wall_s": 100.0, "stages_s": {"builds": 20.0},
                                     "workers": {"starts": 5, "start_s": 2.0, "imports_s": 8.0, "load_s": 15.0}})
    record.write(tmp_path / "r.json")
    time_floor.main([str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert "worker processes: 5, interpreter 2 s, imports 8 s, builds and loads 15 s" in out
    bound = int(out.split("lower bound: ")[1].split(" s")[0])
    assert f"past the floors, start-ups and builds: {100 - bound - 10} s" in out


def test_only_the_samples_the_run_predicted_count(time_floor):
    """A warm run whose first looks came from the build cache and one whole set did not: that set's
    new samples count, the cached ones and the reference's (its own accuracy cached) do not."""
    whole = [AccuracyResult("slow", 800, 0.95, 0.95, 0.02, 0.03, 0.9, 1.0)]
    record = make_record(measured("eager", 0.01, cached=True) + measured("slow", 0.04, cached=True) + whole)
    floors = time_floor.floors(record)
    assert floors["slow"]["accuracy"] == pytest.approx((800 - 400) * 0.04)
    assert floors["eager"]["accuracy"] == 0.0
