"""torch.export (strict, dynamic batch) -> AOTInductor ``.pt2`` package compiled with freezing.

The ``.pt2`` is the deployable artifact: a zip with the compiled shared
library and the frozen weights, loaded with ``torch._inductor.aoti_load_package``
without compiling again. Traps (CPU_PATHS.md):

- Non-strict export of torchvision's ResNet fails for PT2E quantization
  (each Bottleneck reuses one ``self.relu``): export strictly.
- An exported program is locked to the example batch size unless
  ``dynamic_shapes`` marks the batch dimension. An example batch of 1 would
  specialise it (0/1 specialisation), so ``export_model`` exports with 2 rows.
  One package then serves every batch size (no guard split as with torch.compile).
- Inductor needs ``freezing=True`` to fold weights (1.05x without, 1.3x with),
  AND grad disabled while it compiles: ``aoti_compile_and_package`` called with
  grad on ignores the flag without a word (``package_aoti`` compiles under
  ``torch.no_grad()``; ``meta["aoti_ops"]`` shows oneDNN calls when it worked).
- The fused C++ kernels keep the thread count they were compiled with
  (``torch._inductor.config.cpp.threads`` < 1 means ``torch.get_num_threads()``
  at compile time); oneDNN convolutions follow the runtime setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from qpbench.errors import VariantUnavailable
from qpbench.progress import progress
from qpbench.optimize.compile import first_line, inductor_freezing

Batch = tuple[torch.Tensor, torch.Tensor]
MAX_BATCH = 65536


def _two_rows(example: Batch) -> Batch:
    """The example with at least 2 rows: a batch of 1 would be specialised by export."""
    if example[0].shape[0] >= 2:
        return example
    return tuple(torch.cat([t, t]) for t in example)  # type: ignore[return-value]


def export_model(model: nn.Module, example: Batch, dynamic_batch: bool = True, strict: bool = True) -> Any:
    """``torch.export.export`` of ``model`` (in the mode the caller set) on ``example`` (image, params).

    With ``dynamic_batch`` dimension 0 of both inputs is a symbol in [1, 65536].
    Raises VariantUnavailable naming the reason when the model cannot be exported
    (graph breaks, data-dependent control flow, a batch size baked into the code).
    """
    example = _two_rows(example) if dynamic_batch else example
    dynamic_shapes = None
    if dynamic_batch:
        batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
        dynamic_shapes = ({0: batch}, {0: batch})
    try:
        return torch.export.export(model, tuple(example), dynamic_shapes=dynamic_shapes, strict=strict)
    except Exception as exc:
        mode = "strict" if strict else "non-strict"
        raise VariantUnavailable(f"torch.export ({mode}) cannot export the model: {first_line(exc)}") from exc


def package_aoti(exported: Any, path: str | Path) -> Path:
    """AOTInductor-compile an ExportedProgram with freezing into the ``.pt2`` at ``path``.

    Compiles under ``torch.no_grad()``: Inductor freezes only when grad is off
    (``config.freezing and not torch.is_grad_enabled()``); with grad on the flag
    is silently ignored and the package runs plain ``aten`` convolutions, no
    faster than eager. The freezing flag is restored afterwards, also on error.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with inductor_freezing(), torch.no_grad(), progress(desc="AOTInductor compile", total=1, unit="package") as bar:
        packaged = Path(torch._inductor.aoti_compile_and_package(exported, package_path=str(path)))
        bar.update()
        return packaged


def aoti_ops(path: str | Path) -> dict[str, int]:
    """Calls to ATen/oneDNN kernels in a ``.pt2``'s generated wrapper, by name.

    A frozen CPU package calls ``mkldnn__convolution_pointwise`` (prepacked
    weights, fused activation); ``convolution`` means freezing did not apply.
    """
    import re
    import zipfile

    counts: dict[str, int] = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith("wrapper.cpp"):
                for op in re.findall(r"aoti_torch_cpu_(\w+?)\(", archive.read(name).decode(errors="replace")):
                    counts[op] = counts.get(op, 0) + 1
    return dict(sorted(counts.items()))


def load_aoti(path: str | Path) -> Any:
    """The runnable in a ``.pt2`` package: callable ``(image, params) -> tensor``."""
    return torch._inductor.aoti_load_package(str(path))
