"""A batch size that fits in memory, from memory measured on the variant itself."""

from __future__ import annotations

import math

from qpbench.results import BatchSizeResult, MemoryResult


def suggest_batch_size(
    at_one: MemoryResult,
    at_n: MemoryResult,
    available_mb: float,
    headroom: float = 0.5,
    max_batch: int = 1024,
) -> BatchSizeResult:
    """Largest batch whose projected peak stays within ``headroom`` of the available memory.

    The projection is linear in the batch size: peak(b) = fixed + b * per_sample,
    with per_sample from two fresh-process measurements of the same variant.
    """
    if at_one.batch_size != 1 or at_n.batch_size <= 1 or at_one.variant != at_n.variant:
        raise ValueError("need peak memory of one variant at batch 1 and at a larger batch")
    if not 0 < headroom <= 1:
        raise ValueError(f"headroom must be in (0, 1], got {headroom}")
    n = at_n.batch_size
    # Memory noise can make the difference slightly negative; a sample costs at least 1 kB.
    per_sample = max((at_n.peak_rss_mb - at_one.peak_rss_mb) / (n - 1), 1e-3)
    fixed = at_one.peak_rss_mb - per_sample
    budget = available_mb * headroom - fixed
    suggested = 0 if budget < per_sample else min(max_batch, math.floor(budget / per_sample))
    return BatchSizeResult(
        variant=at_one.variant,
        per_sample_mb=per_sample,
        fixed_mb=fixed,
        available_mb=available_mb,
        headroom=headroom,
        suggested_batch_size=suggested,
        measured_batch_sizes=(1, n),
    )
