"""Global unstructured L1 pruning of every Conv2d and Linear weight, made permanent.

What it buys here, honestly (CPU_PATHS.md): nothing in speed or in the dense
file. Dense CPU kernels multiply zeros as fast as any other number, and a
dense state_dict stores every zero in 4 bytes. Only a sparse encoding shrinks:
this module writes one (a bitmask of the nonzeros plus their values, zipped)
to show what a sparse deployment format would save. COO/CSR with int64
indices take 12-16 bytes a nonzero and are LARGER than dense below about
67-75 % sparsity.

``build_pruned`` folds Conv+BN first (so magnitudes include the BatchNorm
scale, as the deployed weights do), prunes, and runs the dense pruned model.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn


PRUNABLE = (nn.Conv2d, nn.Linear)
NOTE = (
    "unstructured zeros: dense CPU kernels do not get faster and the dense file does not shrink; "
    "artifact_bytes is the dense state_dict the runnable loads, sparse_artifact_bytes a bitmask+values "
    "encoding (np.savez_compressed) that only a sparse-aware loader could use"
)


@dataclass(frozen=True)
class PruneReport:
    requested: float | None  # fraction asked to be zero (None: loaded from an artifact)
    achieved: float  # fraction of the prunable weights that are zero afterwards
    layers: int  # Conv2d and Linear weights pruned
    weights: int  # their number of elements
    zeros: int  # of which zero
    min_layer_sparsity: float
    max_layer_sparsity: float

    def as_meta(self) -> dict[str, Any]:
        return asdict(self)


def prunable_weights(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every Conv2d and Linear with a weight."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, PRUNABLE) and m.weight is not None]


def sparsity_report(model: nn.Module, requested: float | None = None) -> PruneReport:
    layers = prunable_weights(model)
    per_layer = [float((m.weight == 0).float().mean()) for _, m in layers]
    total = sum(m.weight.numel() for _, m in layers)
    zeros = sum(int((m.weight == 0).sum()) for _, m in layers)
    return PruneReport(
        requested=requested,
        achieved=zeros / total if total else 0.0,
        layers=len(layers),
        weights=total,
        zeros=zeros,
        min_layer_sparsity=min(per_layer, default=0.0),
        max_layer_sparsity=max(per_layer, default=0.0),
    )


def prune_global(model: nn.Module, sparsity: float) -> PruneReport:
    """Zero the ``sparsity`` fraction of smallest-magnitude weights over all Conv2d and Linear
    layers together (``torch.nn.utils.prune.global_unstructured``, L1), in place, and make it
    permanent (``prune.remove``: no ``weight_orig``/``weight_mask``, no forward pre-hooks).

    Biases are kept. Raises ValueError for a sparsity outside [0, 1) or a model
    without Conv2d/Linear layers.
    """
    from torch.nn.utils import prune

    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    layers = prunable_weights(model)
    if not layers:
        raise ValueError("the model has no Conv2d or Linear layer to prune")
    params = [(m, "weight") for _, m in layers]
    with torch.no_grad():
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=float(sparsity))
        for module, attr in params:
            prune.remove(module, attr)
    return sparsity_report(model, sparsity)


def save_sparse(state: dict[str, torch.Tensor], pruned: set[str], path: str | Path) -> int:
    """Write ``state`` with the tensors named in ``pruned`` as (bitmask of nonzeros, nonzero
    values) and the rest dense, into a compressed .npz; returns its size in bytes."""
    arrays: dict[str, np.ndarray] = {}
    for key, tensor in state.items():
        array = tensor.detach().cpu().numpy()
        if key in pruned:
            flat = array.reshape(-1)
            mask = flat != 0
            arrays[f"sparse/{key}/mask"] = np.packbits(mask)
            arrays[f"sparse/{key}/values"] = flat[mask]
            arrays[f"sparse/{key}/shape"] = np.asarray(array.shape, dtype=np.int64)
        else:
            arrays[f"dense/{key}"] = array
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    return os.path.getsize(path)


def load_sparse(path: str | Path) -> dict[str, torch.Tensor]:
    """The state_dict written by ``save_sparse``, dense again."""
    state: dict[str, torch.Tensor] = {}
    with np.load(path) as data:
        for name in data.files:
            kind, _, rest = name.partition("/")
            if kind == "dense":
                state[rest] = torch.from_numpy(data[name].copy())
            elif rest.endswith("/mask"):
                key = rest[: -len("/mask")]
                shape = tuple(int(s) for s in data[f"sparse/{key}/shape"])
                n = int(np.prod(shape))
                mask = np.unpackbits(data[name], count=n).astype(bool)
                values = data[f"sparse/{key}/values"]
                flat = np.zeros(n, dtype=values.dtype)
                flat[mask] = values
                state[key] = torch.from_numpy(flat.reshape(shape))
    return state


def csr_bytes_estimate(model: nn.Module) -> int:
    """Bytes of the pruned weights as CSR (fp32 values, int64 column indices and row pointers),
    each weight seen as a (out_channels, rest) matrix; plus the other tensors dense."""
    pruned = {id(m.weight) for _, m in prunable_weights(model)}
    total = 0
    for tensor in model.state_dict(keep_vars=True).values():
        if id(tensor) in pruned:
            nnz = int((tensor != 0).sum())
            total += nnz * (4 + 8) + (tensor.shape[0] + 1) * 8
        else:
            total += tensor.numel() * tensor.element_size()
    return total


def pruned_keys(model: nn.Module) -> set[str]:
    return {f"{name}.weight" if name else "weight" for name, _ in prunable_weights(model)}
