"""Labelled evaluation sets: loading, validation, deterministic subsets.

File format (.npz), the same as the data pipeline writes:
  images     uint8 (n_images, H, W, 3)   RGB
  img_idx    int   (n_samples,)          which image each sample uses
  params_vec float (n_samples, K)        the model's parameter input
  ssim       float (n_samples,)          the label: SSIM, in [-1, 1] (almost always [0, 1])
Optional: p_colormode (str, n_samples,) lets accuracy be reported per colour mode.

A file is checked before its arrays are read: their decompressed size, from
the .npy headers inside the zip, must stay within ``DATASET.max_mb`` (a few
kilobytes of compressed zeros can claim gigabytes). A 13-slot ``params_vec``
is the vtracer encoding, each slot in [0, 1], as a deployment package's
wrapper requires: a value outside is refused here, at load.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from qpbench.errors import WorkloadError
from qpbench.runtime.params import PARAM_NAMES


@dataclass(frozen=True)
class DatasetLimits:
    """Loading a labelled .npz: the arrays' size once decompressed, read from their headers first."""

    max_mb: float = 4096.0  # the shipped held-out split is 57 MiB; a compressed file can claim far more


DATASET = DatasetLimits()

REQUIRED_KEYS = ("images", "img_idx", "params_vec", "ssim")
OPTIONAL_KEYS = ("p_colormode",)
SHIPPED_EVAL_NAME = "vtracer_ssim_128_s0_heldout.npz"


def shipped_eval_path() -> Path:
    """The held-out split shipped with qpbench (see eval/PROVENANCE.md)."""
    return Path(str(resources.files("qpbench.data") / "eval" / SHIPPED_EVAL_NAME))


@dataclass(frozen=True)
class LabelledSet:
    images: np.ndarray  # uint8 (n_images, H, W, 3)
    img_idx: np.ndarray  # int64 (n_samples,)
    params: np.ndarray  # float32 (n_samples, K)
    ssim: np.ndarray  # float32 (n_samples,)
    source: str
    groups: np.ndarray | None = None  # str (n_samples,), e.g. vtracer colormode

    @property
    def n_samples(self) -> int:
        return int(self.ssim.shape[0])

    @property
    def n_images(self) -> int:
        return int(self.images.shape[0])

    @property
    def n_params(self) -> int:
        return int(self.params.shape[1])

    def first_images(self, n_images: int | None) -> "LabelledSet":
        """The samples of the first ``n_images`` images (all when None): deterministic."""
        if n_images is None or n_images >= self.n_images:
            return self
        keep = self.img_idx < n_images
        return LabelledSet(
            images=self.images[:n_images],
            img_idx=self.img_idx[keep],
            params=self.params[keep],
            ssim=self.ssim[keep],
            source=f"{self.source} (first {n_images} images)",
            groups=None if self.groups is None else self.groups[keep],
        )

    def samples(self, ids: np.ndarray, note: str | None = None) -> "LabelledSet":
        """The given samples, in the given order (the images kept whole: samples point into them);
        ``note`` says in the source which they are."""
        return LabelledSet(
            images=self.images,
            img_idx=self.img_idx[ids],
            params=self.params[ids],
            ssim=self.ssim[ids],
            source=f"{self.source} ({note})" if note else self.source,
            groups=None if self.groups is None else self.groups[ids],
        )


def _npy_header(fh: Any) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the header of an .npy stream, reading nothing past it."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    return tuple(shape), dtype


def npz_array_bytes(path: Path, keys: Sequence[str]) -> dict[str, int]:
    """The decompressed size of each of ``keys`` present in the .npz, from the headers alone."""
    sizes: dict[str, int] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            key = info.filename.removesuffix(".npy")
            if key in keys:
                with zf.open(info) as fh:
                    shape, dtype = _npy_header(fh)
                sizes[key] = math.prod(shape) * dtype.itemsize
    return sizes


def check_size(path: Path, max_mb: float) -> None:
    """Refuse a file whose arrays would decompress beyond ``max_mb`` MiB, before reading any."""
    sizes = npz_array_bytes(path, REQUIRED_KEYS + OPTIONAL_KEYS)
    total = sum(sizes.values())
    if total > max_mb * 2**20:
        largest = max(sizes, key=sizes.__getitem__)
        raise WorkloadError(f"dataset {path}: its arrays would take {total / 2**20:.0f} MiB once decompressed "
                            f"('{largest}' alone {sizes[largest] / 2**20:.0f} MiB), over the limit of "
                            f"{max_mb:g} MiB; load a subset")


def load_labelled(path: str | Path, max_mb: float = DATASET.max_mb) -> LabelledSet:
    """Load and validate a labelled .npz; raise WorkloadError naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise WorkloadError(f"dataset {path} does not exist: pass an .npz made by `qpbench make-data`")
    try:
        check_size(path, max_mb)
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in REQUIRED_KEYS if k not in npz.files]
            if missing:
                raise WorkloadError(
                    f"dataset {path} lacks the arrays {missing}: it needs {list(REQUIRED_KEYS)}"
                )
            arrays = {k: npz[k] for k in REQUIRED_KEYS}
            groups = npz["p_colormode"] if "p_colormode" in npz.files else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise WorkloadError(f"dataset {path} is not a readable .npz file ({exc})") from exc
    labelled = LabelledSet(
        images=arrays["images"],
        img_idx=arrays["img_idx"].astype(np.int64),
        params=arrays["params_vec"].astype(np.float32),
        ssim=arrays["ssim"].astype(np.float32),
        source=str(path),
        groups=None if groups is None else groups.astype(str),
    )
    validate(labelled)
    return labelled


def validate(data: LabelledSet) -> None:
    """Check shapes, dtypes and value ranges; the message names the array and the fix."""
    where = f"dataset {data.source}"
    img = data.images
    if img.dtype != np.uint8 or img.ndim != 4 or img.shape[-1] != 3:
        raise WorkloadError(
            f"{where}: 'images' must be uint8 (n, H, W, 3) RGB, got {img.dtype} {tuple(img.shape)}"
        )
    n = data.ssim.shape[0]
    if data.ssim.ndim != 1 or n == 0:
        raise WorkloadError(f"{where}: 'ssim' must be a non-empty 1-D array, got {tuple(data.ssim.shape)}")
    if data.img_idx.shape != (n,):
        raise WorkloadError(f"{where}: 'img_idx' has shape {tuple(data.img_idx.shape)}, expected ({n},)")
    if data.params.ndim != 2 or data.params.shape[0] != n:
        raise WorkloadError(
            f"{where}: 'params_vec' has shape {tuple(data.params.shape)}, expected ({n}, K)"
        )
    if data.img_idx.min() < 0 or data.img_idx.max() >= img.shape[0]:
        raise WorkloadError(f"{where}: 'img_idx' points outside the {img.shape[0]} images")
    if not np.isfinite(data.params).all():
        bad = int(np.flatnonzero(~np.isfinite(data.params).all(axis=1))[0])
        raise WorkloadError(f"{where}: 'params_vec' holds NaN or inf (first at sample {bad})")
    if data.params.shape[1] == len(PARAM_NAMES) and ((data.params < 0).any() or (data.params > 1).any()):
        sample, slot = (int(i[0]) for i in np.nonzero((data.params < 0) | (data.params > 1)))
        raise WorkloadError(
            f"{where}: 'params_vec' sample {sample} slot {slot} ({PARAM_NAMES[slot]!r}) = "
            f"{data.params[sample, slot]:g} is outside [0, 1]; every slot of the vtracer encoding lies in [0, 1]"
        )
    if not np.isfinite(data.ssim).all():
        bad = int(np.flatnonzero(~np.isfinite(data.ssim))[0])
        raise WorkloadError(f"{where}: label 'ssim' holds NaN or inf (first at sample {bad})")
    # SSIM is defined on [-1, 1]. Real conversions reach slightly below 0
    # (6 of the 4780 shipped held-out samples, down to -0.028), so the check is
    # SSIM's own range, not the model's output range [0, 1].
    if data.ssim.min() < -1.0 or data.ssim.max() > 1.0:
        raise WorkloadError(
            f"{where}: labels 'ssim' must lie in SSIM's range [-1, 1], "
            f"found [{data.ssim.min():.3g}, {data.ssim.max():.3g}]: are they SSIM values?"
        )
    if data.groups is not None and data.groups.shape != (n,):
        raise WorkloadError(f"{where}: 'p_colormode' has shape {tuple(data.groups.shape)}, expected ({n},)")


def save_labelled(data: LabelledSet, path: str | Path) -> Path:
    """Write ``data`` in the .npz format ``load_labelled`` reads (atomically)."""
    import os
    import tempfile

    path = Path(path)
    arrays = {"images": data.images, "img_idx": data.img_idx.astype(np.int32),
              "params_vec": data.params, "ssim": data.ssim}
    if data.groups is not None:
        arrays["p_colormode"] = data.groups
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
