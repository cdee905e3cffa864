"""``--qp-long-run=contenders`` as pure functions (run/screening.py): the screen names the kept
variants a head-to-head may find tied with the fastest (measured in full whatever happens) and
orders every kept variant by speed; a slower one is measured in full only when no variant measured
in full before it is still ready, and otherwise says why not and how to measure it."""

from __future__ import annotations

from qpbench.config import ScoringConfig
from qpbench.run.screening import CONTENDERS, READY, Screen, decide, standby_reason
from tests.test_screening import run, screen_of


def test_the_contenders_are_the_kept_variants_within_the_race_of_the_fastest_and_all_go_by_speed():
    results = (screen_of("eager", p95_ms=150.0) + screen_of("slow", p95_ms=30.0) + screen_of("fast", p95_ms=10.0)
               + screen_of("near", p95_ms=11.0) + screen_of("mid", p95_ms=20.0))
    screen = run(results, ["eager", "slow", "fast", "near", "mid"], policy=(CONTENDERS,))
    assert screen.contenders == ("fast", "near")  # near is within 1.25x of fast; mid is not
    assert screen.order == ("fast", "near", "mid", "slow")  # every kept one, fastest first
    assert set(screen.out) == {"eager"} and screen.by_speed
    assert screen.ready == {"fast", "near", "mid", "slow"}


def test_a_named_variant_is_a_contender_and_the_ready_policy_names_none():
    results = screen_of("fast", p95_ms=10.0) + screen_of("mid", p95_ms=20.0)
    assert run(results, ["fast", "mid"], policy=(CONTENDERS, "mid")).contenders == ("fast", "mid")
    ready = run(results, ["fast", "mid"], policy=(READY,))
    assert ready.contenders == () and not ready.by_speed


def test_under_contenders_a_clear_miss_is_not_kept_for_its_score():
    """The ready policy keeps a clear miss within 10 points of the best score (so that scores
    compared); contenders does not: the scores rest on what every variant got anyway."""
    results = screen_of("fast", p95_ms=8.0) + screen_of("near", p95_ms=57.0)
    assert run(results, ["fast", "near"]).kept == ("fast", "near")
    assert run(results, ["fast", "near"], policy=(CONTENDERS,)).kept == ("fast",)


def test_a_slower_variant_waits_while_one_measured_in_full_stands_and_is_measured_when_none_does():
    screen = Screen((CONTENDERS,), ("fast", "mid", "slow"), {}, ("fast",), ("fast", "mid", "slow"),
                    {"fast": 10.0, "mid": 19.0, "slow": 30.0}, frozenset({"fast", "mid", "slow"}))
    assert standby_reason(screen, "fast", standing=[]) is None  # a contender: always measured
    why = standby_reason(screen, "mid", standing=["fast"])
    assert why == ("ready at the screen, 1.9x slower than fast at batch 1, which its long runs left ready: "
                   "long runs not made")
    assert standby_reason(screen, "mid", standing=[]) is None  # fast fell: the next by speed is measured
    assert "1.6x slower than mid" in standby_reason(screen, "slow", standing=["mid"])
    assert standby_reason(screen, "gone", standing=["fast"]) is None  # not kept: the screen's own reason applies


def test_a_variant_kept_for_a_p95_too_close_to_call_says_so():
    results = screen_of("fast", p95_ms=8.0) + screen_of("edge", p95_ms=50.5, decided=False)
    screen = decide(results, {}, ScoringConfig(), "eager",
                    ["fast", "edge"], (CONTENDERS,))
    assert screen.kept == ("fast", "edge") and "edge" not in screen.ready
    assert standby_reason(screen, "edge", ["fast"]).startswith("its batch-1 p95 too close to call at the screen")
