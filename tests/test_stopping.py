"""The stopping rule with synthetic samples and a fake clock: stops early on tight data, keeps
going on noisy data, never past the ceiling, and keeps a p95 close to its target measured."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qpbench.config import get_profile
from qpbench.measure.defaults import MEASURE
from qpbench.measure.stopping import StopRule, check, measure_until, precision_of, tail_decided, rule_for
from qpbench.stats import quantile_interval, samples_to_bound


class FakeClock:
    """Each call takes the next of ``costs`` (cycled) seconds of fake time."""

    def __init__(self, costs):
        self.now = 0.0
        self.costs = list(costs)
        self.calls = 0

    def __call__(self):
        return self.now

    def work(self):
        self.now += self.costs[self.calls % len(self.costs)]
        self.calls += 1


def rule(**kw) -> StopRule:
    base = dict(statistic="median", rel_width=0.05, min_samples=5, max_samples=10_000, min_s=0.5, max_s=30.0)
    return StopRule(**{**base, **kw})


def test_tight_data_stops_soon_after_the_floor():
    clock = FakeClock([0.010, 0.0101, 0.0099])
    samples, reached = measure_until(clock.work, rule(), 0.01, timer=clock)
    assert reached.stopped == "precise" and reached.precise
    assert 0.5 <= reached.elapsed_s < 1.0  # the time floor, then the first check that finds it precise
    assert len(samples) == reached.n


def test_noisy_data_keeps_going_until_the_ceiling():
    rng = np.random.default_rng(0)
    clock = FakeClock(rng.lognormal(np.log(0.01), 1.0, 5000))  # a factor of e either way
    samples, reached = measure_until(clock.work, rule(rel_width=0.01), 0.01, timer=clock)
    assert reached.stopped == "max_s" and not reached.precise
    assert reached.elapsed_s >= 30.0 and reached.elapsed_s < 30.0 + 0.5  # one block past the check, no more


def test_never_past_the_sample_ceiling():
    clock = FakeClock([0.001, 0.002, 0.05])
    samples, reached = measure_until(clock.work, rule(rel_width=1e-6, max_samples=37), 0.001, timer=clock)
    assert len(samples) == 37 and reached.stopped == "max_samples"


def test_the_floor_of_samples_holds_past_the_time_ceiling():
    clock = FakeClock([2.0])  # one call is longer than the whole time ceiling
    samples, reached = measure_until(clock.work, rule(max_s=1.0, min_samples=5), 2.0, timer=clock)
    assert len(samples) == 5 and reached.stopped == "max_s"


def test_a_p95_close_to_its_target_keeps_the_latency_measured():
    # Median tight, but the slow tail sits on the 50 ms target: not decided until the ceiling.
    costs = [0.030] * 18 + [0.049, 0.051]
    clock = FakeClock(costs)
    _, reached = measure_until(clock.work, rule(tail_targets=((0.95, 0.050),)), 0.03, timer=clock)
    assert reached.stopped == "max_s" and reached.p95_decided is False
    # Far from the target, the same data stops early.
    clock = FakeClock(costs)
    _, reached = measure_until(clock.work, rule(tail_targets=((0.95, 0.200),)), 0.03, timer=clock)
    assert reached.stopped == "precise" and reached.p95_decided is True


def test_quantile_interval_is_open_where_too_few_samples_exist():
    low, high = quantile_interval([1.0, 2.0, 3.0], 0.95)
    assert high == math.inf and low <= 3.0
    low, high = quantile_interval(list(range(1, 101)), 0.5)
    assert 38 <= low < 50 < high <= 62  # ranks from the binomial distribution around the median


def test_quantile_interval_covers_the_true_median_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(400):
        x = rng.exponential(1.0, 40)
        low, high = quantile_interval(x, 0.5)
        hits += low <= math.log(2) <= high
    assert 0.92 <= hits / 400 <= 0.995


def test_p95_decided_only_when_clear_of_the_target():
    tail = [0.010] * 95 + [0.012] * 5
    assert tail_decided(tail, 0.95, 0.050)  # clearly met
    assert tail_decided([0.100] * 20, 0.95, 0.050)  # clearly missed
    assert not tail_decided([0.010] * 10, 0.95, 0.050)  # too few samples to bound the p95 from above


def test_check_waits_for_the_floors():
    assert check([0.01] * 3, rule(), 10.0) is None  # below the sample floor
    assert check([0.01] * 50, rule(), 0.1) is None  # below the time floor
    assert check([0.01] * 50, rule(), 0.6).stopped == "precise"


def test_profiles_give_rules_with_their_floors_and_ceilings():
    p = get_profile("default")
    lat = rule_for("latency", p, [[0.95, 0.05]])
    # A timing that feeds the p95 target takes the samples that bound a p95 (72 for a 95% interval),
    # and one that feeds a p99 target too the 368 that bound a p99 (two-sided, as every interval here).
    assert (lat.min_samples, lat.max_s, lat.tail_targets, lat.rel_width) == (
        samples_to_bound(0.95), p.latency_budget_s, ((0.95, 0.05),), p.precision)
    assert rule_for("latency", p, [[0.95, 0.05], [0.99, 0.08]]).min_samples == samples_to_bound(0.99) == 368
    larger = rule_for("latency", p)  # a larger batch feeds no p95: the profile's floor
    assert larger.min_samples == p.min_rounds and larger.windows == MEASURE.latency_windows
    assert rule_for("paired", p).min_samples >= MEASURE.min_pairs and rule_for("paired", p).tail_targets == ()
    tput = rule_for("throughput", p)
    assert tput.statistic == "mean" and (tput.min_s, tput.max_s) == (p.throughput_min_s, p.throughput_s)
    assert get_profile("full").precision < p.precision < get_profile("quick").precision


def test_bad_rules_are_refused():
    with pytest.raises(ValueError, match="statistic"):
        rule(statistic="mode")
    with pytest.raises(ValueError, match="inconsistent"):
        rule(min_samples=10, max_samples=5)


def test_a_p95_needs_the_samples_that_bound_it():
    """Fewer calls than samples_to_bound leave the p95's upper end open: never "clearly met"."""
    n = samples_to_bound(0.95)
    assert quantile_interval([0.01] * (n - 1), 0.95)[1] == math.inf
    assert quantile_interval([0.01] * n, 0.95)[1] < math.inf
    assert 59 <= n <= 80 and samples_to_bound(0.99) > n


def test_one_level_of_the_machine_does_not_make_a_median_precise():
    """Calls at 12 ms for a third of the window, then 15 ms: the interval of one window (pooled
    order statistics) is narrow, the windows' medians show the level shift."""
    rng = np.random.default_rng(0)
    levels = [*(0.012 + rng.normal(0, 1e-5, 100)), *(0.0155 + rng.normal(0, 1e-5, 200))]
    one = rule(windows=1)
    three = rule(windows=3)
    assert precision_of(levels, one, 1.0).precise  # what the old rule called precise
    reached = precision_of(levels, three, 1.0)
    assert not reached.precise and reached.low <= 0.0121 and reached.high >= 0.0154
    steady = list(0.012 + rng.normal(0, 1e-5, 300))
    assert precision_of(steady, three, 1.0).precise  # a clean timing is not flagged
