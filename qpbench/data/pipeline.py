"""Labelled data for the quality-prediction model: logo -> vtracer -> resvg -> SSIM.

``make_dataset`` writes an .npz with the same keys as the shipped held-out
split (``qpbench/data/eval/vtracer_ssim_128_s0_heldout.npz``) plus
``meta_json``. Given the same arguments and the same vtracer / resvg-py /
Pillow versions it reproduces the same pixels and labels, whatever the number
of workers: every image and its parameter sets are drawn from generators seeded
by ``(seed, image index)`` only.

The rendering settings (resvg's own white background, skimage SSIM over the
three channels) reproduce the shipped split's ``ssim`` labels to ~1e-7 when
run on its images and parameters.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from qpbench.data.logos import GENERATOR_VERSION, font_info, make_logo, require_data_extra
from qpbench.runtime.params import CHOICES, RAW_PARAM_NAMES, params_to_vectors, sample_params, validate_params


@dataclass(frozen=True)
class MakeDataDefaults:
    """``qpbench make-data``: the shipped compact model was trained on data of this size."""

    images: int = 100
    params_per_image: int = 4  # vtracer parameter sets per image
    seed: int = 0
    size: int = 128  # image side in pixels
    workers: int = 1


MAKE_DATA = MakeDataDefaults()

__all__ = [
    "DATASET_KEYS",
    "LabellingError",
    "convert_to_svg",
    "default_cache_dir",
    "dataset_filename",
    "label",
    "make_dataset",
    "render_svg",
    "ssim_rgb",
]

#: Keys of every dataset file (those of the shipped split, plus meta_json).
DATASET_KEYS: tuple[str, ...] = (
    "images",
    "img_idx",
    "source_img_idx",
    "ssim",
    "params_vec",
    "svg_bytes",
    "size",
    "seed",
    *(f"p_{name}" for name in RAW_PARAM_NAMES),
    "meta_json",
)

# Streams drawn from SeedSequence([seed, image_index, stream]): separate
# streams keep the images unchanged if the parameter sampling ever changes.
_IMAGE_STREAM = 0
_PARAMS_STREAM = 1


class LabellingError(RuntimeError):
    """Converting, rendering or scoring one sample failed (message names it)."""


# ------------------------------------------------------------------ one sample


def _png_bytes(image: np.ndarray) -> bytes:
    image_mod = require_data_extra("PIL.Image")
    buffer = io.BytesIO()
    image_mod.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _check_image(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) RGB image, got {image.dtype} {image.shape}")


def convert_to_svg(image: np.ndarray, params: Mapping[str, Any]) -> str:
    """Trace ``image`` (uint8 HxWx3) with vtracer using raw ``params``.

    The parameters are validated first (for the image's size: filter_speckle's
    range scales with its area), since vtracer silently replaces unknown mode
    strings by its defaults.
    """
    _check_image(image)
    vtracer = require_data_extra("vtracer")
    size = round(float(np.sqrt(image.shape[0] * image.shape[1])))
    clean = validate_params(params, size)
    return str(vtracer.convert_raw_image_to_svg(_png_bytes(image), img_format="png", **clean))


def render_svg(svg: str, size: int) -> np.ndarray:
    """Render ``svg`` to a uint8 (size, size, 3) RGB array on a white background."""
    resvg_py = require_data_extra("resvg_py")
    image_mod = require_data_extra("PIL.Image")
    # resvg composites over white itself; this reproduces the shipped labels
    # exactly, unlike compositing resvg's RGBA output afterwards with Pillow
    # (rounding differs by up to 1e-3 SSIM). The SVGs have no text, so system
    # fonts are not needed (and skipping them keeps renders machine-independent).
    png = resvg_py.svg_to_bytes(
        svg_string=svg, width=size, height=size, background="#ffffff", skip_system_fonts=True
    )
    rendered = image_mod.open(io.BytesIO(bytes(png)))
    rendered.load()
    if rendered.mode != "RGBA":
        rendered = rendered.convert("RGBA")
    # Already opaque; the composite only guards against a resvg that ignored
    # the background option.
    white = image_mod.new("RGBA", rendered.size, (255, 255, 255, 255))
    white.alpha_composite(rendered)
    return np.asarray(white.convert("RGB"), dtype=np.uint8)


def ssim_rgb(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two uint8 RGB images, averaged over channels (step 4 of the dataset recipe)."""
    metrics = require_data_extra("skimage.metrics")
    return float(metrics.structural_similarity(a, b, channel_axis=2, data_range=255))


def label(image: np.ndarray, params: Mapping[str, Any]) -> tuple[float, int]:
    """(SSIM of the traced-and-rendered image vs. the original, SVG size in bytes)."""
    if image.shape[0] != image.shape[1]:
        raise ValueError(f"label needs a square image, got {image.shape}")
    svg = convert_to_svg(image, params)
    rendered = render_svg(svg, image.shape[0])
    return ssim_rgb(image, rendered), len(svg.encode("utf-8"))


# ------------------------------------------------------------------ one image


def _image_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index, _IMAGE_STREAM]).generate_state(1)[0])


def _params_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, index, _PARAMS_STREAM]))


def _make_image_samples(
    task: tuple[int, int, int, int],
) -> tuple[np.ndarray, list[dict[str, Any]], list[float], list[int]]:
    """Image ``index`` and its labelled parameter sets. Runs in pool workers.

    Any failure is re-raised with the global sample index and the parameters
    so a bad combination can be reproduced, never skipped.
    """
    seed, index, params_per_image, size = task
    image = make_logo(_image_seed(seed, index), size)
    rng = _params_rng(seed, index)
    all_params, ssims, svg_lengths = [], [], []
    for k in range(params_per_image):
        params = sample_params(rng, size)
        try:
            ssim, svg_len = label(image, params)
        except ImportError:
            raise
        except Exception as exc:
            sample = index * params_per_image + k
            raise LabellingError(
                f"labelling sample {sample} (image {index}, parameter set {k}, seed {seed}, size {size}) "
                f"failed with params={params}: {type(exc).__name__}: {exc}"
            ) from exc
        all_params.append(params)
        ssims.append(ssim)
        svg_lengths.append(svg_len)
    return image, all_params, ssims, svg_lengths


def _iter_results(
    tasks: list[tuple[int, int, int, int]], workers: int
) -> Iterator[tuple[np.ndarray, list[dict[str, Any]], list[float], list[int]]]:
    """Results in image order, in-process or from a Pool (``imap`` keeps order)."""
    if workers <= 1:
        for task in tasks:
            yield _make_image_samples(task)
        return
    import multiprocessing

    with multiprocessing.Pool(workers) as pool:
        yield from pool.imap(_make_image_samples, tasks, chunksize=4)


# ------------------------------------------------------------------ the file


def default_cache_dir() -> Path:
    """``$QPBENCH_CACHE_DIR`` if set, else ``~/.cache/qpbench/data``."""
    env = os.environ.get("QPBENCH_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "qpbench" / "data"


def dataset_filename(n_images: int, params_per_image: int, seed: int, size: int) -> str:
    """Cache file name: every argument that changes the content, plus the generator version."""
    return f"qp_logos_g{GENERATOR_VERSION}_n{n_images}_p{params_per_image}_s{seed}_{size}px.npz"


def _package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for dist in ("vtracer", "resvg-py", "scikit-image", "Pillow", "numpy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def _meta(n_images: int, params_per_image: int, seed: int, size: int) -> dict[str, Any]:
    # No timestamp or host name: identical arguments give identical files.
    return {
        "generator": "qpbench.data.pipeline",
        "generator_version": GENERATOR_VERSION,
        "n_images": n_images,
        "params_per_image": params_per_image,
        "seed": seed,
        "size": size,
        "font": font_info(),
        "packages": _package_versions(),
        "recipe": "logo -> vtracer.convert_raw_image_to_svg(png) -> resvg_py (white bg) -> "
        "skimage SSIM(channel_axis=2, data_range=255)",
    }


def _param_columns(all_params: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Raw parameter arrays with the shipped file's dtypes (int64/float64/str)."""
    columns: dict[str, np.ndarray] = {}
    for name in RAW_PARAM_NAMES:
        values = [p[name] for p in all_params]
        if name in CHOICES:
            width = max(len(choice) for choice in CHOICES[name])
            columns[f"p_{name}"] = np.asarray(values, dtype=f"<U{width}")
        elif name == "length_threshold":
            columns[f"p_{name}"] = np.asarray(values, dtype=np.float64)
        else:
            columns[f"p_{name}"] = np.asarray(values, dtype=np.int64)
    return columns


def _loads_ok(path: Path) -> bool:
    """True if ``path`` is a complete dataset file: every key present and readable.

    Reading each array checks the zip members' CRCs, so a damaged file is
    regenerated instead of being handed to a training run.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            if not all(key in data.files for key in DATASET_KEYS):
                return False
            for key in DATASET_KEYS:
                _ = data[key]
            return True
    except Exception:  # truncated/corrupt file, wrong format: regenerate it
        return False


def _current_umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask


def _write_atomic(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write to a temp file in the same directory, then rename over ``path``.

    os.replace is atomic within a file system, so readers see either the old
    file or the complete new one, and a killed run leaves no partial ``path``.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates the file 0600; give it the permissions a plain open() would.
        os.chmod(tmp_name, 0o666 & ~_current_umask())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _check_arguments(n_images: int, params_per_image: int, seed: int, size: int, workers: int) -> None:
    if n_images < 1:
        raise ValueError(f"n_images must be >= 1, got {n_images}")
    if params_per_image < 1:
        raise ValueError(f"params_per_image must be >= 1, got {params_per_image}")
    if size < 8:
        raise ValueError(f"size must be >= 8 pixels, got {size}")
    if not 0 <= seed < 2**31:  # stored as int32 like the shipped split
        raise ValueError(f"seed must be in [0, 2**31), got {seed}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")


def _generate(
    n_images: int, params_per_image: int, seed: int, size: int, progress: bool, workers: int
) -> dict[str, np.ndarray]:
    from tqdm import tqdm  # a core dependency; imported here to keep module import cheap

    tasks = [(seed, i, params_per_image, size) for i in range(n_images)]
    images, all_params, ssims, svg_lengths = [], [], [], []
    bar = tqdm(total=n_images, disable=not progress, desc="labelling logos", unit="img")
    with bar:
        for image, params, ssim, svg_len in _iter_results(tasks, workers):
            images.append(image)
            all_params.extend(params)
            ssims.extend(ssim)
            svg_lengths.extend(svg_len)
            bar.update(1)
    columns = _param_columns(all_params)
    img_idx = np.repeat(np.arange(n_images, dtype=np.int32), params_per_image)
    return {
        "images": np.stack(images).astype(np.uint8),
        "img_idx": img_idx,
        # The shipped split maps rows back to the full dataset; here every
        # image is its own source.
        "source_img_idx": img_idx.copy(),
        "ssim": np.asarray(ssims, dtype=np.float32),
        "params_vec": params_to_vectors(columns, size),
        "svg_bytes": np.asarray(svg_lengths, dtype=np.int32),
        "size": np.asarray(size, dtype=np.int32),
        "seed": np.asarray(seed, dtype=np.int32),
        **columns,
        "meta_json": np.asarray(json.dumps(_meta(n_images, params_per_image, seed, size), sort_keys=True)),
    }


def make_dataset(
    n_images: int,
    params_per_image: int = MAKE_DATA.params_per_image,
    seed: int = MAKE_DATA.seed,
    size: int = MAKE_DATA.size,
    cache_dir: Path | None = None,
    progress: bool = True,
    workers: int = MAKE_DATA.workers,
) -> Path:
    """Generate (or reuse) a labelled dataset and return the .npz path.

    The file lives in ``cache_dir`` (default :func:`default_cache_dir`) under
    :func:`dataset_filename`; if a complete file is already there it is
    returned without recomputing anything. ``workers > 1`` labels images in a
    process pool; the result is identical to ``workers=1``.
    """
    _check_arguments(n_images, params_per_image, seed, size, workers)
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / dataset_filename(n_images, params_per_image, seed, size)
    if path.exists() and _loads_ok(path):
        return path
    arrays = _generate(n_images, params_per_image, seed, size, progress, workers)
    _write_atomic(path, arrays)
    return path
