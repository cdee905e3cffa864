"""The readiness verdict, as a pure function: no pytest plugin involved."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qpbench.config import ConfigError, ScoringConfig, Targets, make_scoring
from qpbench.criteria import CRITERIA
from qpbench.results import AccuracyResult, FidelityResult, LatencyResult, MemoryResult, ThroughputResult, VariantInfo
from qpbench.verdict.scoring import criterion_score, score
from qpbench.schema.codec import dump


def results_for(name, *, p95_ms=10.0, ips=100.0, rss=300.0, pearson=0.95, loss=0.0, with_fidelity=True):
    out = [
        # Constant samples: p50 == p95 == the value, so the test controls the metric exactly; 100 of
        # them, so the p95's interval is closed (five would leave its upper end open: inconclusive).
        LatencyResult(name, 1, tuple([p95_ms / 1e3] * 100)),
        ThroughputResult(name, 8, images=int(ips * 10), duration_s=10.0),
        MemoryResult(name, baseline_rss_mb=rss / 2, peak_rss_mb=rss, batch_size=1, iterations=3, torch_build="x"),
        AccuracyResult(name, 100, pearson, pearson, 0.05, 0.07, 0.7, 0.9),
    ]
    if with_fidelity:
        out.append(FidelityResult(name, "eager", 100, 0.01, 0.001, 0.999, loss))
    return out


def test_all_targets_met_gives_100_and_a_recommendation():
    verdict = score(results_for("eager") + results_for("fast", p95_ms=5.0), ScoringConfig())
    assert {v.variant: v.score for v in verdict.variants} == {"eager": 100.0, "fast": 100.0}
    assert verdict.recommended == "fast"  # the fastest ready variant
    assert verdict.critical_issues == ()


def test_slow_model_is_not_ready_and_verdict_says_why():
    verdict = score(results_for("eager", p95_ms=200.0), ScoringConfig())
    assert verdict.recommended is None
    assert verdict.critical_issues[0].startswith("no variant is ready")
    assert any("p95 latency" in msg and "eager 200" in msg for msg in verdict.critical_issues)
    v = verdict.variants[0]
    assert not v.ready and any("latency_p95_ms 200" in r for r in v.reasons)
    assert v.criterion("latency_p95_ms").score == pytest.approx(50 / 200)
    assert any("4.0x the 50 ms target" in r for r in verdict.recommendations)


def test_failed_hard_gate_excludes_even_the_fastest_variant():
    verdict = score(results_for("eager", p95_ms=20.0) + results_for("int8", p95_ms=5.0, pearson=0.5, loss=0.47), ScoringConfig())
    assert verdict.recommended == "eager"
    int8 = next(v for v in verdict.variants if v.variant == "int8")
    assert not int8.ready and int8.speedup_vs_reference == pytest.approx(4.0)


def test_soft_criteria_lower_the_score_but_not_readiness():
    verdict = score(results_for("eager", rss=1024.0), ScoringConfig())
    v = verdict.variants[0]
    assert v.ready and v.score < 100
    assert v.criterion("peak_rss_mb").passed is False
    assert any("Peak RSS 1024 MB" in r for r in verdict.recommendations)


def test_unmeasured_hard_gate_blocks_readiness():
    res = [r for r in results_for("eager") if not isinstance(r, AccuracyResult)]
    verdict = score(res, ScoringConfig())
    assert verdict.recommended is None
    assert "pearson not measured" in verdict.variants[0].reasons


def test_reference_gets_zero_fidelity_loss_from_its_own_accuracy():
    verdict = score(results_for("eager", with_fidelity=False), ScoringConfig())
    assert verdict.variants[0].criterion("fidelity_loss").value == 0.0


def test_measurement_errors_and_build_failures_are_critical():
    res = results_for("eager") + [VariantInfo("broken", "d", 0.0, None, error="boom")]
    verdict = score(res, ScoringConfig(), errors={"eager": ["test_memory: worker crashed"]})
    assert verdict.recommended is None
    assert "eager: test_memory: worker crashed" in verdict.critical_issues
    assert "broken: build failed: boom" in verdict.critical_issues


def test_nan_metric_fails_its_gate():
    verdict = score(results_for("eager", pearson=float("nan")), ScoringConfig())
    assert verdict.variants[0].criterion("pearson").passed is False
    assert dump(verdict)["variants"][0]["criteria"][3]["value"] is None  # JSON-safe


def test_overrides_change_targets_weights_and_gates():
    cfg = make_scoring(["latency_p95_ms=300"], ["peak_rss_mb=0"], ["pearson"])
    verdict = score(results_for("eager", p95_ms=200.0, rss=4096.0), cfg)
    assert verdict.recommended == "eager" and verdict.variants[0].score == 100.0


@pytest.mark.parametrize(
    "targets, weights, gates, message",
    [
        (["pearson=1.5"], [], None, "target pearson must be in (0, 1]"),
        (["latency_p95_ms=-1"], [], None, "target latency_p95_ms must be > 0"),
        (["speed=3"], [], None, "unknown targets ['speed']"),
        (["latency_p95_ms=fast"], [], None, "'fast' is not a number"),
        ([], ["pearson=-1"], None, "weights must be >= 0"),
        ([], [], ["lateny"], "unknown criteria ['lateny']"),
    ],
)
def test_nonsensical_settings_are_rejected(targets, weights, gates, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        make_scoring(targets, weights, gates)


# Properties ----------------------------------------------------------------

metric = st.floats(min_value=0.0, max_value=1e4, allow_nan=False)


@given(value=metric, target=st.floats(min_value=1e-3, max_value=1e3), hib=st.booleans())
def test_criterion_score_is_bounded(value, target, hib):
    assert 0.0 <= criterion_score(value, target, hib) <= 1.0


@settings(max_examples=60, deadline=None)
@given(p95=st.floats(1.0, 500.0), ips=st.floats(0.1, 500.0), rss=st.floats(50.0, 4000.0),
       r=st.floats(-1.0, 1.0), loss=st.floats(-0.5, 1.0))
def test_variant_score_is_bounded(p95, ips, rss, r, loss):
    s = score(results_for("v", p95_ms=p95, ips=ips, rss=rss, pearson=r, loss=loss), ScoringConfig()).variants[0].score
    assert 0.0 <= s <= 100.0


@settings(max_examples=60, deadline=None)
@given(base=st.floats(1.0, 500.0), better=st.floats(0.0, 1.0), which=st.sampled_from(list(CRITERIA)))
def test_score_is_monotone_in_each_metric(base, better, which):
    """Improving one metric (others fixed) never lowers the score."""
    def make(**kw):
        return score(results_for("v", **kw), ScoringConfig()).variants[0].score

    if which == "latency_p95_ms":
        worse_s, better_s = make(p95_ms=base), make(p95_ms=base * (1 - 0.99 * better))
    elif which == "throughput_ips":
        worse_s, better_s = make(ips=base / 10), make(ips=base / 10 * (1 + better))
    elif which == "peak_rss_mb":
        worse_s, better_s = make(rss=base * 10), make(rss=base * 10 * (1 - 0.99 * better))
    elif which == "pearson":
        r = base / 500
        worse_s, better_s = make(pearson=r), make(pearson=min(1.0, r + better))
    else:
        loss = base / 500
        worse_s, better_s = make(loss=loss), make(loss=loss * (1 - better))
    assert better_s >= worse_s - 1e-9


@settings(max_examples=40, deadline=None)
@given(p95s=st.lists(st.floats(1.0, 200.0), min_size=1, max_size=4), bad=st.integers(0, 3))
def test_recommended_always_passes_every_hard_gate(p95s, bad):
    res = []
    for i, p in enumerate(p95s):
        res += results_for(f"v{i}", p95_ms=p, pearson=0.5 if i == bad else 0.95)
    verdict = score(res, ScoringConfig())
    if verdict.recommended is not None:
        rec = next(v for v in verdict.variants if v.variant == verdict.recommended)
        assert all(c.passed for c in rec.criteria if c.hard_gate)
        assert rec.batch1_p50_ms == min(v.batch1_p50_ms for v in verdict.variants if v.ready)
    else:
        assert not any(v.ready for v in verdict.variants)


def test_targets_reject_nan():
    with pytest.raises(ConfigError):
        Targets(pearson=math.nan)


def quant_info(name, size, quantized=True):
    return VariantInfo(name, "d", 1.0, size, meta={"quantized": quantized})


def test_quantization_rule_accepts_the_fastest_method_within_bounds():
    res = (results_for("eager", p95_ms=100.0) + [quant_info("eager", 100_000_000, False)]
           + results_for("int8-good", p95_ms=40.0, pearson=0.94) + [quant_info("int8-good", 26_000_000)]
           + results_for("int8-fast-bad", p95_ms=30.0, pearson=0.80) + [quant_info("int8-fast-bad", 26_000_000)]
           + results_for("dyn-int8", p95_ms=98.0) + [quant_info("dyn-int8", 96_000_000)])
    verdict = score(res, ScoringConfig())
    by = {q.variant: q for q in verdict.quantization}
    assert set(by) == {"int8-good", "int8-fast-bad", "dyn-int8"}
    assert by["int8-good"].accepted and by["int8-good"].speedup == pytest.approx(2.5)
    assert by["int8-good"].size_reduction == pytest.approx(100 / 26)
    assert not by["int8-fast-bad"].accepted and "Pearson loss" in by["int8-fast-bad"].reasons[0]
    assert not by["dyn-int8"].accepted and "speed-up 1.02x < 1.10x" in by["dyn-int8"].reasons
    assert verdict.best_quantization == "int8-good"
    sizes = {v.variant: v.size_reduction for v in verdict.variants}
    assert sizes["eager"] == pytest.approx(1.0) and sizes["int8-good"] == pytest.approx(100 / 26)


def test_quantization_thresholds_are_configurable():
    res = (results_for("eager", p95_ms=100.0) + [quant_info("eager", 100, False)]
           + results_for("dyn-int8", p95_ms=98.0) + [quant_info("dyn-int8", 96)])
    cfg = make_scoring([], [], None, ["min_speedup=1.0"])
    assert score(res, cfg).best_quantization == "dyn-int8"
    with pytest.raises(ConfigError, match="unknown quantization thresholds"):
        make_scoring([], [], None, ["speed=1"])


def test_a_quantization_the_rule_rejects_is_not_recommended_even_if_fastest():
    res = (results_for("eager", p95_ms=40.0) + [quant_info("eager", 100, False)]
           + results_for("int8-lossy", p95_ms=10.0, pearson=0.90) + [quant_info("int8-lossy", 26)])
    # The lossy one passes the readiness gates (Pearson >= 0.90, fidelity loss given as 0) ...
    verdict = score(res, ScoringConfig())
    lossy = next(v for v in verdict.variants if v.variant == "int8-lossy")
    # ... but loses more than 5% of the reference's Pearson, so the rule rejects it.
    assert not lossy.ready and any(r.startswith("quantization rule: Pearson loss") for r in lossy.reasons)
    assert verdict.recommended == "eager"
