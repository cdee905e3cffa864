"""Accuracy against the labels and fidelity against the fp32 reference, judged on as many
samples as it takes to decide (docs/measurement.md, "Accuracy until decided").

The evaluation samples are taken in a fixed, seeded order (``sample_order``) and looked at no
more than ``LOOKS`` times, at planned counts (``planned_looks``): a floor, half the set, the
whole set. At each look the intervals are taken at a confidence that splits the error rate
between the looks (Bonferroni), so the chance that any look decides wrongly stays within the
run's confidence however many looks are made. A look decides when every limit the variant is
judged against lies outside its interval (``open_limits``): Pearson's Fisher-z interval against
the Pearson target; the paired bootstrap interval of the fidelity loss, and of the MAE increase,
against the fp32 reference on the same samples, against the fidelity target and the
quantization and bf16 rules. The last look is the whole set and decides whatever is left.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
    loss_ci = increase_ci = increase = None
    if pred.size >= 4 and np.isfinite(ref_r) and ref_r:
        increase = float(losses(pred, ref_pred, labels)[1])
        loss_ci, increase_ci = (ci if all(map(math.isfinite, ci)) else None
                                for ci in loss_intervals(pred, ref_pred, labels, stats.CONFIDENCE))
    return FidelityResult(
        variant=variant,
        reference=reference,
        n_samples=int(pred.size),
        max_abs_diff=float(diff.max()),
        mean_abs_diff=float(diff.mean()),
        correlation=stats.pearson(pred, ref_pred),
        pearson_loss_rel=float((ref_r - r) / ref_r) if ref_r and np.isfinite(ref_r) else float("nan"),
        loss_interval=loss_ci,
        mae_increase_rel=increase if increase is not None and math.isfinite(increase) else None,
        mae_increase_interval=increase_ci,
    )


LOOKS = 3  # planned looks at most: the floor, half the set, the whole set
FLOOR_SAMPLES = 200  # no look decides on fewer samples (a set this small has one look)


def planned_looks(n_samples: int, floor: int | None = None, looks: int = LOOKS) -> tuple[int, ...]:
    """The sample counts of the planned looks: a quarter of the set (never below the floor,
    ``FLOOR_SAMPLES`` unless given), half of it, the whole set; the set itself when it is no
    larger than the floor."""
    if n_samples <= 0:
        raise ValueError("an evaluation set needs at least one sample")
    floor = FLOOR_SAMPLES if floor is None else floor
    counts = {min(n_samples, max(floor, math.ceil(n_samples / 2 ** (looks - k)))) for k in range(1, looks + 1)}
    return tuple(sorted(counts))


def look_confidence(confidence: float, n_looks: int) -> float:
    """The confidence of each look's intervals: the error rate split evenly over the planned looks."""
    return 1.0 - (1.0 - confidence) / max(1, n_looks)


@dataclass(frozen=True)
class Limits:
    """What a variant's accuracy is judged against: the Pearson target (None: not judged), and
    the limits on its fidelity loss and MAE increase against the reference (the fidelity target,
    the quantization rule's, the bf16 rule's)."""

    pearson: float | None = None
    fidelity_loss: tuple[float, ...] = ()
    mae_increase: tuple[float, ...] = ()


def losses(pred: np.ndarray, ref: np.ndarray, labels: np.ndarray, axis: int = -1) -> np.ndarray:
    """The relative Pearson loss against the reference and the relative MAE increase, on the
    same samples (along ``axis``, for the bootstrap): [loss, increase]."""
    r_ref = stats.pearson_along(ref, labels, axis)
    loss = (r_ref - stats.pearson_along(pred, labels, axis)) / r_ref
    increase = np.abs(pred - labels).mean(axis=axis) / np.abs(ref - labels).mean(axis=axis) - 1.0
    return np.stack([loss, increase])


def loss_intervals(pred: np.ndarray, ref: np.ndarray, labels: np.ndarray,
                   confidence: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """The paired bootstrap intervals of ``losses``: (fidelity loss, MAE increase)."""
    _, low, high = stats.paired_bootstrap(losses, (pred, ref, labels), confidence)
    return (float(low[0]), float(high[0])), (float(low[1]), float(high[1]))


def _straddles(interval: tuple[float, float] | None, limit: float) -> bool:
    return interval is None or not all(map(math.isfinite, interval)) or interval[0] <= limit <= interval[1]


def open_limits(pred: np.ndarray, labels: np.ndarray, ref: np.ndarray | None, limits: Limits,
                confidence: float) -> list[str]:
    """The limits these samples leave undecided (their interval holds the limit), as text;
    empty when the look decides the variant's accuracy."""
    out = []
    if limits.pearson is not None:
        r = stats.pearson(pred, labels)
        interval = stats.pearson_interval(r, pred.size, confidence)
        if interval is None and math.isfinite(r) and abs(r) >= 1.0 and pred.size >= 4:
            interval = (r, r)
        if _straddles(interval, limits.pearson):
            out.append(f"Pearson against {limits.pearson:g}")
    if ref is not None and (limits.fidelity_loss or limits.mae_increase):
        if pred.size < 4:
            return out + ["fidelity: too few samples"]
        loss, increase = loss_intervals(pred, ref, labels, confidence)
        out += [f"fidelity loss against {x:g}" for x in limits.fidelity_loss if _straddles(loss, x)]
        out += [f"MAE increase against {x:g}" for x in limits.mae_increase if _straddles(increase, x)]
    return out


@dataclass(frozen=True)
class Decision:
    """How many samples a variant's accuracy was judged on, and why it stopped there."""

    n_samples: int
    eval_samples: int  # the whole set: the ceiling
    look: int  # 1-based
    looks: int  # planned
    open: tuple[str, ...] = ()  # what the whole set still left open (nothing earlier)

    def text(self) -> str:
        where = f"look {self.look} of {self.looks}, {self.n_samples} of {self.eval_samples} samples"
        if self.n_samples == self.eval_samples and self.open:
            return f"{where}: the whole set, still open: {', '.join(self.open)}"
        return f"{where}: decided" if self.n_samples < self.eval_samples else f"{where}: the whole set"


def decide(predict: Callable[[int], tuple[np.ndarray, np.ndarray | None]], labels: np.ndarray,
           limits: Limits, confidence: float, looks: Sequence[int]) -> Decision:
    """Looks at the planned sample counts in turn until one decides (``open_limits``); the
    whole set decides whatever is left. ``predict(n)`` gives the variant's and the reference's
    predictions (None for the reference itself) of the first n samples in the order."""
    per_look = look_confidence(confidence, len(looks))
    open_: list[str] = []
    for i, n in enumerate(looks, start=1):
        pred, ref = predict(n)
        open_ = open_limits(pred, labels[:n], ref, limits, per_look)
        if not open_:
            break
    return Decision(n, looks[-1], i, len(looks), tuple(open_))
