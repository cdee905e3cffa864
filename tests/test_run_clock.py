"""The run's clock, its history between runs and the budget's share, as pure functions."""

from __future__ import annotations

import pytest

from qpbench.config import MIN_STRESS_ITERATIONS, get_profile, parse_budget, scaled
from qpbench.errors import ConfigError
from qpbench.run.clock import (
    BUILDS,
    MIN_SCALE,
    RunClock,
    budget_scale,
    builds_expected,
    expected,
    history_key,
    load_history,
    measurement_id,
    save_history,
    stage_of,
    timing_line,
)


def test_tests_are_booked_to_their_stage_with_builds_apart():
    clock = RunClock()
    clock.book("fx-int8", "test_accuracy[fx-int8]", 10.0, 7.0)
    clock.book("fx-int8", "test_stress[fx-int8]", 5.0, 0.0)
    clock.book("fx-int8", "test_own_probe[fx-int8]", 1.0, 0.0)
    assert dict(clock.stages) == {BUILDS: 7.0, "accuracy": 3.0, "long runs": 5.0, "other": 1.0}
    assert clock.tests[measurement_id("fx-int8", "test_accuracy[fx-int8]")] == 3.0
    assert builds_expected(["fx-int8", "eager"], clock.tests) == 7.0
    timing = clock.to_dict(budget_s=600.0, scale=0.5)
    assert list(timing["stages_s"]) == [BUILDS, "long runs", "accuracy", "other"]  # largest first
    assert timing["budget_s"] == 600.0 and timing["scale"] == 0.5
    assert timing_line({"wall_s": 95.0, "stages_s": {"builds": 61.0, "accuracy": 30.2, "other": 0.1},
                        "budget_s": None, "scale": 1.0}) == "run time 1 min 35 s: builds 1 min 01 s, accuracy 30 s"


def test_stage_of_ignores_parameters():
    assert stage_of("test_latency[b4-eager]") == "latency/throughput"
    assert stage_of("test_loadgen_scenarios[onnx-int8]") == "long runs"


def test_history_round_trips_and_a_bad_file_is_no_history(tmp_path):
    path = tmp_path / "h.json"
    assert load_history(path) == {}
    save_history(path, {"a::t": 1.5, "build:a": 2.0})
    assert load_history(path) == {"a::t": 1.5, "build:a": 2.0}
    path.write_text("{not json")
    assert load_history(path) == {}
    path.write_text('{"version": 999, "seconds": {"a::t": 1}}')
    assert load_history(path) == {}


def test_history_is_kept_per_workload_profile_and_cpu():
    w = {"name": "default", "model_factory": "m:build"}
    keys = {history_key(w, "default", "cpu A"), history_key(w, "full", "cpu A"), history_key(w, "default", "cpu B"),
            history_key({**w, "name": "compact"}, "default", "cpu A")}
    assert len(keys) == 4


def test_expected_counts_what_was_never_timed():
    assert expected(["a", "b", "c"], {"a": 2.0, "b": 3.0}) == (5.0, 1)


def test_times_the_build_cache_served_are_kept_apart_and_expected_when_the_cache_is_on():
    """After a cold run the plan of a warm one expected cold builds and predictions (19:30 where
    10:17 was run): a cached build's times are booked apart, and expected with the cache on."""
    cold, warm = RunClock(), RunClock()
    for clock, build_s, accuracy_s, cached in ((cold, 30.0, 40.0, False), (warm, 3.0, 0.5, True)):
        clock.book("eager", "test_accuracy[eager]", build_s + accuracy_s, build_s, cached)
        clock.book("eager", "test_stress[eager]", 60.0, 0.0, cached)  # not a stage the cache cuts
    history = {**cold.tests, **warm.tests}
    ids = [measurement_id("eager", "test_accuracy[eager]"), measurement_id("eager", "test_stress[eager]")]
    assert expected(ids, history, cache_on=True) == (60.5, 0) and builds_expected(["eager"], history, True) == 3.0
    assert expected(ids, history, cache_on=False) == (100.0, 0) and builds_expected(["eager"], history) == 30.0
    assert expected(ids, cold.tests, cache_on=True) == (100.0, 0)  # no cached time known yet: the cold one


def test_budget_scale_fits_the_scalable_part_and_has_a_floor():
    assert budget_scale(600.0, 100.0, 400.0) == 1.0  # fits as it is
    assert budget_scale(300.0, 100.0, 400.0) == pytest.approx(0.5)
    assert budget_scale(50.0, 100.0, 400.0) == MIN_SCALE  # the builds alone exceed it: the deadline skips instead


def test_a_scaled_profile_cuts_time_ceilings_not_sample_floors():
    p = get_profile("default")
    half = scaled(p, 0.5)
    assert half.latency_budget_s == p.latency_budget_s / 2 and half.throughput_s == p.throughput_s / 2
    assert half.min_rounds == p.min_rounds and half.batch_sizes == p.batch_sizes
    assert scaled(p, 0.01).stress_iterations == MIN_STRESS_ITERATIONS
    assert scaled(p, 1.0) is p


@pytest.mark.parametrize("bad", ["0", "-3", "soon", "nan", "inf"])
def test_a_bad_budget_is_refused(bad):
    with pytest.raises(ConfigError, match="budget must be a number of minutes > 0"):
        parse_budget(bad)
