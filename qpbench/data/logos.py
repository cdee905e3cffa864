"""Deterministic logo-like test images (step 1 of the dataset recipe).

A logo is a white, flat or gradient background with 1-7 flat-colour elements
drawn from a palette of 2-8 colours. Everything is drawn with Pillow at
``SUPERSAMPLE`` times the target size and downsampled: LANCZOS for 85% of the
images (anti-aliased edges, like most real logos) and nearest-neighbour for the
rest (hard, aliased edges), so the model sees both kinds of edge.

The output depends only on the seed, the size, the Pillow version and the font
files found (see :func:`font_info`); bump ``GENERATOR_VERSION`` whenever a
change here alters pixels, since cached datasets are keyed on it.
"""

from __future__ import annotations

import functools
import importlib
import math
import string
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np

__all__ = ["GENERATOR_VERSION", "SUPERSAMPLE", "make_logo", "font_info", "require_data_extra"]

#: Bump when the generated pixels change for a given seed (invalidates caches).
GENERATOR_VERSION = "1"
#: Drawing resolution relative to the output size.
SUPERSAMPLE = 4

DATA_EXTRA_MESSAGE = "the data pipeline needs the 'data' extra: pip install 'qpbench[data]'"

_SYSTEM_DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
# Bold faces first: thin strokes vanish at 128 px. All four ship with both
# matplotlib and the Debian/Ubuntu fonts-dejavu-core package, so the two
# sources give the same images.
_DEJAVU_FILES = ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSansMono-Bold.ttf")
_LETTERS = string.ascii_uppercase + string.digits

Color = tuple[int, int, int]


def require_data_extra(module: str) -> ModuleType:
    """Import an optional dependency of the data pipeline, or say how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(DATA_EXTRA_MESSAGE) from exc


# --------------------------------------------------------------------------- fonts


@functools.lru_cache(maxsize=1)
def _font_dir() -> tuple[str, Path | None]:
    """(source, directory) of the DejaVu fonts: matplotlib, system, or none."""
    try:
        from matplotlib import font_manager  # optional; only used to locate fonts

        path = Path(font_manager.findfont("DejaVu Sans:bold", fallback_to_default=False))
        if path.name in _DEJAVU_FILES:
            return "matplotlib", path.parent
    except Exception:  # not installed, or a broken font cache: fall through
        pass
    if (_SYSTEM_DEJAVU_DIR / _DEJAVU_FILES[0]).is_file():
        return "system", _SYSTEM_DEJAVU_DIR
    return "pillow-default", None


@functools.lru_cache(maxsize=1)
def _font_files() -> tuple[Path, ...]:
    source, directory = _font_dir()
    if directory is None:
        return ()
    return tuple(directory / name for name in _DEJAVU_FILES if (directory / name).is_file())


def font_info() -> dict[str, Any]:
    """Which fonts the letters are drawn with; stored in dataset metadata."""
    source, directory = _font_dir()
    return {
        "source": source,
        "directory": str(directory) if directory else None,
        "files": [path.name for path in _font_files()],
    }


@functools.lru_cache(maxsize=64)
def _load_font(index: int, pixel_size: int) -> Any:
    image_font = require_data_extra("PIL.ImageFont")
    files = _font_files()
    if not files:
        # Pillow >= 10.1 scales its built-in font; the look differs from DejaVu.
        return image_font.load_default(size=pixel_size)
    return image_font.truetype(str(files[index % len(files)]), pixel_size)


# ------------------------------------------------------------------- colours/geometry


def _random_color(rng: np.random.Generator) -> Color:
    return tuple(int(c) for c in rng.integers(0, 256, size=3))  # type: ignore[return-value]


def _make_palette(rng: np.random.Generator) -> list[Color]:
    return [_random_color(rng) for _ in range(int(rng.integers(2, 8, endpoint=True)))]


def _pick(rng: np.random.Generator, palette: list[Color]) -> Color:
    return palette[int(rng.integers(len(palette)))]


def _linear_gradient(canvas: int, start: Color, end: Color, angle: float) -> np.ndarray:
    """uint8 (canvas, canvas, 3) blend from ``start`` to ``end`` along ``angle``."""
    coords = np.arange(canvas, dtype=np.float64) / max(canvas - 1, 1) - 0.5
    t = coords[None, :] * math.cos(angle) + coords[:, None] * math.sin(angle)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-9)
    blend = np.asarray(start, np.float64) * (1 - t[..., None]) + np.asarray(end, np.float64) * t[..., None]
    return np.round(blend).astype(np.uint8)


def _center_and_radius(rng: np.random.Generator, canvas: int, low: float = 0.08, high: float = 0.35) -> tuple[float, float, float]:
    """A random centre inside the canvas and a radius as a fraction of it."""
    r = rng.uniform(low, high) * canvas
    cx, cy = rng.uniform(0.15, 0.85, size=2) * canvas
    return float(cx), float(cy), float(r)


def _random_polygon_points(rng: np.random.Generator, canvas: int) -> list[tuple[float, float]]:
    """3-9 vertices sorted by angle around a centre: star-shaped, never self-crossing."""
    cx, cy, r = _center_and_radius(rng, canvas)
    n = int(rng.integers(3, 9, endpoint=True))
    angles = np.sort(rng.uniform(0, 2 * math.pi, size=n))
    radii = r * rng.uniform(0.4, 1.0, size=n)
    return [(cx + float(rr * math.cos(a)), cy + float(rr * math.sin(a))) for a, rr in zip(angles, radii)]


# ------------------------------------------------------------------ backgrounds


def _background(rng: np.random.Generator, canvas: int, palette: list[Color]) -> Any:
    """White (50%), flat palette colour (25%) or two-colour gradient (25%)."""
    image_mod = require_data_extra("PIL.Image")
    kind = rng.choice(["white", "flat", "gradient"], p=[0.5, 0.25, 0.25])
    if kind == "white":
        return image_mod.new("RGB", (canvas, canvas), (255, 255, 255))
    if kind == "flat":
        return image_mod.new("RGB", (canvas, canvas), _pick(rng, palette))
    start, end = _pick(rng, palette), _pick(rng, palette)
    return image_mod.fromarray(_linear_gradient(canvas, start, end, rng.uniform(0, 2 * math.pi)))


# --------------------------------------------------------------------- elements
# Each element drawer takes (rng, image, draw, palette) and paints in place.


def _draw_ellipse(rng: np.random.Generator, image: Any, draw: Any, palette: list[Color]) -> None:
    cx, cy, r = _center_and_radius(rng, image.width)
    aspect = rng.uniform(0.5, 1.0) if rng.random() < 0.5 else 1.0  # half are circles
    rx, ry = (r, r * aspect) if rng.random() < 0.5 else (r * aspect, r)
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=_pick(rng, palette))


def _draw_ring(rng: np.random.Generator, image: Any, draw: Any, palette: list[Color]) -> None:
    cx, cy, r = _center_and_radius(rng, image.width, 0.12, 0.4)
    width = max(1, int(r * rng.uniform(0.12, 0.4)))
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=_pick(rng, palette), width=width)


def _draw_regular_polygon(rng: np.random.Generator, image: Any, draw: Any, palette: list[Color]) -> None:
    cx, cy, r = _center_and_radius(rng, image.width)
    sides = int(rng.integers(3, 8, endpoint=True))
    draw.regular_polygon((cx, cy, r), sides, rotation=float(rng.uniform(0, 360)), fill=_pick(rng, palette))


def _draw_random_polygon(rng: np.random.Generator, image: Any, draw: Any, palette: list[Color]) -> None:
    draw.polygon(_random_polygon_points(rng, image.width), fill=_pick(rng, palette))


def _draw_rounded_rectangle(rng: np.random.Generator, image: Any, draw: Any, palette: list[Color]) -> None:
    cx, cy, r = _center_and_radius(rng, image.width)
    half_w, half_h = r, r * rng.uniform(0.3, 1.0)
    if rng.random() < 0.5:
        half_w, half_h = half_h, half_w
    radius = rng.uniform(0.0, 0.5) * min(half_w, half_h)
    box = (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
    draw.rounded_rectangle(box, radius=radius, fill=_pick(rng, palette))


def _draw_stripes(rng: np.random.Generator, image: Any, draw: Any, palette: list[Color]) -> None:
    """2-5 parallel bands at a random angle, each crossing the whole canvas."""
    canvas = image.width
    angle = rng.choice([0.0, math.pi / 2, rng.uniform(0, math.pi)])  # axis-aligned is common in logos
    ux, uy = math.cos(angle), math.sin(angle)  # along the band
    nx, ny = -uy, ux  # across the band
    width = rng.uniform(0.03, 0.12) * canvas
    gap = rng.uniform(0.5, 2.0) * width
    offset = rng.uniform(-0.35, 0.2) * canvas
    color = _pick(rng, palette)
    half_len = canvas  # long enough to leave the canvas at any angle
    c = canvas / 2
    for k in range(int(rng.integers(2, 5, endpoint=True))):
        d0 = offset + k * (width + gap)
        d1 = d0 + width
        corners = [
            (c + nx * d0 - ux * half_len, c + ny * d0 - uy * half_len),
            (c + nx * d0 + ux * half_len, c + ny * d0 + uy * half_len),
            (c + nx * d1 + ux * half_len, c + ny * d1 + uy * half_len),
            (c + nx * d1 - ux * half_len, c + ny * d1 - uy * half_len),
        ]
        draw.polygon(corners, fill=color)


def _draw_gradient_shape(rng: np.random.Generator, image: Any, draw: Any, palette: list[Color]) -> None:
    """A circle, rectangle or polygon filled with a two-colour linear gradient."""
    image_mod = require_data_extra("PIL.Image")
    image_draw = require_data_extra("PIL.ImageDraw")
    canvas = image.width
    mask = image_mod.new("L", (canvas, canvas), 0)
    mask_draw = image_draw.Draw(mask)
    shape = rng.choice(["ellipse", "rectangle", "polygon"])
    if shape == "polygon":
        mask_draw.polygon(_random_polygon_points(rng, canvas), fill=255)
    else:
        cx, cy, r = _center_and_radius(rng, canvas, 0.12, 0.4)
        box = (cx - r, cy - r * rng.uniform(0.5, 1.0), cx + r, cy + r * rng.uniform(0.5, 1.0))
        getattr(mask_draw, shape)(box, fill=255)
    start, end = _pick(rng, palette), _pick(rng, palette)
    fill = image_mod.fromarray(_linear_gradient(canvas, start, end, rng.uniform(0, 2 * math.pi)))
    image.paste(fill, (0, 0), mask)


def _draw_letters(rng: np.random.Generator, image: Any, draw: Any, palette: list[Color]) -> None:
    """1-3 letters/digits in one DejaVu face, centred on a random point."""
    canvas = image.width
    text = "".join(rng.choice(list(_LETTERS), size=int(rng.integers(1, 3, endpoint=True))))
    pixel_size = max(8, int(rng.uniform(0.18, 0.45) * canvas))
    font = _load_font(int(rng.integers(len(_DEJAVU_FILES))), pixel_size)
    x, y = rng.uniform(0.3, 0.7, size=2) * canvas
    draw.text((float(x), float(y)), text, fill=_pick(rng, palette), font=font, anchor="mm")


_ELEMENTS: tuple[Callable[[np.random.Generator, Any, Any, list[Color]], None], ...] = (
    _draw_ellipse,
    _draw_ring,
    _draw_regular_polygon,
    _draw_random_polygon,
    _draw_rounded_rectangle,
    _draw_stripes,
    _draw_gradient_shape,
    _draw_letters,
)


# ------------------------------------------------------------------------ entry


def make_logo(seed: int, size: int = 128) -> np.ndarray:
    """A logo-like uint8 (size, size, 3) RGB image, fully determined by ``seed``."""
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    image_mod = require_data_extra("PIL.Image")
    image_draw = require_data_extra("PIL.ImageDraw")
    rng = np.random.default_rng(seed)
    canvas = size * SUPERSAMPLE
    palette = _make_palette(rng)
    image = _background(rng, canvas, palette)
    draw = image_draw.Draw(image)
    for _ in range(int(rng.integers(1, 7, endpoint=True))):
        element = _ELEMENTS[int(rng.integers(len(_ELEMENTS)))]
        element(rng, image, draw, palette)
    antialias = rng.random() < 0.85
    resample = image_mod.Resampling.LANCZOS if antialias else image_mod.Resampling.NEAREST
    return np.asarray(image.resize((size, size), resample), dtype=np.uint8).copy()
