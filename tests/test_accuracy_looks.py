"""Accuracy until decided (measure/accuracy.py, run/predictions.py): planned looks in a seeded
order, intervals at a split error rate, the whole set as the ceiling, and the faults they catch."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from qpbench.config import ScoringConfig
from qpbench.data.dataset import LabelledSet
from qpbench.measure import accuracy
from qpbench.measure.accuracy import Limits, decide, look_confidence, open_limits, planned_looks
from qpbench.measure.predictions import sample_order
from qpbench.run.predictions import Predictions, limits_for

GATES = Limits(pearson=0.90, fidelity_loss=(0.05,), mae_increase=(0.10,))


def labels_and_reference(n: int, seed: int = 0, noise: float = 0.045) -> tuple[np.ndarray, np.ndarray]:
    """Labels spread like SSIM and a reference that tracks them with Pearson about 0.97 (the default model: 0.966)."""
    rng = np.random.default_rng(seed)
    labels = rng.beta(4, 1.5, n)
    return labels, np.clip(labels + rng.normal(0, noise, n), 0, 1)


def run_looks(pred: np.ndarray, ref: np.ndarray | None, labels: np.ndarray, limits: Limits = GATES,
              looks: tuple[int, ...] | None = None) -> tuple[accuracy.Decision, list[int]]:
    asked: list[int] = []

    def predict(n: int):
        asked.append(n)
        return pred[:n], None if ref is None else ref[:n]

    return decide(predict, labels, limits, 0.95, looks or planned_looks(labels.size)), asked


def test_planned_looks_a_floor_half_and_the_whole_set():
    assert planned_looks(800) == (200, 400, 800)
    assert planned_looks(4780) == (1195, 2390, 4780)
    assert planned_looks(300) == (200, 300)  # a quarter and a half are below the floor
    assert planned_looks(100) == (100,)  # no larger than the floor: one look, the whole set
    assert planned_looks(800, floor=50) == (200, 400, 800)
    with pytest.raises(ValueError, match="at least one sample"):
        planned_looks(0)


def test_the_error_rate_is_split_between_the_planned_looks():
    assert look_confidence(0.95, 3) == pytest.approx(1 - 0.05 / 3)
    assert look_confidence(0.95, 1) == pytest.approx(0.95)


def test_the_order_is_seeded_and_a_permutation():
    order = sample_order(800)
    assert sorted(order.tolist()) == list(range(800))
    assert np.array_equal(order, sample_order(800))
    assert not np.array_equal(order, np.arange(800))


def test_a_clean_variant_is_decided_at_the_first_look():
    labels, ref = labels_and_reference(800)
    pred = ref + np.random.default_rng(1).normal(0, 0.002, 800)  # int8-like: a little noise
    decided, asked = run_looks(pred, ref, labels)
    assert (decided.n_samples, decided.look, decided.looks, decided.eval_samples) == (200, 1, 3, 800)
    assert asked == [200]
    assert decided.open == ()
    assert "look 1 of 3, 200 of 800 samples: decided" == decided.text()


def test_the_reference_is_judged_on_pearson_alone():
    labels, ref = labels_and_reference(800)
    decided, asked = run_looks(ref, None, labels, Limits(pearson=0.90))
    assert asked == [200] and decided.n_samples == 200


def test_a_variant_near_its_target_goes_on_to_the_whole_set_and_says_what_stays_open():
    labels, ref = labels_and_reference(800)
    r = np.corrcoef(ref, labels)[0, 1]
    decided, asked = run_looks(ref, None, labels, Limits(pearson=round(float(r), 3)))
    assert asked == [200, 400, 800]
    assert decided.n_samples == 800 and decided.look == 3
    assert decided.open and "Pearson against" in decided.open[0]
    assert "the whole set, still open: Pearson against" in decided.text()


@pytest.mark.parametrize("plant, caught_at", [("error 2.5x the reference's", 200), ("noise of sd 0.025 added", 800)])
def test_a_planted_accuracy_loss_is_caught(plant, caught_at):
    """A large loss is decided against at the first look; one near the MAE rule's limit is
    looked at up to the whole set; both end above the limit, which the quantization rule reads."""
    labels, ref = labels_and_reference(800)
    if plant.startswith("error"):
        pred = np.clip(labels + (ref - labels) * 2.5, 0, 1)
    else:
        pred = np.clip(ref + np.random.default_rng(5).normal(0, 0.025, 800), 0, 1)
    decided, asked = run_looks(pred, ref, labels)
    assert decided.n_samples == caught_at
    n = decided.n_samples
    result = accuracy.fidelity("planted", pred[:n], "ref", ref[:n], labels[:n])
    assert result.mae_increase_rel > 0.10  # the MAE rule rejects it, on the samples that decided
    assert result.mae_increase_interval[0] < result.mae_increase_rel < result.mae_increase_interval[1]
    if caught_at == 800:
        assert decided.open == ("MAE increase against 0.1",)


def test_a_clean_variant_is_not_flagged():
    labels, ref = labels_and_reference(800)
    pred = np.clip(ref + np.random.default_rng(5).normal(0, 0.005, 800), 0, 1)
    decided, _ = run_looks(pred, ref, labels)
    result = accuracy.fidelity("clean", pred[:decided.n_samples], "ref", ref[:decided.n_samples],
                               labels[:decided.n_samples])
    assert decided.n_samples == 200
    assert result.mae_increase_rel < 0.10 and result.pearson_loss_rel < 0.05


def test_the_looks_rarely_decide_wrongly_in_seeded_trials():
    """A variant 0.01 above the Pearson target: over 200 seeded sets no look decides it below the
    target more often than the run's error rate allows."""
    wrong = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        labels = rng.normal(size=800)
        r = 0.91
        pred = r * labels + np.sqrt(1 - r * r) * rng.normal(size=800)
        decided, _ = run_looks(pred, None, labels, Limits(pearson=0.90))
        value = np.corrcoef(pred[:decided.n_samples], labels[:decided.n_samples])[0, 1]
        if decided.n_samples < 800 and value < 0.90:
            wrong += 1
    assert wrong <= 0.05 * 200


def test_open_limits_names_each_undecided_limit():
    labels, ref = labels_and_reference(200)
    pred = np.clip(labels + (ref - labels) * 1.03, 0, 1)  # a 3% MAE increase: 0.03 is undecidable
    out = open_limits(pred, labels, ref, Limits(None, (0.05,), (0.03,)), 0.95)
    assert out == ["MAE increase against 0.03"]


def test_limits_follow_the_scoring_and_the_variant_kind():
    scoring = ScoringConfig()
    assert limits_for(scoring, {}, True) == Limits(pearson=0.90)
    assert limits_for(scoring, {}, False) == Limits(0.90, (0.05,), ())
    assert limits_for(scoring, {"quantized": True}, False) == Limits(0.90, (0.05,), (0.10,))
    assert limits_for(scoring, {"precision": "bf16"}, False) == Limits(0.90, (0.01, 0.05), ())


class FakeEngine:
    """Answers ``predict`` requests from fixed per-variant predictions, logging each stretch."""

    def __init__(self, values: dict[str, np.ndarray], order: np.ndarray) -> None:
        self.values, self.order, self.asked = values, order, []

    def variant(self, name: str):
        def request(op, measurement, eval_images=None, start=0, stop=None):
            self.asked.append((name, start, stop))
            return {"values": self.values[name][self.order[start:stop]].tolist(), "cached": False}

        return SimpleNamespace(request=request, built={"info": {"meta": {"quantized": name == "int8"}}})


def fake_predictions(n: int = 800) -> tuple[Predictions, FakeEngine, LabelledSet]:
    labels, ref = labels_and_reference(n)
    data = LabelledSet(images=np.zeros((n, 2, 2, 3), np.uint8), img_idx=np.arange(n), params=np.zeros((n, 13), np.float32),
                       ssim=labels.astype(np.float32), source="fake")
    engine = FakeEngine({"eager": ref, "int8": ref + 0.001}, sample_order(n))
    workload = SimpleNamespace(data=data)
    return Predictions(lambda: engine, lambda: workload, lambda: None, ScoringConfig, "eager"), engine, data


def test_predictions_are_made_only_as_far_as_the_looks_need_then_extended_for_the_whole_set():
    predictions, engine, data = fake_predictions()
    decided = predictions.decide("int8")
    assert decided.n_samples == 200
    assert engine.asked == [("int8", 0, 200), ("eager", 0, 200)]
    assert predictions.decide("int8") is decided  # once per run
    whole = predictions.whole_set("int8")
    assert whole.n_samples == 800 and whole.text() == "look 3 of 3, 800 of 800 samples: the whole set"
    assert engine.asked[-1] == ("int8", 200, 800)
    # the predictions line up with the labels of the same samples
    order = sample_order(800)
    assert np.allclose(predictions.first("int8", 800), data.ssim[order] * 0 + engine.values["int8"][order])
    assert np.allclose(predictions.eval_data(200).ssim, data.ssim[order[:200]])
    assert predictions.eval_data(200).source == "fake (200 of 800 samples in a seeded order)"
    assert predictions.eval_data().source == "fake"


def test_revalidation_predicts_the_samples_the_run_judged():
    from qpbench.deploy.revalidate import judged_samples

    _, _, data = fake_predictions()
    assert judged_samples(data, {"accuracy": {"n_samples": 800}}) is data
    assert judged_samples(data, {}) is data
    part = judged_samples(data, {"accuracy": {"n_samples": 200}})
    assert part.n_samples == 200 and np.array_equal(part.ssim, data.ssim[sample_order(800)[:200]])


def test_the_verdict_says_which_accuracy_figures_rest_on_fewer_samples():
    from qpbench.render.view import accuracy_samples_line
    from qpbench.results import AccuracyResult
    from qpbench.verdict import scoring

    results = [AccuracyResult("eager", 200, 0.94, 0.94, 0.04, 0.05, 0.7, 0.9, eval_samples=800),
               AccuracyResult("int8", 200, 0.95, 0.95, 0.04, 0.05, 0.7, 0.9, eval_samples=800),
               AccuracyResult("int8", 800, 0.96, 0.96, 0.04, 0.05, 0.7, 0.9, eval_samples=800)]
    verdict = scoring.score(results, ScoringConfig(), "eager")
    by_name = {v.variant: v for v in verdict.variants}
    assert by_name["eager"].accuracy_samples == (200, 800) and by_name["int8"].accuracy_samples is None
    assert by_name["int8"].criterion("pearson").value == 0.96  # the whole set's figure, recorded last
    line = accuracy_samples_line(verdict)
    assert line.startswith("accuracy judged until decided: eager on 200 of 800 samples; int8 on the whole set")
    assert accuracy_samples_line(scoring.score(results[2:], ScoringConfig(), "eager")) is None
