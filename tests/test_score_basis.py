"""Every score of a run rests on the same criteria (verdict/scoring.py, ``score_basis``): a
criterion the run measured for some variants only is judged for them, not scored, so a variant
measured in full in one run and in the screen only in the next keeps its score."""

import pytest

from qpbench.config import ScoringConfig
from qpbench.record import RunRecord
from qpbench.render import view
from qpbench.render.markdown import render_markdown
from qpbench.render.terminal import summary_lines
from qpbench.results import AccuracyResult, FidelityResult, LatencyResult, MemoryResult, ThroughputResult
from qpbench.schema.codec import dump, load
from qpbench.verdict import Verdict
from qpbench.verdict.scoring import score, score_basis
from tests.records import make_record

SCREEN = ("latency_p95_ms", "pearson", "fidelity_loss")


def screen(name, *, p95_ms=10.0, pearson=0.95):
    """What the screen measures of a variant: batch-1 latency, accuracy, fidelity."""
    return [LatencyResult(name, 1, tuple([p95_ms / 1e3] * 100)),
            AccuracyResult(name, 100, pearson, pearson, 0.05, 0.07, 0.7, 0.9),
            FidelityResult(name, "eager", 100, 0.01, 0.001, 0.999, 0.0)]


def long_runs(name, *, ips=100.0, rss=300.0):
    """What the run measures after the screen (here throughput and memory)."""
    return [ThroughputResult(name, 8, images=int(ips * 10), duration_s=10.0),
            MemoryResult(name, baseline_rss_mb=rss / 2, peak_rss_mb=rss, batch_size=1, iterations=3, torch_build="x")]


def scores(verdict):
    return {v.variant: v.score for v in verdict.variants}


def test_a_variant_keeps_its_score_whether_measured_in_full_or_screened():
    # "slow" misses the memory target (soft) and the throughput target: in a run that measured it in
    # full those are judged for it, but the screened "other" has neither, so neither is scored.
    full = score([*screen("eager"), *long_runs("eager"), *screen("slow", p95_ms=60.0),
                  *long_runs("slow", ips=5.0, rss=2000.0), *screen("other")], ScoringConfig())
    screened = score([*screen("eager"), *long_runs("eager"), *screen("slow", p95_ms=60.0), *screen("other")],
                     ScoringConfig())
    assert full.score_basis == SCREEN == screened.score_basis
    assert scores(full)["slow"] == scores(screened)["slow"] < 100  # its p95 misses: that counts
    slow = next(v for v in full.variants if v.variant == "slow")
    assert slow.criterion("peak_rss_mb").passed is False and slow.criterion("throughput_ips").passed is False
    # Measured and judged, not scored: every score reads the same three criteria.
    assert scores(full)["eager"] == scores(full)["other"] == 100.0


def test_every_variant_measured_alike_scores_on_every_criterion_and_names_no_basis():
    verdict = score([*screen("eager"), *long_runs("eager"), *screen("big"), *long_runs("big", rss=2000.0)],
                    ScoringConfig())
    assert verdict.score_basis == ()
    assert scores(verdict)["big"] < 100 == scores(verdict)["eager"]  # the memory miss weighs in
    assert view.score_basis_line(verdict) is None
    assert not any(line.startswith("scores rest on") for line in summary_lines(verdict, None))


def test_a_hard_gate_outside_the_basis_still_decides_readiness():
    config = ScoringConfig(hard_gates=(*ScoringConfig().hard_gates, "peak_rss_mb"))
    verdict = score([*screen("eager"), *long_runs("eager", rss=2000.0), *screen("other")], config)
    assert "peak_rss_mb" not in verdict.score_basis
    eager = next(v for v in verdict.variants if v.variant == "eager")
    assert eager.score == 100.0 and not eager.ready
    assert any(r.startswith("peak_rss_mb 2000") for r in eager.reasons)


def test_a_variant_whose_measurement_failed_does_not_narrow_the_basis():
    measured = {"eager": {"latency_p95_ms": 1, "peak_rss_mb": 1}, "broken": {"latency_p95_ms": 1},
                "fine": {"latency_p95_ms": 1, "peak_rss_mb": 1}}
    assert score_basis(measured, {"broken": ["memory worker was killed by SIGKILL"]}, ScoringConfig()) == ()
    assert score_basis(measured, {}, ScoringConfig()) == ("latency_p95_ms",)
    assert score_basis({}, {}, ScoringConfig()) == ()


def test_the_basis_is_written_read_and_shown_where_it_narrows_the_scores():
    verdict = score([*screen("eager"), *long_runs("eager"), *screen("other")], ScoringConfig())
    assert load(Verdict, dump(verdict)) == verdict
    assert dump(verdict)["score_basis"] == list(SCREEN)
    assert "score_basis" not in dump(score([*screen("eager")], ScoringConfig()))  # as records were before
    line = view.score_basis_line(verdict)
    assert line == ("scores rest on what every variant got in this run: p95 b1 ms/img, Pearson, fidelity loss; "
                    "img/s, peak RSS MiB measured for some variants only: judged, not scored")
    assert line in summary_lines(verdict, None)
    record = RunRecord.of(make_record([*screen("eager"), *long_runs("eager"), *screen("other")]))
    record = RunRecord.of({**dump(record), "verdict": dump(verdict)})
    assert "Scores rest on what every variant got in this run" in render_markdown(record)


@pytest.mark.parametrize("weights_off", [("peak_rss_mb", "throughput_ips")])
def test_a_criterion_that_weighs_nothing_is_not_in_the_basis_nor_narrows_it(weights_off):
    base = ScoringConfig()
    config = ScoringConfig(weights={**base.weights, **{w: 0.0 for w in weights_off}})
    verdict = score([*screen("eager"), *long_runs("eager"), *screen("other")], config)
    assert verdict.score_basis == ()  # what is measured for some only weighs nothing anyway
