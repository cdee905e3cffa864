"""torch.compile (Inductor) with weight freezing, and context managers the compiling builders share.

Inductor folds the weights into the compiled code (Conv+BN folding, prepacked
oneDNN weights) only when ``torch._inductor.config.freezing`` is True while it
compiles (CPU_PATHS.md: 1.05x without it, 1.3-1.5x with it). Two traps:

- The flag is read while Dynamo traces, not only while Inductor compiles:
  ``torch.compile(..., options={"freezing": True})``, or a custom backend that
  sets it around ``compile_fx``, is accepted but does not freeze (torch 2.14: no
  Conv+BN folding, no weight packing). The global flag must be set around every
  call that may compile. ``inductor_freezing()`` does it and restores the old
  value, also when the block raises.
- Compilation is lazy: a batch size that hits a new guard compiles on the call
  that first sees it. With the batch dimension marked dynamic, the convolution
  backend choice still guards the batch at 1 / 2-15 / >=16, so three graphs
  cover every batch size; the builder compiles them at build time (one example
  batch per range, ``BuildOptions.compile_batch_sizes``) and runs every later
  call under ``inductor_freezing()`` so a recompile freezes too.

Compiled code lives in a cache (``/tmp/torchinductor_$USER``), not in a file a
deployment ships: the variant has no artifact. A warm cache makes later builds
of the same graphs faster; the compile time recorded is the one of this build.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from qpbench.progress import progress

Batch = tuple[torch.Tensor, torch.Tensor]
ARTIFACT_NOTE = (
    "no artifact: torch.compile keeps generated code in the Inductor cache (/tmp/torchinductor_$USER), "
    "which is not a deployable file; every process compiles again (AOTInductor's .pt2 is the deployable form)"
)


@contextlib.contextmanager
def inductor_freezing(enabled: bool = True) -> Iterator[None]:
    """Set ``torch._inductor.config.freezing`` inside the block; restore the old value on exit, also on error."""
    import torch._inductor.config as inductor_config

    previous = inductor_config.freezing
    inductor_config.freezing = enabled
    try:
        yield
    finally:
        inductor_config.freezing = previous


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 300 characters)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"


@contextlib.contextmanager
def recorded_warnings(meta: dict[str, Any]) -> Iterator[None]:
    """Silence warnings inside the block (torch's deprecation notices); keep each distinct
    one, first line only, in ``meta["warnings"]``."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            found = meta.setdefault("warnings", [])
            for w in seen:
                line = f"{w.category.__name__}: {(str(w.message).strip().splitlines() or [''])[0][:200]}"
                if line not in found:
                    found.append(line)
            if not found:
                del meta["warnings"]


def dynamo_counts() -> dict[str, int]:
    """Graphs Dynamo has compiled and graph breaks it has taken so far in this process."""
    from torch._dynamo.utils import counters

    return {"graphs": int(counters["stats"]["unique_graphs"]), "graph_breaks": int(sum(counters["graph_break"].values()))}


class FrozenCompiled:
    """A ``torch.compile``-d model whose every call runs under ``inductor_freezing()``,
    so a recompile (a batch size no compiled graph covers) freezes weights too.

    Not an ``nn.Module`` on purpose: no state_dict poses as its artifact.
    """

    def __init__(self, model: nn.Module, compiled: Any) -> None:
        import torch._inductor.config as inductor_config

        self.model = model
        self.compiled = compiled
        self._config = inductor_config

    def __call__(self, image: torch.Tensor, params: torch.Tensor) -> Any:
        # inductor_freezing() inlined: about 4 us a call instead of 20 us
        config = self._config
        previous = config.freezing
        config.freezing = True
        try:
            return self.compiled(image, params)
        finally:
            config.freezing = previous


def compile_frozen(model: nn.Module, examples: Sequence[Batch]) -> tuple[FrozenCompiled, dict[str, Any]]:
    """``torch.compile`` (Inductor, default mode) with freezing and a dynamic batch dimension;
    compiles now by running ``examples`` (under inference_mode, as the variant runs).

    Returns the runnable and what the compilation did: seconds, graphs compiled,
    graph breaks. Raises whatever the compiler raises.
    """
    model = model.eval()
    compiled = torch.compile(model, backend="inductor", mode=None)
    before = dynamo_counts()
    start = time.perf_counter()
    with inductor_freezing(), torch.inference_mode():
        for image, params in progress(examples, desc="torch.compile", unit="batch size"):
            if image.shape[0] > 1:  # a size-1 dimension is always specialised; mark the others
                torch._dynamo.maybe_mark_dynamic(image, 0)
                torch._dynamo.maybe_mark_dynamic(params, 0)
            compiled(image, params)
    after = dynamo_counts()
    stats = {
        "compile_time_s": time.perf_counter() - start,
        "graphs_compiled": after["graphs"] - before["graphs"],
        "graph_breaks": after["graph_breaks"] - before["graph_breaks"],
    }
    return FrozenCompiled(model, compiled), stats
