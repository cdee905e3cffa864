"""TorchScript, the deployment plan's path (deprecated in torch 2.14, still working).

``torch.jit.script`` (or, when the model cannot be scripted, ``torch.jit.trace``
checked against eager on a batch of another size) -> ``torch.jit.freeze`` ->
``torch.jit.optimize_for_inference`` for the in-memory runnable.

The artifact is the FROZEN module saved with ``torch.jit.save``. Traps:

- ``optimize_for_inference`` works in place: it returns the very module it was
  given, rewritten (oneDNN layouts), and ``copy.deepcopy`` of a ScriptModule
  shares that graph. Save the frozen module before optimizing it.
- A module that went through ``optimize_for_inference`` saves to a file
  ``torch.jit.load`` cannot read ("required keyword attribute 'value' is
  undefined"): a size taken from that file is meaningless.
- A loaded frozen module has no ``training`` attribute, so ``torch.jit.freeze``
  refuses it; it is already frozen, and ``optimize_for_inference`` accepts it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from qpbench.errors import VariantUnavailable
from qpbench.optimize.compile import first_line

Batch = tuple[torch.Tensor, torch.Tensor]
DEPRECATED = "TorchScript (torch.jit.*) is deprecated since torch 2.5; the maintained paths are torch.compile and torch.export/AOTInductor"
ARTIFACT_NOTE = (
    "artifact = torch.jit.save of the frozen module; optimize_for_inference (in place) is applied again after "
    "torch.jit.load, because its own output saves to a file torch.jit.load cannot read "
    "(\"required keyword attribute 'value' is undefined\")"
)
TRACE_TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


def _differs(a: torch.Tensor, b: torch.Tensor) -> str | None:
    a, b = a.reshape(-1), b.reshape(-1)
    if a.shape != b.shape:
        return f"output shape {tuple(a.shape)} instead of {tuple(b.shape)}"
    if not torch.allclose(a, b, **TRACE_TOLERANCE):
        return f"max abs diff {(a - b).abs().max().item():.3g}"
    return None


def script_or_trace(model: nn.Module, example: Batch, check: Batch) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """``torch.jit.script(model)``, else ``torch.jit.trace(model, example)`` when the
    trace agrees with eager on ``check`` (a batch of another size and other samples).

    Returns the module and ``{"method": "script"|"trace", "script_error": ...}``;
    raises VariantUnavailable with both reasons when neither works.
    """
    info: dict[str, Any] = {}
    try:
        module = torch.jit.script(model)
        info["method"] = "script"
        return module, info
    except Exception as exc:
        info["script_error"] = first_line(exc)
    try:
        with torch.no_grad():
            module = torch.jit.trace(model, example)
            problem = _differs(module(*check), model(*check))
    except Exception as exc:
        problem = first_line(exc)
    if problem is not None:
        raise VariantUnavailable(
            f"TorchScript cannot capture the model: torch.jit.script failed ({info['script_error']}); "
            f"torch.jit.trace disagrees with eager on a batch of {check[0].shape[0]} ({problem}): "
            "Python control flow or values that leave the graph"
        )
    info["method"] = "trace"
    return module, info
