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

import abc
import importlib
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .cpu_quota import quota_threads


class Backend(abc.ABC):
    """Base class: subclasses set ``format`` and ``requires`` and implement ``load`` and ``run``."""

    format: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()  # Python packages the runtime needs
    thread_safe: ClassVar[bool] = True

    @classmethod
    def load(cls, path: Path, threads: int | None = None, **options: Any) -> "Backend":
        """Load the artifact at ``path`` with ``threads`` intra-op threads (None: the runtime's default,
        capped by a container's CPU quota: ``cpu_quota.quota_threads``).

        Every registered format overrides it; a backend built around an in-memory model
        (the wrapper's tests, an embedding application) has no file to load.
        """
        raise TypeError(f"{cls.__name__} serves an in-memory model and cannot load an artifact file ({path})")

    @abc.abstractmethod
    def run(self, images: np.ndarray, params: np.ndarray) -> np.ndarray:
        """float32 (N, 3, S, S) preprocessed images and (N, n_params) parameters -> float32 (N,) predictions."""


def _set_torch_threads(torch: Any, threads: int | None) -> None:
    # Process-wide: a deployment process serves one model.
    if threads is None:
        # torch sizes its pool from the cores it sees, not from a container's CPU quota: cap it
        # there, keeping a smaller count the user chose (OMP_NUM_THREADS).
        cap = quota_threads()
        if cap is not None and torch.get_num_threads() > cap:
            torch.set_num_threads(cap)
        return
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


# Variant.meta["runtime"] values served without torch -> the backend format that serves them
TORCH_FREE = {"onnxruntime": "onnx", "openvino": "openvino"}


def runtime_version(module: str) -> str | None:
    """The installed version of a runtime package, or None when it cannot be imported."""
    try:
        return str(importlib.import_module(module).__version__)
    except Exception:
        return None


INPUT_NAMES = ("image", "params")  # the exported graphs' input names (ONNX, OpenVINO IR)
OUTPUT_NAME = "ssim"


def require(module: str, extra: str) -> Any:
    """Import a runtime package, or raise ImportError naming what installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except Exception as exc:  # ImportError, or a broken install failing on import
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise ImportError(f"{module} is not available ({type(exc).__name__}: {detail}): "
                          f"pip install 'qpbench[{extra}]' (or pip install {module})") from exc


def _check_threads(threads: int | None) -> int | None:
    """``threads`` checked; None becomes the CPU quota's count where a container's quota is below the
    cores this process sees (the runtimes' own defaults count cores and would be throttled), else stays None."""
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return quota_threads() if threads is None else threads


class OnnxRuntimeBackend(Backend):
    """An ``.onnx`` model in an ONNX Runtime CPU session: all graph optimizations, sequential
    execution, ``threads`` intra-op threads (None: ONNX Runtime's default, or the CPU quota's count). No torch."""

    format = "onnx"
    requires = ("onnxruntime",)
    thread_safe = True  # InferenceSession.run may be called concurrently

    def __init__(self, session: Any, path: Path, threads: int | None) -> None:
        self.session = session
        self.path = path
        self.threads = threads

    @classmethod
    def load(cls, path: Path, threads: int | None = None, **options: Any) -> "OnnxRuntimeBackend":
        ort = require("onnxruntime", "onnx")
        if options:
            raise ValueError(f"unknown onnx backend option(s) {sorted(options)}")
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model {path} does not exist")
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.inter_op_num_threads = 1
        intra = _check_threads(threads)
        if intra is not None:
            so.intra_op_num_threads = int(intra)
        session = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
        names = tuple(i.name for i in session.get_inputs())
        if names != INPUT_NAMES:
            raise ValueError(f"ONNX model {path} has inputs {names}, expected {INPUT_NAMES}")
        return cls(session, path, threads)

    @property
    def intra_op_threads(self) -> int:
        return int(self.session.get_session_options().intra_op_num_threads)

    def run(self, images: np.ndarray, params: np.ndarray) -> np.ndarray:
        # ascontiguousarray returns a float32 C-contiguous input itself: no copy on the timed path.
        (out,) = self.session.run(None, {"image": np.ascontiguousarray(images, dtype=np.float32),
                                         "params": np.ascontiguousarray(params, dtype=np.float32)})
        return out.reshape(-1) if out.dtype == np.float32 else out.astype(np.float32).reshape(-1)


class OpenVINOBackend(Backend):
    """An OpenVINO IR (``.xml`` beside its ``.bin``) compiled for CPU. No torch.

    Option ``hint``: ``"LATENCY"`` (default) runs one request on all its threads;
    ``"THROUGHPUT"`` splits the CPU into streams, and a batch is served as
    single-sample requests spread over an async queue of OpenVINO's optimal size.
    Option ``precision``: ``"f32"`` (default) or ``"bf16"``, the inference precision.
    One infer request per calling thread, so calls from several threads are safe.
    """

    format = "openvino"
    requires = ("openvino",)
    thread_safe = True
    HINTS = ("LATENCY", "THROUGHPUT")
    # f32 by default: OpenVINO would pick bf16 on CPUs that have it, and emulates it on CPUs
    # that do not (measured: an Ice Lake Xeon without avx512_bf16 ran jit_avx512_bf16 kernels).
    PRECISIONS = ("f32", "bf16")

    def __init__(self, compiled: Any, path: Path, threads: int | None, hint: str, ov: Any) -> None:
        import threading

        self.compiled = compiled
        self.path = path
        self.threads = threads
        self.hint = hint
        self._local = threading.local()
        self._queue_lock = threading.Lock()
        self._ov = ov
        self._queue = ov.AsyncInferQueue(compiled, self.optimal_requests) if hint == "THROUGHPUT" else None

    @classmethod
    def load(cls, path: Path, threads: int | None = None, hint: str = "LATENCY", precision: str = "f32",
             **options: Any) -> "OpenVINOBackend":
        ov = require("openvino", "openvino")
        if options:
            raise ValueError(f"unknown openvino backend option(s) {sorted(options)}")
        if hint not in cls.HINTS:
            raise ValueError(f"unknown OpenVINO performance hint {hint!r}: choose from {cls.HINTS}")
        if precision not in cls.PRECISIONS:
            raise ValueError(f"unknown OpenVINO inference precision {precision!r}: choose from {cls.PRECISIONS}")
        path = Path(path)
        if not path.is_file() or not path.with_suffix(".bin").is_file():
            raise FileNotFoundError(f"OpenVINO IR {path} (and its .bin) does not exist")
        config: dict[str, Any] = {"PERFORMANCE_HINT": hint, "INFERENCE_PRECISION_HINT": precision}
        inference = _check_threads(threads)
        if inference is not None:
            config["INFERENCE_NUM_THREADS"] = int(inference)
        return cls(ov.Core().compile_model(str(path), "CPU", config), path, threads, hint, ov)

    @property
    def inference_threads(self) -> int:
        return int(self.compiled.get_property("INFERENCE_NUM_THREADS"))

    @property
    def precision(self) -> str:
        value = self.compiled.get_property("INFERENCE_PRECISION_HINT")  # an openvino Type, e.g. f32
        return str(value.get_type_name()) if hasattr(value, "get_type_name") else str(value)

    @property
    def streams(self) -> int:
        return int(self.compiled.get_property("NUM_STREAMS"))

    @property
    def optimal_requests(self) -> int:
        return int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))

    def _request(self) -> Any:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
            self._local.bound = ()
        return request

    @staticmethod
    def _key(array: np.ndarray) -> tuple[int, tuple[int, ...]]:
        return array.__array_interface__["data"][0], array.shape

    def _bind(self, request: Any, images: np.ndarray, params: np.ndarray) -> None:
        """Point the request's inputs at the arrays' memory (no copy). ``request.infer(inputs)``
        converts and copies them on every call instead: 0.3 ms a call measured on a 0.25 ms
        model, against benchmark_app, which sets its inputs once. The arrays bound last are
        kept alive here, so arrays at the same address with the same shape are the same memory
        (a caller refilling its buffer in place), and the binding stands."""
        key = (self._key(images), self._key(params))
        bound = self._local.bound
        if bound and bound[0] == key:
            return
        request.set_input_tensor(0, self._ov.Tensor(images, shared_memory=True))
        request.set_input_tensor(1, self._ov.Tensor(params, shared_memory=True))
        self._local.bound = (key, images, params)

    def run(self, images: np.ndarray, params: np.ndarray) -> np.ndarray:
        images = np.ascontiguousarray(images, dtype=np.float32)
        params = np.ascontiguousarray(params, dtype=np.float32)
        if self._queue is None or images.shape[0] == 1:
            request = self._request()
            self._bind(request, images, params)
            request.infer()
            # The output tensor is the request's own memory, overwritten by its next call: copy.
            return np.array(request.get_output_tensor(0).data, dtype=np.float32).reshape(-1)
        with self._queue_lock:
            results = np.empty(images.shape[0], dtype=np.float32)

            def done(request: Any, index: int) -> None:
                results[index] = float(np.asarray(request.get_output_tensor(0).data).reshape(-1)[0])

            self._queue.set_callback(done)
            for i in range(images.shape[0]):
                self._queue.start_async([images[i : i + 1], params[i : i + 1]], i)
            self._queue.wait_all()
            return results


BACKENDS: dict[str, type[Backend]] = {}


def register_backend(cls: type[Backend]) -> type[Backend]:
    """Add a backend under ``cls.format``; a format registered twice is an error."""
    if not cls.format:
        raise ValueError(f"backend {cls.__name__} has no format name")
    if cls.format in BACKENDS and BACKENDS[cls.format] is not cls:
        raise ValueError(f"artifact format {cls.format!r} already has a backend: {BACKENDS[cls.format].__name__}")
    BACKENDS[cls.format] = cls
    return cls


for _cls in (TorchScriptBackend, AOTInductorBackend, OnnxRuntimeBackend, OpenVINOBackend):
    register_backend(_cls)


def backend_for(fmt: str) -> type[Backend]:
    try:
        return BACKENDS[fmt]
    except KeyError:
        raise ValueError(f"no backend for artifact format {fmt!r}: known formats {sorted(BACKENDS)}") from None


def detect_format(path: Path) -> str:
    """The format of an artifact file: 'aoti', 'onnx', 'openvino' (by suffix) or 'torchscript' (by content).

    A TorchScript archive holds a ``code/`` folder; ``torch.save`` of a state_dict
    does not, and is not a program a deployment can run without the model's source.
    """
    path = Path(path)
    if path.suffix == ".pt2":
        return "aoti"
    if path.suffix == ".onnx":
        return "onnx"
    if path.suffix == ".xml" and path.with_suffix(".bin").is_file():
        return "openvino"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if any("/code/" in name for name in archive.namelist()):
                return "torchscript"
    raise ValueError(
        f"{path} is not a runnable program (TorchScript archive, AOTInductor .pt2, .onnx or OpenVINO IR); "
        "a state_dict needs the model's source code and cannot be packaged on its own")
