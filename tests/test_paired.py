"""Interleaved A/B timing with a fake clock: ABBA order, pairing, and the typed result."""

from __future__ import annotations

import contextlib

import pytest

from qpbench.measure.paired import abba, paired_until, time_paired
from qpbench.measure.stopping import StopRule
from qpbench.results import PairedResult, Result
from qpbench.schema.codec import dump, load


class FakeClock:
    """Each call advances the clock by its cost; a drift term slows everything over time."""

    def __init__(self, drift: float = 0.0) -> None:
        self.now = 0.0
        self.calls = 0
        self.drift = drift
        self.order: list[str] = []

    def __call__(self) -> float:
        return self.now

    def work(self, name: str, cost: float):
        def run() -> None:
            self.order.append(name)
            self.now += cost * (1 + self.drift * self.calls)
            self.calls += 1
        return run


def test_abba_order_alternates_who_goes_first():
    assert list(abba(4)) == [True, False, True, False]
    clock = FakeClock()
    time_paired(clock.work("v", 1.0), contextlib.nullcontext, clock.work("r", 2.0), contextlib.nullcontext, 3, clock)
    assert clock.order == ["v", "r", "r", "v", "v", "r"]


def test_drift_hits_both_sides_of_a_pair_so_the_ratio_stays_near_the_truth():
    clock = FakeClock(drift=0.05)  # the machine gets 5% slower every call
    v, r = time_paired(clock.work("v", 1.0), contextlib.nullcontext, clock.work("r", 2.0), contextlib.nullcontext,
                       20, clock)
    assert v[-1] / v[0] > 2.5  # absolute times drift a lot
    ratios = sorted(a / b for a, b in zip(v, r))
    assert ratios[len(ratios) // 2] == pytest.approx(0.5, rel=0.05)  # the paired ratio barely moves


def test_paired_timing_warms_up_and_returns_a_typed_result_that_round_trips():
    clock = FakeClock()
    entered = []

    @contextlib.contextmanager
    def runtime():
        entered.append(1)
        yield

    rule = StopRule("median", 0.05, 5, 5, 0.0, 1e9)  # exactly 5 pairs
    result = paired_until("fast", clock.work("v", 1.0), runtime, "eager", clock.work("r", 4.0), runtime,
                          batch_size=1, rule=rule, pair_s=5.0, warmup=2, timer=clock)
    assert isinstance(result, PairedResult) and len(result.variant_s) == 5
    assert result.ratios == (0.25,) * 5 and result.summary()["median_ratio"] == 0.25
    assert len(entered) == 2 * (5 + 2)  # each timed call under its own runtime
    assert load(Result, dump(result)) == result


def test_bad_pairs_are_refused():
    with pytest.raises(ValueError, match="pairs must be >= 1"):
        time_paired(lambda: None, contextlib.nullcontext, lambda: None, contextlib.nullcontext, 0)
    with pytest.raises(ValueError, match="same number"):
        PairedResult("a", "b", 1, (1.0,), (1.0, 2.0))
