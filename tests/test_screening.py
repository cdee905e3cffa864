"""The screen's decision as a pure function: a variant that can still win is never screened out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qpbench.config import ScoringConfig
from qpbench.results import AccuracyResult, FidelityResult, LatencyResult, VariantInfo
from qpbench.verdict.scoring import score
from qpbench.run.screening import ALL, READY, decide


def screen_of(name, p95_ms=10.0, pearson=0.95, loss=0.0, decided=True, error=None):
    """A variant's screen: its build, batch-1 latency (with whether its p95 was clear of the
    target), accuracy and fidelity."""
    precision = {"p95_decided": decided}
    return [
        VariantInfo(name, name, 1.0, 1000, error=error),
        LatencyResult(name, 1, tuple([p95_ms / 1e3] * 20), precision=precision),
        AccuracyResult(name, 100, pearson, pearson, 0.05, 0.07, 0.7, 0.9),
        FidelityResult(name, "eager", 100, 0.01, 0.001, 0.999, loss),
    ]


def run(results, names, policy=(READY,), errors=None):
    return decide(results, errors or {}, ScoringConfig(), "eager", names, policy)


def test_ready_variants_are_kept_and_a_clear_miss_is_screened_out_with_why():
    results = screen_of("eager", p95_ms=150.0) + screen_of("fast", p95_ms=8.0) + screen_of("slower", p95_ms=20.0)
    screen = run(results, ["eager", "fast", "slower"])
    assert screen.kept == ("fast", "slower")  # every ready one, not only the fastest
    assert "latency_p95_ms 150 misses the target" in screen.out["eager"]


def test_a_clear_miss_within_the_margin_of_the_best_score_is_measured_in_full():
    """57 ms against 50: clearly not ready, yet its screen score is within 10 points of the best."""
    results = screen_of("fast", p95_ms=8.0) + screen_of("near", p95_ms=57.0) + screen_of("far", p95_ms=150.0)
    screen = run(results, ["fast", "near", "far"])
    assert screen.kept == ("fast", "near") and set(screen.out) == {"far"}


def test_a_p95_too_close_to_call_keeps_the_variant():
    results = screen_of("fast", p95_ms=8.0) + screen_of("edge", p95_ms=50.5, decided=False)
    assert run(results, ["fast", "edge"]).kept == ("fast", "edge")
    results = screen_of("fast", p95_ms=8.0) + screen_of("edge", p95_ms=50.5, decided=True)
    assert run(results, ["fast", "edge"]).kept == ("fast", "edge")  # decided, but within the score margin
    results = screen_of("fast", p95_ms=8.0) + screen_of("edge", p95_ms=50.5, pearson=0.5)
    assert run(results, ["fast", "edge"]).out.keys() == {"edge"}  # clearly out, and far from the best


def test_accuracy_misses_and_failures_screen_out():
    results = (screen_of("fast") + screen_of("bad", pearson=0.5) + screen_of("lossy", loss=0.3)
               + screen_of("broken", error="boom"))
    screen = run(results, ["fast", "bad", "lossy", "broken"], errors={"fast2": ["x"]})
    assert screen.kept == ("fast",)
    assert "pearson" in screen.out["bad"] and "fidelity_loss" in screen.out["lossy"] and "boom" in screen.out["broken"]


def test_with_nothing_ready_the_closest_are_measured_in_full():
    results = screen_of("a", p95_ms=60.0) + screen_of("b", p95_ms=65.0) + screen_of("c", p95_ms=400.0)
    screen = run(results, ["a", "b", "c"])
    assert screen.kept == ("a", "b") and set(screen.out) == {"c"}


def test_all_keeps_every_variant_and_names_add_to_the_screen():
    results = screen_of("eager", p95_ms=150.0) + screen_of("fast", p95_ms=8.0)
    assert run(results, ["eager", "fast"], (ALL,)).kept == ("eager", "fast")
    assert run(results, ["eager", "fast"], ("eager",)).kept == ("eager", "fast")
    assert run(results, ["eager", "fast"], (READY,)).kept == ("fast",)


def test_a_variant_whose_screen_did_not_run_is_measured():
    """``-k test_peak_memory`` deselects the screen: nothing is known against any variant."""
    assert run(screen_of("fast"), ["fast", "unscreened"]).kept == ("fast", "unscreened")
    assert run([], ["a", "b"]).kept == ("a", "b")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(1.0, 200.0), st.floats(0.5, 1.0), st.booleans()), min_size=1, max_size=6))
def test_a_variant_that_can_still_win_is_never_screened_out(variants):
    """Whatever the later measurements add (they cannot make a ready variant unready unless it
    fails), the recommended variant of the screen's results is always kept, and so is every
    ready one."""
    names = [f"v{i}" for i in range(len(variants))]
    results = [r for n, (p95, pearson, decided) in zip(names, variants) for r in screen_of(n, p95, pearson,
                                                                                          decided=decided)]
    screen = run(results, names)
    verdict = score(results, ScoringConfig(), "eager")
    for v in verdict.variants:
        if v.ready:
            assert screen.keeps(v.variant)
    if verdict.recommended:
        assert screen.keeps(verdict.recommended)


def test_the_verdict_names_a_screened_out_variant_that_ends_close_to_the_recommended_one():
    results = screen_of("fast", p95_ms=8.0) + screen_of("near", p95_ms=52.0)
    verdict = score(results, ScoringConfig(), "eager", screened_out={"near": "latency_p95_ms 52 misses"})
    assert [tuple(r) for r in verdict.screened_out] == [("near", "latency_p95_ms 52 misses")]
    assert any("--qp-long-run=near" in line for line in verdict.recommendations)
    far = score(screen_of("fast") + screen_of("slow", p95_ms=500.0), ScoringConfig(), "eager",
                screened_out={"slow": "x"})
    assert not any("--qp-long-run" in line for line in far.recommendations)


@pytest.mark.parametrize("policy", [(READY,), (ALL,)])
def test_the_decision_round_trips_to_json(policy):
    screen = run(screen_of("fast") + screen_of("eager", p95_ms=150.0), ["eager", "fast"], policy)
    data = screen.to_dict()
    assert data["kept"] == list(screen.kept) and len(data["screened_out"]) == len(screen.out)
