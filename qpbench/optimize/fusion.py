"""Fold BatchNorm into the convolution before it, for real.

``model.eval()`` alone keeps every BatchNorm as a separate pass over the
activations. Folding rewrites the convolution's weight and bias so that
conv(x) == bn(conv(x)) and replaces the BatchNorm with Identity.

Pairs are found from the model's dataflow (a torch.fx trace), but the folding
is applied to the original module tree, so the result is still an ordinary
eager module. A pair is folded only when the convolution's output feeds the
BatchNorm alone and each module is called once.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class FusionReport:
    folded: int  # number of Conv+BN pairs folded
    batchnorms: int  # BatchNorm2d modules in the model
    skipped_reason: str | None = None


def _conv_bn_pairs(model: nn.Module) -> list[tuple[str, str]]:
    import torch.fx

    graph = torch.fx.symbolic_trace(model).graph
    calls = Counter(n.target for n in graph.nodes if n.op == "call_module")
    modules = dict(model.named_modules())
    pairs = []
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(modules.get(node.target), nn.BatchNorm2d):
            continue
        src = node.args[0]
        if not (isinstance(src, torch.fx.Node) and src.op == "call_module" and isinstance(modules.get(src.target), nn.Conv2d)):
            continue
        if len(src.users) == 1 and calls[src.target] == 1 and calls[node.target] == 1:
            pairs.append((src.target, node.target))
    return pairs


def _set_submodule(root: nn.Module, dotted: str, module: nn.Module) -> None:
    parent_name, _, child = dotted.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, module)


def fold_conv_bn(model: nn.Module) -> tuple[nn.Module, FusionReport]:
    """A copy of ``model`` (in eval mode) with Conv+BN pairs folded."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model = copy.deepcopy(model).eval()
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    try:
        pairs = _conv_bn_pairs(model)
    except Exception as exc:  # fx cannot trace data-dependent control flow
        return model, FusionReport(0, n_bn, f"model is not traceable by torch.fx ({type(exc).__name__}: {exc})")
    with torch.no_grad():
        for conv_name, bn_name in pairs:
            fused = fuse_conv_bn_eval(model.get_submodule(conv_name), model.get_submodule(bn_name))
            _set_submodule(model, conv_name, fused)
            _set_submodule(model, bn_name, nn.Identity())
    return model, FusionReport(len(pairs), n_bn)
