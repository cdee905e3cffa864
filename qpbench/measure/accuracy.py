"""Accuracy against the labels and fidelity against the fp32 reference."""

from __future__ import annotations

import numpy as np

from qpbench import stats
from qpbench.data.dataset import LabelledSet
from qpbench.results import AccuracyResult, FidelityResult


def accuracy(variant: str, pred: np.ndarray, data: LabelledSet) -> AccuracyResult:
    labels = data.ssim.astype(np.float64)
    err = pred - labels
    by_group = {}
    if data.groups is not None:
        for g in sorted(set(data.groups.tolist())):
            mask = data.groups == g
            by_group[str(g)] = stats.pearson(pred[mask], labels[mask])
    return AccuracyResult(
        variant=variant,
        n_samples=int(labels.size),
        pearson=stats.pearson(pred, labels),
        spearman=stats.spearman(pred, labels),
        mae=float(np.mean(np.abs(err))),
        rmse=float(np.sqrt(np.mean(err**2))),
        within_005=float(np.mean(np.abs(err) <= 0.05)),
        within_010=float(np.mean(np.abs(err) <= 0.10)),
        pearson_by_group=by_group,
        dataset=data.source,
    )


def fidelity(variant: str, pred: np.ndarray, reference: str, ref_pred: np.ndarray, labels: np.ndarray) -> FidelityResult:
    if pred.shape != ref_pred.shape:
        raise ValueError(f"{variant} has {pred.shape} predictions, {reference} has {ref_pred.shape}")
    diff = np.abs(pred - ref_pred)
    ref_r = stats.pearson(ref_pred, labels)
    r = stats.pearson(pred, labels)
    return FidelityResult(
        variant=variant,
        reference=reference,
        n_samples=int(pred.size),
        max_abs_diff=float(diff.max()),
        mean_abs_diff=float(diff.mean()),
        correlation=stats.pearson(pred, ref_pred),
        pearson_loss_rel=float((ref_r - r) / ref_r) if ref_r and np.isfinite(ref_r) else float("nan"),
    )
