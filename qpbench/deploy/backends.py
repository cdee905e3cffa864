"""Artifact loaders, keyed by the artifact's format name.

A backend loads one artifact file and runs it:

    backend = BACKENDS[fmt].load(path, threads, **options)
    backend.run(images_nchw_float32, params_float32) -> float32 (N,) numpy array

``BACKENDS`` is the extension point: a new artifact format (ONNX Runtime,
OpenVINO, ...) is one class with ``load``/``run`` registered under its format
name with ``register_backend``. ``options`` come from the package's
``deployment_config.json`` (``artifact.options``). Each backend imports its runtime (torch,
onnxruntime, ...) inside ``load``, never at module level: this module is copied
into deployment packages and imports only the standard library and numpy, so a
package whose backend needs no torch runs without torch.

``thread_safe`` says whether ``run`` may be called from several threads at
once; the wrapper serialises calls to a backend that is not.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


class Backend:
    """Base class: subclasses set ``format`` and ``requires`` and implement ``load`` and ``run``."""

    format: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()  # Python packages the runtime needs
    thread_safe: ClassVar[bool] = True

    @classmethod
    def load(cls, path: Path, threads: int | None = None, **options: Any) -> "Backend":
        raise NotImplementedError

    def run(self, images: np.ndarray, params: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _set_torch_threads(torch: Any, threads: int | None) -> None:
    # Process-wide: a deployment process serves one model.
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        torch.set_num_threads(int(threads))


class TorchBackend(Backend):
    """A torch runnable ``(image, params) -> tensor``, called under ``inference_mode``."""

    requires = ("torch",)

    def __init__(self, module: Any, torch: Any) -> None:
        self._module = module
        self._torch = torch

    def run(self, images: np.ndarray, params: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = self._module(torch.from_numpy(images), torch.from_numpy(params))
        return out.detach().float().reshape(-1).numpy().copy()


class TorchScriptBackend(TorchBackend):
    """A frozen TorchScript module saved with ``torch.jit.save`` (``.pt``).

    Option ``optimize_for_inference=True`` applies ``torch.jit.optimize_for_inference``
    after loading, as the torchscript variant does (its output cannot be saved
    and loaded back, so it is applied again on every load); the fx-int8 variant
    runs the loaded module as is.
    """

    format = "torchscript"

    @classmethod
    def load(cls, path: Path, threads: int | None = None, optimize_for_inference: bool = False,
             **options: Any) -> "TorchScriptBackend":
        import torch

        if options:
            raise ValueError(f"unknown torchscript backend option(s) {sorted(options)}")
        _set_torch_threads(torch, threads)
        module = torch.jit.load(str(path), map_location="cpu")
        if optimize_for_inference:
            module = torch.jit.optimize_for_inference(module)
        return cls(module, torch)


class AOTInductorBackend(TorchBackend):
    """An AOTInductor package (``.pt2``) loaded with ``torch._inductor.aoti_load_package``."""

    format = "aoti"

    @classmethod
    def load(cls, path: Path, threads: int | None = None, **options: Any) -> "AOTInductorBackend":
        import torch
        import torch._inductor

        if options:
            raise ValueError(f"unknown aoti backend option(s) {sorted(options)}")
        _set_torch_threads(torch, threads)
        return cls(torch._inductor.aoti_load_package(str(path)), torch)


BACKENDS: dict[str, type[Backend]] = {}


def register_backend(cls: type[Backend]) -> type[Backend]:
    """Add a backend under ``cls.format``; a format registered twice is an error."""
    if not cls.format:
        raise ValueError(f"backend {cls.__name__} has no format name")
    if cls.format in BACKENDS and BACKENDS[cls.format] is not cls:
        raise ValueError(f"artifact format {cls.format!r} already has a backend: {BACKENDS[cls.format].__name__}")
    BACKENDS[cls.format] = cls
    return cls


for _cls in (TorchScriptBackend, AOTInductorBackend):
    register_backend(_cls)


def backend_for(fmt: str) -> type[Backend]:
    try:
        return BACKENDS[fmt]
    except KeyError:
        raise ValueError(f"no backend for artifact format {fmt!r}: known formats {sorted(BACKENDS)}") from None


def detect_format(path: Path) -> str:
    """The format of an artifact file, from its content: 'aoti' or 'torchscript'.

    A TorchScript archive holds a ``code/`` folder; ``torch.save`` of a state_dict
    does not, and is not a program a deployment can run without the model's source.
    """
    path = Path(path)
    if path.suffix == ".pt2":
        return "aoti"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if any("/code/" in name for name in archive.namelist()):
                return "torchscript"
    raise ValueError(
        f"{path} is not a runnable program (TorchScript archive or AOTInductor .pt2); "
        "a state_dict needs the model's source code and cannot be packaged on its own")
