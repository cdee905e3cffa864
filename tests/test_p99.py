"""A criterion is one registry entry: the batch-1 p99 (``latency_p99_ms``, criteria.py) is off by
default and costs nothing; with a target it is a setting users give like any other, the timing
takes the samples that bound a p99, and the verdict, the schema and the reports carry it."""

from __future__ import annotations

import numpy as np
import pytest

from qpbench.config import Targets, get_profile, make_scoring
from qpbench.criteria import CRITERIA, UNBOUNDED, active, tail_targets_s
from qpbench.measure.stopping import measure_until, rule_for
from qpbench.record import schema
from qpbench.render.terminal import readiness_lines
from qpbench.results import LatencyResult, VariantInfo
from qpbench.verdict.scoring import score
from qpbench.stats import samples_to_bound
from tests.test_stopping import FakeClock


def results(n: int) -> list:
    rng = np.random.default_rng(1)
    samples = tuple(0.010 + 0.002 * rng.random(n))  # 10-12 ms, a p99 near 12 ms
    return [VariantInfo("eager", 1, 1, None), LatencyResult("eager", 1, samples)]


def test_unset_it_is_not_judged_shown_or_measured_for():
    assert Targets().latency_p99_ms is None
    scoring = make_scoring([], [], None)
    assert "latency_p99_ms" not in [c.name for c in active(scoring.targets)]
    assert tail_targets_s(scoring.targets) == [[0.95, 0.05]]  # the p95's alone
    assert rule_for("latency", get_profile("quick"), tail_targets_s(scoring.targets)).min_samples == samples_to_bound(0.95)
    verdict = score(results(400), scoring, "eager")
    assert "latency_p99_ms" not in [c.name for c in verdict.variants[0].criteria]
    assert not any("p99 b1" in line for line in readiness_lines(verdict, None, None, [], None, None))


def test_set_the_timing_bounds_a_p99_before_it_stops():
    scoring = make_scoring(["latency_p99_ms=20"], [], None)
    tails = tail_targets_s(scoring.targets)
    assert [0.99, 0.02] in tails
    rule = rule_for("latency", get_profile("quick"), tails)
    assert rule.min_samples == samples_to_bound(0.99) >= 299
    clock = FakeClock([0.010, 0.0101, 0.0099])  # tight data: without the p99 it stops at the p95's floor
    samples, reached = measure_until(clock.work, rule, 0.01, timer=clock)
    assert len(samples) >= samples_to_bound(0.99)
    without, _ = measure_until(FakeClock([0.010, 0.0101, 0.0099]).work,
                               rule_for("latency", get_profile("quick"), [[0.95, 0.05]]), 0.01,
                               timer=FakeClock([0.010, 0.0101, 0.0099]))
    assert len(without) < samples_to_bound(0.99)


@pytest.mark.parametrize("target, passed", [(20.0, True), (11.0, False)])
def test_set_the_verdict_judges_it_with_its_interval(target, passed):
    scoring = make_scoring([f"latency_p99_ms={target}"], [], None)
    verdict = score(results(400), scoring, "eager")
    crit = verdict.variants[0].criterion("latency_p99_ms")
    samples = np.asarray(results(400)[1].samples_s) * 1e3
    assert crit.value == pytest.approx(np.percentile(samples, 99), rel=0.02)
    assert crit.passed is passed and crit.weight == CRITERIA["latency_p99_ms"].weight
    low, high = crit.interval
    assert low <= crit.value <= high
    assert any("p99 b1 ms/img" in line for line in readiness_lines(verdict, None, None, [], None, None))


def test_too_few_samples_leave_it_unbounded():
    verdict = score(results(100), make_scoring(["latency_p99_ms=20"], [], None), "eager")
    assert verdict.variants[0].criterion("latency_p99_ms").call == UNBOUNDED


def test_the_generated_schema_knows_its_target():
    assert "latency_p99_ms" in schema()["$defs"]["Targets"]["properties"]


def test_a_bad_target_is_refused_naming_it():
    with pytest.raises(Exception, match="latency_p99_ms"):
        make_scoring(["latency_p99_ms=-1"], [], None)
