"""The run's plan and its finishing step, as functions: what moved out of the session (run/plan.py,
run/finish.py), tested without pytest sessions, on a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from qpbench.config import ScoringConfig, get_profile
from qpbench.run import finish
from qpbench.run.clock import build_id, load_history, measurement_id, save_history
from qpbench.run.plan import Planner
from qpbench.workload import WorkloadSpec
from tests.test_scoring import results_for


class FakeTimer:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


TESTS = [("eager", "test_accuracy[eager]"), ("fast", "test_accuracy[fast]"), ("fast", "test_stress[fast]")]


def planner(tmp_path: Path, history: dict[str, float] | None, budget_min: float | None, timer=None) -> Planner:
    path = tmp_path / "history.json"
    if history is not None:
        save_history(path, history)
    return Planner(lambda: path, cache_on=False, budget_min=budget_min, timer=timer or FakeTimer())


def test_a_first_run_has_no_estimate_and_no_scaling(tmp_path):
    lines, profile = planner(tmp_path, None, 10.0).plan(TESTS, get_profile("default"), "eager")
    assert "no estimate yet (3 of them not timed on this machine before)" in lines[0]
    assert profile == get_profile("default") and lines[1].startswith("qpbench budget: 10 min")


def test_a_budget_scales_the_ceilings_from_the_last_runs_times(tmp_path):
    history = {measurement_id(v, n): 60.0 for v, n in TESTS} | {build_id("eager"): 30.0, build_id("fast"): 30.0}
    # 180 s: 90 s of builds (the reference's too) fixed, 180 s of measurements scaled
    p = planner(tmp_path, history, 3.0)
    lines, profile = p.plan(TESTS, get_profile("default"), "eager")
    assert "expected 4 min 30 s from the last run here (builds 1 min 30 s)" in lines[0]
    assert p.budget_share == pytest.approx(0.5) and "time ceilings at 50% of the profile's" in lines[1]
    assert profile.latency_budget_s == pytest.approx(0.5 * get_profile("default").latency_budget_s)


def test_a_measurement_that_would_end_past_the_budget_is_skipped(tmp_path):
    timer = FakeTimer()
    p = planner(tmp_path, {measurement_id("fast", "test_stress[fast]"): 100.0}, 2.0, timer)
    assert p.over_budget("fast", "test_stress[fast]") is None  # 0 + 100 s <= 120 s
    timer.now += 30.0
    assert p.over_budget("fast", "test_stress[fast]") == "over the --qp-budget of 2 min (30 s spent)"
    assert planner(tmp_path, {}, None, timer).over_budget("fast", "test_stress[fast]") is None  # no budget


def test_the_eta_follows_this_runs_pace(tmp_path):
    timer = FakeTimer()
    history = {measurement_id(v, n): 10.0 for v, n in TESTS}
    p = planner(tmp_path, history, None, timer)
    p.book("eager", "test_accuracy[eager]", 20.0, 0.0, cached=False)  # twice as slow as last time
    timer.now += 20.0
    assert p.eta(TESTS[1:]) == "elapsed 20 s, ETA 40 s"
    p.save_history()
    saved = load_history(tmp_path / "history.json")
    assert saved[measurement_id("eager", "test_accuracy[eager]")] == 20.0 and saved[measurement_id(*TESTS[2])] == 10.0


def test_judging_scores_the_selected_variants_and_keeps_every_error():
    results = results_for("eager", p95_ms=80.0) + results_for("fast", p95_ms=8.0)
    errors = {"fast": [], "other": ["test_latency[other]: boom"]}
    done = finish.judge(results, errors, {"cpu": {}}, {}, ("eager", "fast"), ScoringConfig(), "eager", 80.0, {})
    assert done.verdict.recommended == "fast" and not done.score_gate.failed
    assert "other" not in {v.variant for v in done.verdict.variants} and done.errors["other"]
    strict = finish.judge(results, errors, {"cpu": {}}, {}, ("eager", "fast"), ScoringConfig(), "eager", 101.0, {})
    assert strict.score_gate.failed


def test_the_record_carries_the_judgement_and_the_timing():
    done = finish.judge(results_for("eager"), {}, {"cpu": {"brand": "x"}}, {}, ("eager",), ScoringConfig(), "eager",
                        None, {})
    spec = WorkloadSpec("w", "m:f", None, "d.npz", 16)
    record = finish.run_record(done, spec, None, {"name": "quick"}, ("eager",), None, {"wall_s": 1.0})
    assert record.verdict is done.verdict and record.fingerprint == {"cpu": {"brand": "x"}}
    assert record.timing == {"wall_s": 1.0} and record.selected_variants == ("eager",) and record.hosts is None
