"""A built variant's predictions of the evaluation samples, and where the build cache keeps them.

Apart from the other request handlers on purpose: cached predictions are kept under the
code that predicts them (``predicted_samples``), which is this module and what it reaches,
so a change to how latency, LoadGen or the tools are measured, to the result records or to
the accuracy metrics (``accuracy.py``) leaves them warm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class CheckFailed(AssertionError):
    """The variant ran but its output is wrong (shape, range, NaN): the test fails with this."""


def predict(
    run: Callable[[Any, Any], Any],
    inputs: Callable[[np.ndarray], tuple[Any, Any]],
    sample_ids: np.ndarray,
    batch_size: int = 16,
) -> np.ndarray:
    """Predictions for the given samples in batches, in their order, as float64; raises on
    non-finite output."""
    sample_ids = np.asarray(sample_ids)
    out = np.empty(sample_ids.size, dtype=np.float64)
    for start in range(0, sample_ids.size, batch_size):
        ids = sample_ids[start:start + batch_size]
        pred = run(*inputs(ids))
        values = pred.detach().float().numpy().reshape(-1) if hasattr(pred, "detach") else np.asarray(pred).reshape(-1)
        if values.shape[0] != ids.shape[0]:
            raise ValueError(f"the model returned {values.shape[0]} predictions for a batch of {ids.shape[0]}")
        out[start:start + ids.size] = values
    if not np.isfinite(out).all():
        raise ValueError(f"the model returned NaN or inf for {int((~np.isfinite(out)).sum())} samples")
    return out


ORDER_SEED = 0  # the sample order's seed: every run and every variant sees the same prefixes


def sample_order(n_samples: int, seed: int = ORDER_SEED) -> np.ndarray:
    """The order the evaluation samples are predicted and judged in (accuracy.py): a seeded
    permutation, so that each look's samples are spread over the whole set yet the same in every
    run."""
    return np.random.default_rng(seed).permutation(n_samples)


def stretch(data: Any, start: int | None, stop: int | None) -> np.ndarray:
    """The sample ids from ``start`` to ``stop`` in the evaluation order."""
    return sample_order(data.n_samples)[slice(start, stop)]


def predictions(loaded: Any, eval_images: int | None, start: int | None = None, stop: int | None = None,
                batch_size: int = 16) -> list[float]:
    """The variant's predictions of the evaluation samples (of the first ``eval_images`` images)
    from ``start`` to ``stop`` in the evaluation order."""
    variant, workload = loaded.variant, loaded.workload
    data = workload.data.first_images(eval_images)
    ids = stretch(data, start, stop)
    with variant.runtime():
        pred = predict(variant, lambda batch: workload.inputs(batch), ids, batch_size)
    if not ((pred >= 0) & (pred <= 1)).all():
        raise CheckFailed("predicted SSIM outside [0, 1]")
    return pred.tolist()


def predicted_samples(data: Any, eval_images: int | None, start: int | None = None, stop: int | None = None) -> str:
    """What a cached build's predictions are kept under: the samples (the set, and the stretch of
    its order), and the code that predicts them (this module and all it reaches, since the
    build's key holds only what a build reaches)."""
    from qpbench.variants.code_digest import code_digest

    n = data.first_images(eval_images).n_samples
    first, last, _ = slice(start, stop).indices(n)
    return f"{data.source}:{eval_images}:{n}:{first}-{last}:{code_digest(__name__)}"


def cached_predictions(loaded: Any, eval_images: int | None, start: int | None = None,
                       stop: int | None = None) -> dict[str, Any]:
    """``predictions``, reused from the build cache when this build came from (or went to) it and
    the same samples were predicted before by the same code (``predicted_samples``); stored
    there otherwise. {"values", "cached"}."""
    from qpbench.measure.build_facts import cached_fact

    samples = predicted_samples(loaded.workload.data, eval_images, start, stop)
    values, cached = cached_fact(loaded, samples, lambda: predictions(loaded, eval_images, start, stop), "predictions")
    return {"values": [float(v) for v in values], "cached": cached}
