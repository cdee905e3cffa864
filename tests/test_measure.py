"""Measurement code with injected fake clocks: deterministic, no absolute times."""

import numpy as np
import pytest
import torch

from qpbench.data.dataset import LabelledSet
from qpbench.measure.accuracy import accuracy, fidelity
from qpbench.measure.predictions import predict
from qpbench.timing import time_calls
from qpbench.measure.stopping import StopRule
from qpbench.measure.throughput import throughput_until
from qpbench.results import LatencyResult, Result
from qpbench.schema.codec import dump, load
from qpbench import stats


class FakeClock:
    """Advances by ``step`` seconds every time the measured function runs."""

    def __init__(self, step=0.01):
        self.now = 0.0
        self.step = step

    def __call__(self):
        return self.now

    def work(self):
        self.now += self.step


def test_time_calls_uses_the_injected_timer():
    clock = FakeClock(0.02)
    assert time_calls(clock.work, 4, timer=clock) == pytest.approx([0.02] * 4)


def test_throughput_counts_completed_batches_over_at_least_the_floor():
    clock = FakeClock(0.25)
    rule = StopRule("mean", 0.05, 2, 10**6, 2.0, 10.0)  # precise at once, but not before 2 s
    result = throughput_until(clock.work, "v", batch_size=8, rule=rule, call_s=0.25, clock=clock)
    assert result.images == 8 * 8 and result.duration_s == pytest.approx(2.0)
    assert result.images_per_s == pytest.approx(32.0) and result.precision["stopped"] == "precise"


def test_throughput_stops_early_once_the_mean_batch_time_is_precise():
    clock = FakeClock(0.25)  # every batch takes the same time: precise at once
    rule = StopRule("mean", 0.05, 2, 10**6, 0.5, 60.0)
    result = throughput_until(clock.work, "v", batch_size=4, rule=rule, call_s=0.25, clock=clock)
    assert result.duration_s < 60.0 and result.precision["stopped"] == "precise"
    assert result.images_per_s == pytest.approx(16.0)


def test_latency_percentiles_per_image_and_per_batch():
    samples = tuple(np.linspace(0.010, 0.109, 100))  # 10..109 ms per batch of 4
    r = LatencyResult("v", 4, samples)
    assert r.per_batch_ms["p50"] == pytest.approx(59.5)
    assert r.per_batch_ms["p95"] == pytest.approx(np.percentile(samples, 95) * 1e3)
    assert r.per_image_ms["p99"] == pytest.approx(r.per_batch_ms["p99"] / 4)
    back = load(Result, dump(r))
    assert back == r and dump(r)["summary"]["per_image_ms"]["p50"] == pytest.approx(59.5 / 4)


def test_latency_result_rejects_empty_samples():
    with pytest.raises(ValueError, match="at least one sample"):
        LatencyResult("v", 1, ())


def test_replay_hands_pytest_benchmark_exactly_the_worker_samples(pytester, monkeypatch):
    """pytest-benchmark's statistics are of the samples timed in the worker, round for round."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # the inner run is no xdist worker (make test-fast runs -n 2)
    pytester.makepyfile("""
        from qpbench.measure.latency import replay

        def test_replayed(benchmark):
            replay(benchmark, (0.003, 0.001, 0.002, 0.010))
            data = benchmark.stats.stats.data
            assert data == [0.003, 0.001, 0.002, 0.010]
            assert benchmark.stats.stats.median == 0.0025
    """)
    pytester.runpytest().assert_outcomes(passed=1)


def test_spearman_handles_ties_like_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    a = np.array([1, 2, 2, 3, 5, 5, 5, 0.5])
    b = np.array([2, 1, 4, 3, 9, 7, 7, 0])
    assert stats.spearman(a, b) == pytest.approx(scipy_stats.spearmanr(a, b).statistic)


def labelled(n=40, groups=True):
    rng = np.random.default_rng(1)
    return LabelledSet(
        images=np.zeros((n, 4, 4, 3), np.uint8), img_idx=np.arange(n), params=rng.random((n, 13), dtype=np.float32),
        ssim=rng.random(n).astype(np.float32), source="test",
        groups=np.array(["color", "binary"] * (n // 2)) if groups else None,
    )


def test_accuracy_metrics_on_known_errors():
    data = labelled()
    pred = data.ssim.astype(np.float64) + np.where(np.arange(40) % 2, 0.04, -0.08)
    r = accuracy("v", pred, data)
    assert r.mae == pytest.approx(0.06) and r.rmse == pytest.approx(np.sqrt((0.04**2 + 0.08**2) / 2))
    assert r.within_005 == pytest.approx(0.5) and r.within_010 == 1.0
    assert set(r.pearson_by_group) == {"color", "binary"} and r.pearson > 0.9


def test_fidelity_detects_a_planted_accuracy_loss_and_passes_a_clean_copy():
    data = labelled(400, groups=False)
    labels = data.ssim.astype(np.float64)
    ref = labels + np.random.default_rng(2).normal(0, 0.02, 400)
    clean = fidelity("copy", ref.copy(), "eager", ref, labels)
    assert clean.max_abs_diff == 0 and clean.pearson_loss_rel == pytest.approx(0.0)
    noisy = ref + np.random.default_rng(3).normal(0, 0.3, 400)  # a broken quantization
    lossy = fidelity("bad", noisy, "eager", ref, labels)
    assert lossy.pearson_loss_rel > 0.05 and lossy.correlation < 0.9


def test_predict_batches_and_rejects_nan_and_wrong_counts():
    data = labelled(10, groups=False)

    def inputs(ids):
        return torch.zeros(len(ids), 3, 4, 4), torch.from_numpy(data.params[ids])

    out = predict(lambda img, p: p[:, 0], inputs, np.arange(10), batch_size=3)
    assert np.allclose(out, data.params[:, 0])
    order = np.array([7, 2, 9, 0])  # the samples asked for, in the order asked
    assert np.allclose(predict(lambda img, p: p[:, 0], inputs, order, batch_size=3), data.params[order, 0])
    with pytest.raises(ValueError, match="NaN or inf"):
        predict(lambda img, p: p[:, 0] * float("nan"), inputs, np.arange(10), batch_size=4)
    with pytest.raises(ValueError, match="returned 1 predictions for a batch of 4"):
        predict(lambda img, p: p[:1, 0], inputs, np.arange(10), batch_size=4)


def mem(variant, batch, peak, baseline=600.0):
    from qpbench.results import MemoryResult

    return MemoryResult(variant, baseline, peak, batch, 3, "test")


def test_batch_size_suggestion_from_measured_per_sample_memory():
    from qpbench.measure.batching import suggest_batch_size

    r = suggest_batch_size(mem("v", 1, 1000.0), mem("v", 8, 1070.0), available_mb=4000.0, headroom=0.5)
    assert r.per_sample_mb == pytest.approx(10.0) and r.fixed_mb == pytest.approx(990.0)
    assert r.suggested_batch_size == 101  # (4000 * 0.5 - 990) / 10
    assert suggest_batch_size(mem("v", 1, 1000.0), mem("v", 8, 1070.0), available_mb=1500.0).suggested_batch_size == 0
    with pytest.raises(ValueError, match="batch 1 and at a larger batch"):
        suggest_batch_size(mem("v", 4, 1000.0), mem("v", 8, 1070.0), 4000.0)
