"""Met, missed or too close to call: each criterion's interval against its target (pure functions)."""

import math

import numpy as np
import pytest

from qpbench.config import ScoringConfig
from qpbench.criteria import CRITERIA, measured
from qpbench.criteria import INCONCLUSIVE, MET, MISSED, UNBOUNDED, call
from qpbench.stats import pearson_interval
from qpbench.render import view
from qpbench.results import AccuracyResult, LatencyResult, StressResult, ThroughputResult
from qpbench.verdict.scoring import score


LATENCY_GATE = ScoringConfig(hard_gates=("latency_p95_ms",))  # latency results alone can make a variant ready


def intervals(results):
    """Per variant, the interval of each criterion that has one (criteria.measured)."""
    return {v: {c: m.interval for c, m in found.items() if m.interval} for v, found in measured(results, "eager").items()}


def throughput_interval(r):
    return CRITERIA["throughput_ips"].interval(r, [r])


def latency(name: str, ms: np.ndarray) -> LatencyResult:
    return LatencyResult(name, 1, tuple((ms / 1e3).tolist()))


def test_an_interval_on_one_side_is_met_or_missed_and_one_across_the_target_is_inconclusive():
    assert call(40.0, (38.0, 42.0), 50.0, higher_is_better=False) == MET
    assert call(60.0, (55.0, 65.0), 50.0, higher_is_better=False) == MISSED
    assert call(49.0, (47.0, 52.0), 50.0, higher_is_better=False) == INCONCLUSIVE
    assert call(0.95, (0.93, 0.96), 0.90, higher_is_better=True) == MET
    assert call(0.91, (0.89, 0.93), 0.90, higher_is_better=True) == INCONCLUSIVE
    # An open end decides nothing on its side; no interval: the value alone; NaN: missed.
    # Passing on the estimate with the far end open: too few samples to bound it, not too close to call.
    assert call(40.0, (38.0, math.inf), 50.0, higher_is_better=False) == UNBOUNDED
    assert call(0.95, (-math.inf, 0.97), 0.90, higher_is_better=True) == UNBOUNDED
    assert call(60.0, (55.0, math.inf), 50.0, higher_is_better=False) == MISSED
    assert call(40.0, None, 50.0, higher_is_better=False) == MET
    assert call(math.nan, None, 50.0, higher_is_better=False) == MISSED


def test_the_intervals_come_from_the_samples():
    rng = np.random.default_rng(3)
    lat = latency("v", rng.normal(40.0, 4.0, 400))
    got = intervals([lat, AccuracyResult("v", 800, 0.95, 0.95, 0.05, 0.07, 0.7, 0.9)])["v"]
    low, high = got["latency_p95_ms"]
    assert low < lat.per_image_ms["p95"] < high and high - low < 5.0
    low, high = got["pearson"]
    assert low < 0.95 < high
    # More samples, a narrower Pearson interval; too few, none.
    assert np.diff(pearson_interval(0.95, 8000)) < np.diff(pearson_interval(0.95, 800))
    assert pearson_interval(0.95, 3) is None
    # Throughput: images per second from the mean batch time's interval its stopping rule kept.
    ips = throughput_interval(ThroughputResult("v", 8, 800, 10.0, precision={"low": 0.09, "high": 0.11}))
    assert ips == pytest.approx((8 / 0.11, 8 / 0.09))
    assert throughput_interval(ThroughputResult("v", 8, 800, 10.0)) is None


def test_a_p95_within_the_noise_of_its_target_is_called_inconclusive_and_said_so():
    rng = np.random.default_rng(4)
    close = latency("close", rng.normal(45.0, 3.0, 100))  # p95 about 50 ms, the target, from 100 calls
    clear = latency("clear", rng.normal(10.0, 0.5, 400))
    verdict = score([close, clear], ScoringConfig())
    calls = {v.variant: v.criterion("latency_p95_ms") for v in verdict.variants}
    assert calls["close"].call == INCONCLUSIVE and calls["close"].interval[0] < 50.0 < calls["close"].interval[1]
    assert calls["clear"].call == MET
    assert view.criterion_cell(calls["close"]).text.endswith("?")
    assert not view.criterion_cell(calls["clear"]).text.endswith("?")
    line = next(r for r in verdict.recommendations if r.startswith("Too close to call"))
    assert "close latency_p95_ms" in line and "clear" not in line
    # The score and ``passed`` use the estimate; readiness wants the gate met beyond the noise.
    assert calls["close"].passed == (calls["close"].value <= 50.0)
    ready = {v.variant: v for v in score([close, clear], LATENCY_GATE).variants}
    assert ready["clear"].ready and not ready["close"].ready
    assert any(r.startswith("latency_p95_ms") for r in ready["close"].reasons)
    # The plan's criterion is met by the clear one; with the close one alone it is too close to call.
    assert view.plan_rows(verdict)[0].state == "met" and "clear" in view.plan_rows(verdict)[0].detail
    alone = view.plan_rows(score([close], ScoringConfig()))[0]
    assert alone.state == "inconclusive" and alone.detail.startswith("the 95% interval contains the target: close ")


@pytest.mark.parametrize("side", [-1.0, 1.0])
def test_a_variant_at_its_gate_is_not_ready_on_either_side_of_it(side):
    """The ready set does not flip with noise: a batch-1 p95 whose interval holds the 50 ms target
    makes the variant not ready whether its estimate fell just under or just over the target, and
    it is not recommended; a variant clear of the gate is, on both draws."""
    rng = np.random.default_rng(8)
    base = rng.normal(0.0, 3.0, 100)
    at_gate = 50.0 + side * 0.5 - np.percentile(base, 95) + base  # its p95 0.5 ms off the target
    verdict = score([latency("eager", rng.normal(60.0, 1.0, 400)), latency("at-gate", at_gate),
                     latency("clear", rng.normal(20.0, 0.5, 400))], LATENCY_GATE)
    by_name = {v.variant: v for v in verdict.variants}
    c = by_name["at-gate"].criterion("latency_p95_ms")
    assert c.inconclusive and c.passed == (side < 0)
    assert not by_name["at-gate"].ready and by_name["clear"].ready
    why = next(r for r in by_name["at-gate"].reasons if r.startswith("latency_p95_ms"))
    assert ("too close to call" in why) == (side < 0) and ("misses" in why) == (side > 0)
    assert verdict.recommended == "clear"
    assert by_name["at-gate"].at_gate and not by_name["clear"].at_gate  # the same label on both sides
    rows = {row.variant: row.ready_text for row in view.variant_rows(verdict)}
    assert rows["at-gate"] == "at gate" and rows["clear"] == "yes" and rows["eager"] == "no"
    # Alone at its gate: nothing is recommended, and the verdict says why.
    alone = score([latency("eager", rng.normal(60.0, 1.0, 400)), latency("at-gate", at_gate)], LATENCY_GATE)
    assert alone.recommended is None


def test_a_clean_verdict_has_nothing_too_close_to_call():
    rng = np.random.default_rng(5)
    verdict = score([latency("a", rng.normal(10.0, 0.5, 400)), latency("b", rng.normal(200.0, 5.0, 400))],
                    ScoringConfig())
    assert {v.criterion("latency_p95_ms").call for v in verdict.variants} == {MET, MISSED}
    assert not any(r.startswith("Too close to call") for r in verdict.recommendations)


def stress_run(name: str, ms: np.ndarray, batch_size: int = 1) -> StressResult:
    return StressResult(name, batch_size, 0, 100.0, 200.0, tuple((ms / 1e3).tolist()), (150.0,) * len(ms))


def test_a_p95_met_in_the_latency_test_and_missed_over_the_stress_run_is_too_close_to_call():
    """The stress run times the same batch-1 call in a fresh process over hundreds of calls: where
    its p95 lies across the target from the latency test's (slow calls every half second that the
    short window did not catch), the p95 is too close to call; where both agree it is met. A
    stress run at another batch size says nothing about the batch-1 p95."""
    rng = np.random.default_rng(6)
    quick = rng.normal(32.0, 1.0, 72)
    spells = np.where(np.arange(400) % 17 == 0, 52.0, 30.0) + rng.normal(0.0, 1.0, 400)  # p95 above 50 ms
    steady = rng.normal(31.0, 1.0, 400)
    results = [latency("spells", quick), stress_run("spells", spells), latency("steady", quick),
               stress_run("steady", steady), latency("other-batch", quick), stress_run("other-batch", spells, 4)]
    got = intervals(results)
    assert got["spells"]["latency_p95_ms"][1] > 50.0 > got["spells"]["latency_p95_ms"][0]
    assert got["steady"]["latency_p95_ms"][1] < 50.0 and got["other-batch"]["latency_p95_ms"][1] < 50.0
    verdict = score(results, ScoringConfig())
    calls = {v.variant: v.criterion("latency_p95_ms") for v in verdict.variants}
    assert calls["spells"].call == INCONCLUSIVE and calls["steady"].call == MET and calls["other-batch"].call == MET
    assert calls["spells"].passed  # the estimate is the latency test's, met; the score keeps it
    ready = {v.variant: v.ready for v in score(results, LATENCY_GATE).variants}
    assert not ready["spells"] and ready["steady"]  # not shown to meet the gate
    line = next(r for r in verdict.recommendations if r.startswith("Too close to call"))
    assert "spells latency_p95_ms" in line and "steady" not in line


def test_a_p95_from_too_few_calls_is_unbounded_and_said_so():
    """The quick profile's 20 calls of a variant far under its target: not "too close to call"."""
    fast = latency("fast", np.random.default_rng(5).normal(12.0, 0.3, 20))
    verdict = score([fast], ScoringConfig())
    c = verdict.variants[0].criterion("latency_p95_ms")
    assert c.call == UNBOUNDED and c.unbounded and not c.inconclusive
    assert view.criterion_cell(c).text.endswith("*")
    assert any(line.startswith("Not enough samples to bound it: fast latency_p95_ms") for line in verdict.recommendations)
    assert not any(line.startswith("Too close to call") for line in verdict.recommendations)
    row = next(r for r in view.plan_rows(verdict) if r.criterion.startswith("batch-1 p95"))
    assert row.state == "unbounded" and "not enough samples to bound it" in row.detail
