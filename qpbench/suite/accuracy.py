"""Accuracy against the labels, and fidelity against the fp32 reference, from predictions
made in each variant's worker: on as many samples as decide them at the screen
(measure/accuracy.py), and on the whole set for a variant measured in full after it."""

from dataclasses import replace

import numpy as np
import pytest

from qpbench.measure.accuracy import Decision, accuracy, fidelity
from qpbench.suite.isolated import in_worker


def _record_accuracy(name, decided: Decision, qp_session, qp_record) -> None:
    predictions = qp_session.predictions
    pred = predictions.first(name, decided.n_samples)
    result = accuracy(name, pred, predictions.eval_data(decided.n_samples))
    qp_record(replace(result, eval_samples=decided.eval_samples, decided=decided.text(),
                      predictions_from="build cache" if predictions.cached(name) else None))


def _record_fidelity(name, decided: Decision, qp_session, qp_record) -> None:
    predictions = qp_session.predictions
    reference = predictions.reference
    n = decided.n_samples
    pred = in_worker(lambda: predictions.first(name, n), qp_record)
    ref_pred = in_worker(lambda: predictions.first(reference, n), qp_record)
    labels = predictions.eval_data(n).ssim.astype(np.float64)
    qp_record(replace(fidelity(name, pred, reference, ref_pred, labels), eval_samples=decided.eval_samples))


def test_accuracy(qp_measured, qp_session, qp_record):
    decided = in_worker(lambda: qp_session.predictions.decide(qp_measured.name), qp_record)
    _record_accuracy(qp_measured.name, decided, qp_session, qp_record)


def test_fidelity(qp_measured, qp_session, qp_record):
    if qp_measured.name == qp_session.predictions.reference:
        pytest.skip("the reference is not compared with itself")
    decided = in_worker(lambda: qp_session.predictions.decide(qp_measured.name), qp_record)
    _record_fidelity(qp_measured.name, decided, qp_session, qp_record)


@pytest.mark.qp_after_screen
def test_whole_set(qp_measured, qp_session, qp_record):
    """After the screen, for a variant measured in full: accuracy and fidelity on the whole set."""
    name = qp_measured.name
    decided = in_worker(lambda: qp_session.predictions.decide(name), qp_record)
    if decided.n_samples == decided.eval_samples:
        pytest.skip(f"judged on the whole set at the screen ({decided.n_samples} samples)")
    whole = in_worker(lambda: qp_session.predictions.whole_set(name), qp_record)
    _record_accuracy(name, whole, qp_session, qp_record)
    if name != qp_session.predictions.reference:
        _record_fidelity(name, whole, qp_session, qp_record)
