"""Comparison statistics and verdicts, on synthetic samples (no timing, no pytest run)."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qpbench.compare.runs import compare_runs, regression_gate
from qpbench.compare.differences import fingerprint_differences
from qpbench.compare.speed import process_statistic, run_statistics
from qpbench.compare.judge import judge_relative
from qpbench.compare.thresholds import Thresholds, make_thresholds
from qpbench.stats import bootstrap_median_ratio, over_runs
from qpbench.compare.comparison import IMPROVED, NOT_COMPARABLE, REGRESSED, UNCHANGED
from qpbench.errors import ConfigError
from qpbench.record import RunRecord
from qpbench.results import AccuracyResult, FidelityResult, LatencyResult, MemoryResult, PairedResult
from tests.records import make_record

FP = {"cpu": {"brand": "Test CPU", "arch": "x86_64", "isa": {"avx2": True, "avx512f": False}}, "cores_logical": 2,
      "cpu_affinity": [0, 1], "memory_total_mb": 4096, "python": "3.12.0", "platform": "Linux", "torch": "2.14.1",
      "build": "CPU-only build", "num_threads": 2, "thread_env": {"OMP_NUM_THREADS": None}, "runtimes": {}}


def noisy(rng: np.random.Generator, center: float, n: int = 60, spread: float = 0.05) -> list[float]:
    """Latency-like samples: lognormal noise around ``center`` with a few slow outliers."""
    x = center * np.exp(rng.normal(0, spread, n))
    x[rng.integers(0, n, 3)] *= 1.5
    return x.tolist()


def run_record(rng: np.random.Generator, slow: float = 1.0, fp: dict | None = None, pearson: float = 0.95,
               ref_ms: float = 2.0) -> RunRecord:
    """A run with eager and 'fast' (half eager's time), latency samples, A/B pairs, memory and accuracy."""
    ref = noisy(rng, ref_ms * 1e-3)
    fast = noisy(rng, ref_ms * 0.5e-3 * slow)
    drift = np.exp(rng.normal(0, 0.05, 60))  # machine drift that hits both sides of a pair alike
    pairs_v = (np.asarray(noisy(rng, ref_ms * 0.5e-3 * slow, spread=0.02)) * drift).tolist()
    pairs_r = (np.asarray(noisy(rng, ref_ms * 1e-3, spread=0.02)) * drift).tolist()
    return make_record([
        LatencyResult("eager", 1, tuple(ref)),
        LatencyResult("fast", 1, tuple(fast)),
        PairedResult("fast", "eager", 1, tuple(pairs_v), tuple(pairs_r)),
        MemoryResult("fast", baseline_rss_mb=300.0, peak_rss_mb=700.0, batch_size=1, iterations=10, torch_build="cpu"),
        AccuracyResult("fast", 800, pearson, pearson, 0.05, 0.07, 0.7, 0.9),
        FidelityResult("fast", "eager", 800, 0.0, 0.0, 1.0, 0.001),
    ], copy.deepcopy(fp or FP), eval_set={"source": "heldout", "n_samples": 800})


def verdicts(comparison) -> dict[tuple[str, str], str]:
    return {(c.variant, c.metric): c.verdict for c in comparison.changes}


def test_bootstrap_interval_covers_the_true_ratio_and_is_deterministic():
    rng = np.random.default_rng(1)
    a, b = noisy(rng, 1.0, 200), noisy(rng, 1.2, 200)
    change, low, high = bootstrap_median_ratio(a, b)
    assert low < change < high
    assert low < 0.2 < high
    assert bootstrap_median_ratio(a, b) == (change, low, high)


def test_bootstrap_rejects_bad_samples():
    with pytest.raises(ValueError, match="at least two"):
        bootstrap_median_ratio([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="> 0"):
        bootstrap_median_ratio([1.0, 0.0], [1.0, 2.0])


@settings(max_examples=40, deadline=None)
@given(st.floats(0.001, 0.5), st.floats(0.0, 0.5))
def test_judge_relative_needs_significance_and_the_minimum_effect(change, threshold):
    width = 0.01
    verdict, _ = judge_relative(change, change - width, change + width, threshold)
    assert verdict == (REGRESSED if change - width > threshold else UNCHANGED)
    # An interval that reaches below the threshold is never a regression, however large the estimate.
    assert judge_relative(change, threshold - 0.001, change + 1, threshold)[0] == UNCHANGED
    # Lower is better: a negative change is an improvement.
    assert judge_relative(-change, -change - width, -change + width, threshold)[0] == (
        IMPROVED if change - width > threshold else UNCHANGED)
    # Higher is better (e.g. throughput): the same change, mirrored.
    assert judge_relative(-change, -change - width, -change + width, threshold, higher_is_worse=False)[0] == (
        REGRESSED if change - width > threshold else UNCHANGED)
    # A single value: the threshold alone.
    assert judge_relative(change, None, None, threshold)[0] == (REGRESSED if change > threshold else UNCHANGED)


def test_a_planted_20_percent_slowdown_is_flagged_on_ratio_and_latency():
    rng = np.random.default_rng(2)
    base, cur = run_record(rng), run_record(rng, slow=1.2)
    comparison = compare_runs(base, cur)
    v = verdicts(comparison)
    assert v[("fast", "speed_ratio_b1")] == REGRESSED
    assert v[("fast", "latency_b1_p10_ms")] == REGRESSED
    assert v[("eager", "latency_b1_p10_ms")] == UNCHANGED
    failed, lines = regression_gate(comparison)  # by default absolute latency is reported, not gated
    assert failed and lines[0].startswith("FAIL qpbench regression gate: 1 significant")
    assert any("fast speed_ratio_b1" in line for line in lines)
    assert any(line.startswith("  - not gated (latency") for line in lines)
    failed, lines = regression_gate(comparison, ["all"])
    assert failed and lines[0].startswith("FAIL qpbench regression gate: 2 significant")


def test_unchanged_reruns_are_not_flagged():
    false_alarms = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        comparison = compare_runs(run_record(rng), run_record(rng))
        false_alarms += bool(comparison.regressions)
        assert not regression_gate(comparison)[0] or comparison.regressions
    assert false_alarms == 0


def test_machine_drift_between_runs_moves_absolute_times_but_not_the_paired_ratio():
    rng = np.random.default_rng(3)
    base = run_record(rng)
    cur = run_record(rng, ref_ms=2.6)  # the whole machine is 30% slower in this run; the variant is not
    v = verdicts(compare_runs(base, cur))
    assert v[("eager", "latency_b1_p10_ms")] == REGRESSED  # absolute: the machine changed
    assert v[("fast", "speed_ratio_b1")] == UNCHANGED  # the same-run ratio is not fooled


def test_other_thread_settings_compare_ratios_and_accuracy_but_refuse_absolute_figures():
    rng = np.random.default_rng(4)
    other = copy.deepcopy(FP)
    other["num_threads"] = 8
    comparison = compare_runs(run_record(rng), run_record(rng, fp=other))
    assert not comparison.same_machine
    lat = next(c for c in comparison.changes if c.metric == "latency_b1_p10_ms")
    assert lat.verdict == NOT_COMPARABLE and "different machines" in lat.reason and "--qp-compare-any-machine" in lat.reason
    assert next(c for c in comparison.changes if c.metric == "peak_rss_mb").verdict == NOT_COMPARABLE
    assert verdicts(comparison)[("fast", "speed_ratio_b1")] != NOT_COMPARABLE
    assert verdicts(comparison)[("fast", "pearson")] == UNCHANGED
    asked = compare_runs(run_record(rng), run_record(rng, fp=other), any_machine=True)
    assert asked.any_machine and verdicts(asked)[("fast", "latency_b1_p10_ms")] != NOT_COMPARABLE


@pytest.mark.parametrize("change", ["brand", "isa"])
def test_a_baseline_from_another_cpu_is_no_speed_baseline(change):
    """Another CPU model or ISA: ratios and times are not comparable (never gated), even on request;
    accuracy still is, and a planted accuracy drop is still caught."""
    rng = np.random.default_rng(9)
    other = copy.deepcopy(FP)
    if change == "brand":
        other["cpu"]["brand"] = "Other CPU"
    else:
        other["cpu"]["isa"]["avx512f"] = True
    for any_machine in (False, True):
        comparison = compare_runs(run_record(rng), run_record(rng, fp=other, slow=1.5, pearson=0.90),
                                  any_machine=any_machine)
        v = verdicts(comparison)
        for metric in ("speed_ratio_b1", "latency_b1_p10_ms"):
            c = next(c for c in comparison.changes if c.variant == "fast" and c.metric == metric)
            assert c.verdict == NOT_COMPARABLE and c.reason.startswith("another CPU (") and "no baseline" in c.reason
        assert v[("fast", "pearson")] == REGRESSED
        failed, lines = regression_gate(comparison)
        assert failed and all("speed_ratio" not in line and "latency" not in line for line in lines[1:])


def test_fingerprint_differences_are_empty_for_the_same_machine():
    assert fingerprint_differences(FP, copy.deepcopy(FP)) == []
    assert fingerprint_differences(FP, None) == ["a fingerprint is missing"]


def test_accuracy_drop_beyond_threshold_regresses_and_a_small_one_does_not():
    rng = np.random.default_rng(5)
    assert verdicts(compare_runs(run_record(rng), run_record(rng, pearson=0.93)))[("fast", "pearson")] == REGRESSED
    assert verdicts(compare_runs(run_record(rng), run_record(rng, pearson=0.945)))[("fast", "pearson")] == UNCHANGED


def test_accuracy_judged_on_other_samples_is_not_compared_and_the_whole_set_is():
    """Accuracy until decided: a variant judged at the first look in one run and on the whole set
    in the other is not compared (a plain difference of figures on other samples would read as a
    regression); its whole-set figure, recorded last, is the one compared where both have it."""
    rng = np.random.default_rng(5)
    base = run_record(rng)
    screened = AccuracyResult("fast", 200, 0.90, 0.90, 0.05, 0.07, 0.7, 0.9)
    cur = run_record(rng)
    cur = replace(cur, results=tuple(screened if r.kind == "accuracy" else r for r in cur.results))
    c = next(c for c in compare_runs(base, cur).changes if c.metric == "pearson")
    assert c.verdict == NOT_COMPARABLE and c.reason == "judged on 800 vs 200 samples"
    cur = replace(cur, results=cur.results + (AccuracyResult("fast", 800, 0.95, 0.95, 0.05, 0.07, 0.7, 0.9),))
    assert verdicts(compare_runs(base, cur))[("fast", "pearson")] == UNCHANGED


def test_missing_metrics_and_other_workloads_are_not_comparable():
    rng = np.random.default_rng(6)
    base, cur = run_record(rng), run_record(rng)
    cur = replace(cur, results=tuple(r for r in cur.results if r.kind != "paired"))
    c = next(c for c in compare_runs(base, cur).changes if c.metric == "speed_ratio_b1")
    assert c.verdict == NOT_COMPARABLE and c.reason == "not measured in this run"
    cur = run_record(rng)
    cur = replace(cur, workload=replace(cur.workload, name="default"))
    comparison = compare_runs(base, cur)
    assert all(c.verdict == NOT_COMPARABLE for c in comparison.changes)
    failed, lines = regression_gate(comparison)
    assert failed and "nothing could be compared" in lines[0]


def test_thresholds_defaults_overrides_and_bad_values():
    th = make_thresholds({"latency": 0.2}, {"fast": {"speed_ratio": 0.5}, "*": {"pearson": 0.1}})
    assert th.get("latency", "eager") == 0.2
    assert th.get("speed_ratio", "fast") == 0.5 and th.get("speed_ratio", "eager") == 0.10
    assert th.get("pearson", "eager") == 0.1
    with pytest.raises(ConfigError, match="unknown regression threshold 'speed'"):
        make_thresholds({"speed": 0.1})
    with pytest.raises(ConfigError, match=">= 0"):
        Thresholds(per_variant={"fast": {"latency": -1}})


def test_a_per_variant_override_silences_a_planted_slowdown_for_that_variant_only():
    rng = np.random.default_rng(7)
    base, cur = run_record(rng), run_record(rng, slow=1.2)
    loose = make_thresholds({}, {"fast": {"speed_ratio": 0.5, "latency": 0.5}})
    assert not compare_runs(base, cur, loose).regressions


def test_a_latency_with_too_few_samples_is_reported_not_judged():
    rng = np.random.default_rng(8)
    base, cur = run_record(rng), run_record(rng, slow=3.0)
    cur = replace(cur, results=tuple(replace(r, samples_s=r.samples_s[:5]) if r.kind == "latency" else r
                                     for r in cur.results))
    lat = next(c for c in compare_runs(base, cur).changes if c.metric == "latency_b1_p10_ms" and c.variant == "fast")
    assert lat.verdict == NOT_COMPARABLE and lat.reason.startswith("too few samples (60 vs 5; 20 needed")
    assert lat.current is not None  # still reported


def probe_pairs(rng: np.random.Generator, model_slow: float = 1.0, machine_slow: float = 1.0, load=None) -> PairedResult:
    """Eager against the machine-speed probe: the machine's speed hits both sides of every pair."""
    drift = machine_slow * np.exp(rng.normal(0, 0.05, 60))
    model = np.asarray(noisy(rng, 2e-3 * model_slow, spread=0.02)) * drift
    probe = np.asarray(noisy(rng, 3e-3, spread=0.02)) * drift
    return PairedResult("eager", "probe-v1", 1, tuple(model.tolist()), tuple(probe.tolist()), load=load)


def with_probe(record: RunRecord, pairs: PairedResult) -> RunRecord:
    return replace(record, results=(*record.results, pairs))


def test_a_whole_model_slowdown_is_caught_by_the_probe_and_a_slower_machine_is_not():
    rng = np.random.default_rng(11)
    base = with_probe(run_record(rng), probe_pairs(rng))
    # The model 20% slower everywhere: eager and every variant together, so the variant/eager ratio holds.
    slower_model = with_probe(run_record(rng, slow=1.0, ref_ms=2.4), probe_pairs(rng, model_slow=1.2))
    got = verdicts(compare_runs(base, slower_model))
    assert got[("eager", "time_vs_probe_b1")] == REGRESSED and got[("fast", "speed_ratio_b1")] == UNCHANGED
    assert regression_gate(compare_runs(base, slower_model))[0] is True
    # The machine 10% slower: both sides of every probe pair, so nothing regressed.
    slower_machine = with_probe(run_record(rng), probe_pairs(rng, machine_slow=1.1))
    assert verdicts(compare_runs(base, slower_machine))[("eager", "time_vs_probe_b1")] == UNCHANGED
    # 60% slower: a spell in which a small model and the probe do not slow alike; not compared, said why.
    slow_spell = with_probe(run_record(rng), probe_pairs(rng, model_slow=1.3, machine_slow=1.6))
    change = next(c for c in compare_runs(base, slow_spell).changes if c.metric == "time_vs_probe_b1")
    assert change.verdict == NOT_COMPARABLE and change.reason.startswith("the machine ran ")
    assert "% slower than in the baseline (probe p10" in change.reason
    assert regression_gate(compare_runs(base, slow_spell))[0] is False


def test_a_timing_taken_under_load_is_reported_not_judged():
    rng = np.random.default_rng(12)
    base = with_probe(run_record(rng), probe_pairs(rng))
    hog = {"others_cpu": 0.98, "steal_pct": 0.0}
    loaded = with_probe(run_record(rng), probe_pairs(rng, model_slow=3.0, load=hog))  # a hog distorts it
    change = next(c for c in compare_runs(base, loaded).changes if c.metric == "time_vs_probe_b1")
    assert change.verdict == NOT_COMPARABLE
    assert change.reason.startswith("taken under load in this run (others 0.98 CPU, steal 0%)")
    failed, lines = regression_gate(compare_runs(base, loaded))
    assert failed is False and "1 gated metric(s) taken under load, not judged" in lines[0]
    # The same slowdown on a quiet machine is judged, and fails the gate.
    quiet = with_probe(run_record(rng), probe_pairs(rng, model_slow=3.0, load={"others_cpu": 0.02, "steal_pct": 0.0}))
    assert regression_gate(compare_runs(base, quiet))[0] is True


def test_a_baseline_of_several_runs_puts_the_rerun_to_rerun_spread_in_the_interval():
    """One run's pairs give a tight interval that a rerun in another process falls outside of
    (+16% with an interval of [+14%, +18%] was seen); runs added to the baseline widen it to the
    spread between runs, while a slowdown beyond that spread still fails."""
    rng = np.random.default_rng(21)
    base = run_record(rng)
    shifted = run_record(rng, slow=1.16)  # an unchanged rerun that landed 16% apart
    assert verdicts(compare_runs(base, shifted))[("fast", "speed_ratio_b1")] == REGRESSED  # one run: a false alarm
    own = float(np.median(next(r for r in base.results if isinstance(r, PairedResult)).ratios))
    spread = [own * f for f in (0.92, 1.10, 1.04, 0.95)]  # the baseline's other runs, as reruns moved them
    several = replace(base, baseline={"name": "b", "saved": "", "git": None, "pytest_benchmark": None,
                                      "runs": [{"saved": "", "git": None, "statistics": {"fast speed_ratio_b1": v}}
                                               for v in spread]})
    change = next(c for c in compare_runs(several, shifted).changes if c.metric == "speed_ratio_b1")
    assert change.verdict == UNCHANGED and "over 5 baseline runs" in change.reason
    slower = run_record(rng, slow=1.6)
    assert verdicts(compare_runs(several, slower))[("fast", "speed_ratio_b1")] == REGRESSED


def test_over_runs_is_a_prediction_interval_on_the_logs():
    change, low, high = over_runs([1.0, 1.1, 0.9, 1.0], 1.0)
    assert low < change < high and low < 0 < high
    assert over_runs([1.0, 1.0001, 0.9999], 2.0)[1] > 0.9  # tight runs, a doubled figure: clearly beyond
    with pytest.raises(ValueError, match="at least two"):
        over_runs([1.0], 1.0)


def test_baseline_runs_taken_in_a_slow_spell_are_left_out_of_the_spread():
    rng = np.random.default_rng(22)
    base = with_probe(run_record(rng), probe_pairs(rng))
    own = run_statistics(base)
    usual, slow = own["eager time_vs_probe_b1"], own["probe-v1 p10_s"]
    runs = [{"eager time_vs_probe_b1": usual * f, "probe-v1 p10_s": slow * g}
            for f, g in ((1.01, 1.0), (0.99, 1.02), (1.0, 0.99), (1.45, 1.4))]  # the last: a slow spell
    several = replace(base, baseline={"name": "b", "saved": "", "git": None, "pytest_benchmark": None,
                                      "runs": [{"saved": "", "git": None, "statistics": r} for r in runs]})
    slower_model = with_probe(run_record(rng), probe_pairs(rng, model_slow=1.25))
    change = next(c for c in compare_runs(several, slower_model).changes if c.metric == "time_vs_probe_b1")
    assert change.verdict == REGRESSED and "over 4 baseline runs" in change.reason  # 5 runs, the slow one left out


def memory(variant, peak, file_mb):
    return MemoryResult(variant, 300.0, peak, 1, 10, "2.14.1+cu130 (CUDA build)", rss_anon_mb=peak - file_mb,
                        rss_file_mb=file_mb)


def test_file_backed_pages_the_page_cache_left_resident_are_not_a_memory_regression():
    """Measured: a fresh clone's venv held 222 MB more of torch's libraries resident than an older
    venv of the same packages, and anonymous memory was the same. The gate compares the peak less
    the file-backed pages; a model that keeps 30% more of its own memory still fails it."""
    base = make_record([memory("eager", 582.5, 261.1)])
    fresh_venv = make_record([memory("eager", 804.9, 483.5)])
    c = next(c for c in compare_runs(base, fresh_venv).changes if c.variant == "eager" and c.family == "peak_rss")
    assert (c.metric, c.verdict, round(c.baseline, 1), round(c.current, 1)) == ("peak_rss_anon_mb", UNCHANGED, 321.4, 321.4)
    fatter = make_record([memory("eager", 582.5 + 100, 261.1)])
    assert verdicts(compare_runs(base, fatter))[("eager", "peak_rss_anon_mb")] == REGRESSED
    # Records without the split (older ones) compare the peak as before.
    plain = make_record([replace(memory("eager", 804.9, 483.5), rss_anon_mb=None, rss_file_mb=None)])
    assert verdicts(compare_runs(base, plain))[("eager", "peak_rss_mb")] == REGRESSED


def test_an_evaluation_set_read_from_another_clone_is_the_same_set():
    acc = [AccuracyResult("eager", 100, 0.96, 0.95, 0.04, 0.05, 0.7, 0.9)]
    here = make_record(acc, eval_set={"source": "/work/main/qpbench/data/eval/h.npz (first 25 images)", "n_samples": 100})
    ci = make_record(acc, eval_set={"source": "/tmp/ci/qpbench/data/eval/h.npz (first 25 images)", "n_samples": 100})
    assert verdicts(compare_runs(here, ci))[("eager", "pearson")] == UNCHANGED
    other = make_record(acc, eval_set={"source": "/tmp/ci/qpbench/data/eval/h.npz (first 50 images)", "n_samples": 200})
    c = next(c for c in compare_runs(here, other).changes if c.metric == "pearson")
    assert c.verdict == NOT_COMPARABLE and "first 50 images" in c.reason and "n_samples" in c.reason


def paired_of(record: RunRecord) -> PairedResult:
    return next(r for r in record.results if isinstance(r, PairedResult))


def with_paired(record: RunRecord, paired: PairedResult) -> RunRecord:
    return replace(record, results=tuple(paired if isinstance(r, PairedResult) else r for r in record.results))


def test_a_figure_measured_again_in_fresh_processes_is_judged_on_the_median_process():
    """One process 35% out (what CI's first self-gate saw of openvino-fp32 on an unchanged model)
    fails on its own; with two fresh processes back in line, the run's figure is their median and
    passes; a slowdown every process shows still fails."""
    rng = np.random.default_rng(31)
    base = run_record(rng)
    own = process_statistic(paired_of(base))
    runs = [own * f for f in (0.97, 1.03)]
    base = replace(base, baseline={"name": "b", "saved": "", "git": None, "pytest_benchmark": None,
                                   "runs": [{"saved": "", "git": None, "statistics": {"fast speed_ratio_b1": v}}
                                            for v in runs]})
    out = run_record(rng, slow=1.35)
    assert verdicts(compare_runs(base, out))[("fast", "speed_ratio_b1")] == REGRESSED
    back = with_paired(out, replace(paired_of(out), reruns=(own * 1.01, own * 0.99)))
    change = next(c for c in compare_runs(base, back).changes if c.metric == "speed_ratio_b1")
    assert change.verdict == UNCHANGED and "median of 3 processes" in change.reason
    assert change.current == pytest.approx(own * 1.01) and run_statistics(back)["fast speed_ratio_b1"] == change.current
    slow_everywhere = with_paired(out, replace(paired_of(out), reruns=(own * 1.33, own * 1.37)))
    assert verdicts(compare_runs(base, slow_everywhere))[("fast", "speed_ratio_b1")] == REGRESSED
    # Processes that disagree (slow, in line, slow) are no settled regression: their spread widens the interval.
    split = with_paired(out, replace(paired_of(out), reruns=(own * 1.0, own * 1.3)))
    change = next(c for c in compare_runs(base, split).changes if c.metric == "speed_ratio_b1")
    assert change.verdict == UNCHANGED and change.ci_low < 0.10 < change.current / change.baseline - 1


def test_only_a_figure_the_baseline_would_call_a_regression_is_measured_again(tmp_path):
    """The step that decides a rerun (suite/speed.py): out of line on this CPU, yes; in line,
    improved, taken under load, on another CPU or without a baseline, no."""
    from qpbench.compare.baseline import save_baseline
    from qpbench.compare.regression import RegressionSettings, RegressionStep

    rng = np.random.default_rng(32)
    save_baseline(run_record(rng), tmp_path, "main", tmp_path)
    step = RegressionStep.open(RegressionSettings(compare_with="main"), str(tmp_path), str(tmp_path), False,
                          cpu=lambda: FP["cpu"])
    assert step.out_of_line(paired_of(run_record(rng, slow=1.5)))
    assert not step.out_of_line(paired_of(run_record(rng)))
    assert not step.out_of_line(paired_of(run_record(rng, slow=0.6)))
    loaded = replace(paired_of(run_record(rng, slow=1.5)), load={"others_cpu": 1.5, "steal_pct": 0.0})
    assert not step.out_of_line(loaded)
    elsewhere = RegressionStep.open(RegressionSettings(compare_with="main"), str(tmp_path), str(tmp_path), False,
                               cpu=lambda: {**FP["cpu"], "brand": "Other CPU"})
    assert not elsewhere.out_of_line(paired_of(run_record(rng, slow=1.5)))
    none = RegressionStep.open(RegressionSettings(), str(tmp_path), str(tmp_path), False)
    assert not none.out_of_line(paired_of(run_record(rng, slow=1.5)))
    # An xdist worker reads the baseline when first asked; one with none for its CPU checks nothing.
    worker = RegressionStep.open(RegressionSettings(compare_with="main"), str(tmp_path), str(tmp_path), True,
                            cpu=lambda: FP["cpu"])
    assert worker.baseline is None and worker.out_of_line(paired_of(run_record(rng, slow=1.5)))
    other = RegressionStep.open(RegressionSettings(compare_with="gone"), str(tmp_path), str(tmp_path), True,
                           cpu=lambda: FP["cpu"])
    assert not other.out_of_line(paired_of(run_record(rng, slow=1.5)))
