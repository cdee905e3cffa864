"""The training preprocessing in numpy: uint8 HxWx3 RGB -> float32 (3, S, S) ImageNet-normalised.

The same steps as ``qpbench.workload.preprocess`` (torch): divide by 255,
HWC -> CHW, bilinear resize to S x S with ``align_corners=False`` and no
antialiasing (``torch.nn.functional.interpolate``'s default), then subtract the
ImageNet mean and divide by its standard deviation. Equal to the torch version
within 1e-4 in normalised units (tests/test_deploy_preprocess.py; about 1e-6
when shrinking, up to 6e-5 when enlarging a 7-pixel side to 224, where torch's
channels-last kernel rounds differently), against 0.017 for one uint8 step.
numpy only: copied into packages.
"""

from __future__ import annotations

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _source_index(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows (or columns) to blend and the weight of the second, as torch computes them
    for align_corners=False: src = (dst + 0.5) * in/out - 0.5, clamped at 0."""
    scale = np.float32(in_size / out_size)
    src = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    src = np.maximum(src, np.float32(0.0))
    i0 = np.floor(src).astype(np.int64)
    i0 = np.minimum(i0, in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    return i0, i1, (src - i0).astype(np.float32)


def resize_bilinear(chw: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a float32 (C, H, W) array to (C, size, size), align_corners=False."""
    _, h, w = chw.shape
    if h == size and w == size:
        return chw
    y0, y1, wy = _source_index(size, h)
    x0, x1, wx = _source_index(size, w)
    rows = chw[:, y0, :] * (1 - wy)[None, :, None] + chw[:, y1, :] * wy[None, :, None]
    return rows[:, :, x0] * (1 - wx)[None, None, :] + rows[:, :, x1] * wx[None, None, :]


def _resize_uint8(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a uint8 (H, W, 3) image to float32 (size, size, 3) in [0, 1].

    The four source pixels of every output pixel are gathered while still uint8, so
    no float copy of the full image is ever made (a 20000 x 20000 image would need
    4.8 GB of float32). The arithmetic is that of ``resize_bilinear`` on the
    divided-by-255 image, element for element, so the result is the same bits.
    """
    h, w, _ = image.shape
    y0, y1, wy = _source_index(size, h)
    x0, x1, wx = _source_index(size, w)

    def corner(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return image[ys[:, None], xs[None, :]].astype(np.float32) / np.float32(255.0)

    wy, wx = wy[:, None, None], wx[None, :, None]
    left = corner(y0, x0) * (1 - wy) + corner(y1, x0) * wy
    right = corner(y0, x1) * (1 - wy) + corner(y1, x1) * wy
    return left * (1 - wx) + right * wx


def preprocess_image(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 (H, W, 3) RGB -> float32 (3, size, size), ImageNet-normalised. The caller checks the input
    (the wrapper bounds its size)."""
    h, w, _ = image.shape
    if h == size and w == size:
        hwc = image.astype(np.float32) / np.float32(255.0)
    else:
        hwc = _resize_uint8(image, size)
    mean = np.asarray(IMAGENET_MEAN, dtype=np.float32)
    std = np.asarray(IMAGENET_STD, dtype=np.float32)
    return np.ascontiguousarray(((hwc - mean) / std).transpose(2, 0, 1), dtype=np.float32)
