"""The model's operations per image, counted once on the eager fp32 model.

``torch.utils.flop_counter`` counts 2 operations per multiply-add of convolutions and matrix
products (the heavy part; elementwise operations are left out), the unit the peak is given in
(``qpbench.peak``), so a variant's achieved rate is this count over its batch-1 latency.
"""

from __future__ import annotations

from typing import Any


def flops_per_image(model: Any, example: tuple[Any, ...]) -> float:
    """Operations of one forward pass of ``model`` on ``example`` (batch 1)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    batch = int(example[0].shape[0])
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model.eval()(*example)
    return float(counter.get_total_flops()) / batch
