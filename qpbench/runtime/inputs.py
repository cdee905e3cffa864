"""What the wrapper accepts, checked before any work: the model's ``ModelSpec``, images (raw
uint8 RGB of any size, preprocessed here, or preprocessed float32 arrays or tensors) and
parameters (the model's vector, or a dict of raw vtracer parameters encoded as the training
data was). Bad input raises ValueError or TypeError naming the problem; nothing is clamped.

Standard library and numpy only at module level: copied into every package.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .preprocess import preprocess_image

from . import params as vtracer_params

VTRACER_ENCODING = "vtracer-13"  # params.py: 13 slots, each in [0, 1]
RAW_DTYPES = (np.uint8,)
TENSOR_DTYPES = (np.float32, np.float64)
DEFAULT_MAX_PIXELS = 4096 * 4096  # a raw image's H x W; a 12 MP photo fits, a 20000 x 20000 one does not


@dataclass(frozen=True)
class ModelSpec:
    """What the wrapper must know about the model behind the backend."""

    input_size: int  # S: preprocessed images are (3, S, S)
    n_params: int  # length of the parameter vector
    param_encoding: str | None = VTRACER_ENCODING  # how a dict of raw parameters becomes the vector
    latency_target_ms: float | None = None  # per-image latency target (batch-1 p95 target of the run)
    max_pixels: int = DEFAULT_MAX_PIXELS  # the largest raw image (H x W) accepted
    memory_target_mb: float | None = None  # the process's RSS target (peak RSS target of the run), MiB

    def __post_init__(self) -> None:
        if self.input_size < 1 or self.n_params < 1:
            raise ValueError(f"input_size and n_params must be >= 1, got {self.input_size}, {self.n_params}")
        if not isinstance(self.max_pixels, int) or self.max_pixels < 1:
            raise ValueError(f"max_pixels must be a whole number >= 1, got {self.max_pixels!r}")
        if self.param_encoding not in (None, VTRACER_ENCODING):
            raise ValueError(f"unknown parameter encoding {self.param_encoding!r}: known {VTRACER_ENCODING!r}")
        if self.param_encoding == VTRACER_ENCODING and self.n_params != len(vtracer_params.PARAM_NAMES):
            raise ValueError(f"encoding {VTRACER_ENCODING!r} makes {len(vtracer_params.PARAM_NAMES)} values, "
                             f"the model takes {self.n_params}")


def as_numpy(x: Any) -> Any:
    """A torch tensor as a numpy array (without importing torch); anything else unchanged."""
    if type(x).__module__.split(".")[0] == "torch" and hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return x


def source_size(image: np.ndarray) -> int:
    """The side the raw-parameter ranges are scaled for, as the data pipeline computes it."""
    return round(math.sqrt(image.shape[0] * image.shape[1]))


def one_image(image: Any, spec: ModelSpec, what: str) -> tuple[np.ndarray, int | None]:
    """(preprocessed float32 (3, S, S), the raw image's source size or None)."""
    image = as_numpy(image)
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{what} must be a numpy array or torch tensor, got {type(image).__name__}")
    s = spec.input_size
    if image.dtype in RAW_DTYPES:
        if image.ndim != 3:
            raise ValueError(f"{what}: a raw image must have 3 dimensions (H, W, 3), got {image.ndim} "
                             f"with shape {tuple(image.shape)}" + (" (use predict_batch for a batch)" if image.ndim == 4 else ""))
        if image.shape[2] != 3:
            raise ValueError(f"{what}: a raw image needs 3 channels (RGB) in the last dimension, "
                             f"got shape {tuple(image.shape)}")
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise ValueError(f"{what}: image has no pixels, shape {tuple(image.shape)}")
        pixels = int(image.shape[0]) * int(image.shape[1])
        if pixels > spec.max_pixels:
            raise ValueError(f"{what}: a {image.shape[0]} x {image.shape[1]} image has {pixels} pixels, over "
                             f"the limit of {spec.max_pixels}; downscale it first (the model sees "
                             f"{s} x {s}) or raise max_pixels")
        return preprocess_image(image, s), source_size(image)
    if image.dtype in TENSOR_DTYPES:
        if image.ndim != 3:
            raise ValueError(f"{what}: a preprocessed image must have 3 dimensions (3, {s}, {s}), got "
                             f"{image.ndim} with shape {tuple(image.shape)}")
        if tuple(image.shape) != (3, s, s):
            raise ValueError(f"{what}: a preprocessed image must have shape (3, {s}, {s}), got "
                             f"{tuple(image.shape)}; a raw RGB image must be uint8 (H, W, 3)")
        if not np.isfinite(image).all():
            raise ValueError(f"{what}: preprocessed image holds {int((~np.isfinite(image)).sum())} NaN or inf value(s)")
        return np.ascontiguousarray(image, dtype=np.float32), None
    raise TypeError(f"{what}: dtype {image.dtype} is not accepted: uint8 for a raw RGB image (H, W, 3), "
                    f"float32 for a preprocessed image (3, {s}, {s})")


def image_batch(images: Any, spec: ModelSpec) -> tuple[list[np.ndarray], list[int | None]]:
    images = as_numpy(images)
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise ValueError(f"images: a batch array must have 4 dimensions (N, H, W, 3) uint8 or "
                             f"(N, 3, S, S) float32, got {images.ndim} with shape {tuple(images.shape)}")
        items: Sequence[Any] = list(images)
    elif isinstance(images, (list, tuple)):
        items = images
    else:
        raise TypeError(f"images must be a sequence of images or a 4-D array, got {type(images).__name__}")
    if len(items) == 0:
        raise ValueError("images: empty batch: give at least one image")
    done = [one_image(item, spec, f"images[{i}]") for i, item in enumerate(items)]
    return [x for x, _ in done], [size for _, size in done]


def one_params(params: Any, spec: ModelSpec, size: int | None, what: str) -> np.ndarray:
    if isinstance(params, Mapping):
        if spec.param_encoding != VTRACER_ENCODING:
            raise TypeError(f"{what}: this model takes a parameter vector of {spec.n_params} values, "
                            "not a dict (its package names no parameter encoding)")
        if size is None:
            raise ValueError(f"{what}: a dict of raw parameters with a preprocessed image needs the original "
                             "image's side (source_size=...): filter_speckle's range depends on it")
        try:
            return vtracer_params.params_to_vector(params, size)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None
    params = as_numpy(params)
    if isinstance(params, (str, bytes)) or not isinstance(params, (np.ndarray, list, tuple)):
        raise TypeError(f"{what} must be a vector of {spec.n_params} numbers or a dict of vtracer "
                        f"parameters, got {type(params).__name__}")
    vec = np.asarray(params)
    if vec.dtype.kind not in "iuf":
        raise TypeError(f"{what}: the parameter vector must be numeric, got dtype {vec.dtype}")
    if vec.ndim != 1:
        raise ValueError(f"{what}: the parameter vector must have 1 dimension, got shape {tuple(vec.shape)}")
    if vec.shape[0] != spec.n_params:
        raise ValueError(f"{what}: expected {spec.n_params} parameter values, got {vec.shape[0]}")
    vec = vec.astype(np.float32)
    if not np.isfinite(vec).all():
        raise ValueError(f"{what}: parameter vector holds NaN or inf at slot(s) {np.flatnonzero(~np.isfinite(vec)).tolist()}")
    if spec.param_encoding == VTRACER_ENCODING and (vec.min() < 0.0 or vec.max() > 1.0):
        bad = np.flatnonzero((vec < 0.0) | (vec > 1.0))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{what}: parameter slot {i} ({vtracer_params.PARAM_NAMES[i]!r}) = {vec[i]:g} is out of "
                             "range [0, 1]; every slot of the vtracer encoding lies in [0, 1]")
    return vec


def params_batch(params: Any, spec: ModelSpec, n: int, sizes: list[int | None],
                 given_sizes: Sequence[int] | None) -> np.ndarray:
    params = as_numpy(params)
    if isinstance(params, np.ndarray):
        if params.ndim != 2:
            raise ValueError(f"params: a batch array must have 2 dimensions (N, {spec.n_params}), "
                             f"got shape {tuple(params.shape)}")
        items: Sequence[Any] = list(params)
    elif isinstance(params, (list, tuple)):
        items = params
    else:
        raise TypeError(f"params must be a sequence of vectors or dicts, or an (N, {spec.n_params}) array, "
                        f"got {type(params).__name__}")
    if len(items) == 0:
        raise ValueError("params: empty batch: give one parameter set per image")
    if len(items) != n:
        raise ValueError(f"mismatched batch lengths: {n} image(s), {len(items)} parameter set(s)")
    if given_sizes is not None and len(given_sizes) != n:
        raise ValueError(f"mismatched batch lengths: {n} image(s), {len(given_sizes)} source size(s)")
    return np.stack([
        one_params(p, spec, sizes[i] if sizes[i] is not None else (given_sizes[i] if given_sizes else None),
                   f"params[{i}]")
        for i, p in enumerate(items)
    ])
