"""Accuracy against the labels and fidelity against the fp32 reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from qpbench import stats
from qpbench.data.dataset import LabelledSet
from qpbench.results import AccuracyResult, FidelityResult


def predict(
    run: Callable[[Any, Any], Any],
    inputs: Callable[[np.ndarray], tuple[Any, Any]],
    n_samples: int,
    batch_size: int = 16,
) -> np.ndarray:
    """Predictions for samples 0..n-1 in batches, as float64; raises on non-finite output."""
    out = np.empty(n_samples, dtype=np.float64)
    for start in range(0, n_samples, batch_size):
        ids = np.arange(start, min(start + batch_size, n_samples))
        pred = run(*inputs(ids))
        values = pred.detach().float().numpy().reshape(-1) if hasattr(pred, "detach") else np.asarray(pred).reshape(-1)
        if values.shape[0] != ids.shape[0]:
            raise ValueError(f"the model returned {values.shape[0]} predictions for a batch of {ids.shape[0]}")
        out[ids] = values
    if not np.isfinite(out).all():
        raise ValueError(f"the model returned NaN or inf for {int((~np.isfinite(out)).sum())} samples")
    return out


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
