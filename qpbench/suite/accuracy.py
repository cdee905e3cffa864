"""Accuracy against the labels, and fidelity against the fp32 reference."""

import numpy as np
import pytest

from qpbench.measure.accuracy import accuracy, fidelity


def test_accuracy(qp_variant, qp_session, qp_record):
    pred = qp_session.predictions(qp_variant.name)
    assert ((pred >= 0) & (pred <= 1)).all(), "predicted SSIM outside [0, 1]"
    qp_record(accuracy(qp_variant.name, pred, qp_session.eval_data()))


def test_fidelity(qp_variant, qp_session, qp_record):
    reference = qp_session.reference
    if qp_variant.name == reference:
        pytest.skip("the reference is not compared with itself")
    pred = qp_session.predictions(qp_variant.name)
    ref_pred = qp_session.predictions(reference)
    labels = qp_session.eval_data().ssim.astype(np.float64)
    qp_record(fidelity(qp_variant.name, pred, reference, ref_pred, labels))
