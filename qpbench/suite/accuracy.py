"""Accuracy against the labels, and fidelity against the fp32 reference, from predictions
made in each variant's worker."""

from dataclasses import replace

import numpy as np
import pytest

from qpbench.measure.accuracy import accuracy, fidelity
from qpbench.suite.isolated import in_worker


def test_accuracy(qp_measured, qp_session, qp_record):
    pred = in_worker(lambda: qp_session.predictions.of(qp_measured.name), qp_record)
    result = accuracy(qp_measured.name, pred, qp_session.predictions.eval_data())
    if qp_session.predictions.cached(qp_measured.name):
        result = replace(result, predictions_from="build cache")
    qp_record(result)


def test_fidelity(qp_measured, qp_session, qp_record):
    reference = qp_session.reference
    if qp_measured.name == reference:
        pytest.skip("the reference is not compared with itself")
    pred = in_worker(lambda: qp_session.predictions.of(qp_measured.name), qp_record)
    ref_pred = in_worker(lambda: qp_session.predictions.of(reference), qp_record)
    labels = qp_session.predictions.eval_data().ssim.astype(np.float64)
    qp_record(fidelity(qp_measured.name, pred, reference, ref_pred, labels))
