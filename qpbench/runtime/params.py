"""vtracer parameters: sampling, validation and the model's 13-slot vector.

The ranges, distributions and scalings are those the shipped model and its
held-out split (``eval/vtracer_ssim_128_s0_heldout.npz``) were built with; the
vector must reproduce the shipped ``params_vec`` bit for bit (float32), so any
change here silently invalidates the trained weights.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

__all__ = [
    "PARAM_NAMES",
    "RAW_PARAM_NAMES",
    "INT_PARAMS",
    "CHOICES",
    "filter_speckle_max",
    "param_ranges",
    "sample_params",
    "validate_params",
    "params_to_vector",
    "params_to_vectors",
]

#: Slot order of the model's parameter vector (13 floats, each about [0, 1]).
PARAM_NAMES: tuple[str, ...] = (
    "filter_speckle",
    "color_precision",
    "layer_difference",
    "corner_threshold",
    "length_threshold",
    "max_iterations",
    "splice_threshold",
    "path_precision",
    "colormode",
    "hierarchical",
    "mode_spline",
    "mode_polygon",
    "mode_none",
)

#: The raw vtracer keyword arguments (what ``sample_params`` returns).
RAW_PARAM_NAMES: tuple[str, ...] = (
    "filter_speckle",
    "color_precision",
    "layer_difference",
    "corner_threshold",
    "length_threshold",
    "max_iterations",
    "splice_threshold",
    "path_precision",
    "colormode",
    "hierarchical",
    "mode",
)

#: Parameters vtracer takes as integers (it raises TypeError on a float).
INT_PARAMS: frozenset[str] = frozenset(
    {
        "filter_speckle",
        "color_precision",
        "layer_difference",
        "corner_threshold",
        "max_iterations",
        "splice_threshold",
        "path_precision",
    }
)

#: Categorical parameters and their allowed values. vtracer itself accepts any
#: string here and silently falls back to a default, hence the strict check.
CHOICES: dict[str, tuple[str, ...]] = {
    "colormode": ("color", "binary"),
    "hierarchical": ("stacked", "cutout"),
    "mode": ("spline", "polygon", "none"),
}

# Sampling probabilities of the categorical parameters (same order as CHOICES).
_CHOICE_PROBS: dict[str, tuple[float, ...]] = {
    "colormode": (0.85, 0.15),
    "hierarchical": (0.5, 0.5),
    "mode": (0.5, 0.3, 0.2),
}

_REFERENCE_SIZE = 128
_FILTER_SPECKLE_MAX_AT_REFERENCE = 64
_LAYER_DIFFERENCE_MAX = 128


def filter_speckle_max(size: int = _REFERENCE_SIZE) -> int:
    """Upper bound of filter_speckle for a ``size`` x ``size`` image.

    filter_speckle is an area in pixels, so its range grows with the square of
    the side; 64 at 128 px. At least 1, so the log scaling never divides by 0.
    """
    if size <= 0:
        raise ValueError(f"size must be a positive number of pixels, got {size!r}")
    return max(1, round(_FILTER_SPECKLE_MAX_AT_REFERENCE * (size / _REFERENCE_SIZE) ** 2))


def param_ranges(size: int = _REFERENCE_SIZE) -> dict[str, tuple[float, float]]:
    """Inclusive (low, high) range of every numeric parameter at ``size``."""
    return {
        "filter_speckle": (0, filter_speckle_max(size)),
        "color_precision": (1, 8),
        "layer_difference": (0, _LAYER_DIFFERENCE_MAX),
        "corner_threshold": (0, 180),
        "length_threshold": (3.5, 10.0),
        "max_iterations": (1, 20),
        "splice_threshold": (0, 180),
        "path_precision": (0, 8),
    }


def _log_uniform_int(rng: np.random.Generator, high: int) -> int:
    """Integer in [0, high] whose log1p is uniform (small values are common).

    Rounding expm1 of a uniform draw matches the shipped data's histogram
    (e.g. ~9.7% zeros for filter_speckle at 128 px, ~0.2% at the maximum).
    """
    return int(round(math.expm1(rng.uniform(0.0, math.log1p(high)))))


def _choice(rng: np.random.Generator, name: str) -> str:
    return str(rng.choice(CHOICES[name], p=_CHOICE_PROBS[name]))


def sample_params(rng: np.random.Generator, size: int = _REFERENCE_SIZE) -> dict[str, Any]:
    """Draw one random vtracer parameter set with the dataset's distributions.

    Returns plain Python scalars keyed by :data:`RAW_PARAM_NAMES`, ready to be
    passed to ``vtracer.convert_raw_image_to_svg``. The draw order is fixed:
    changing it changes every generated dataset.
    """
    ranges = param_ranges(size)
    return {
        "filter_speckle": _log_uniform_int(rng, int(ranges["filter_speckle"][1])),
        "color_precision": int(rng.integers(1, 8, endpoint=True)),
        "layer_difference": _log_uniform_int(rng, _LAYER_DIFFERENCE_MAX),
        "corner_threshold": int(rng.integers(0, 180, endpoint=True)),
        "length_threshold": float(rng.uniform(3.5, 10.0)),
        "max_iterations": int(rng.integers(1, 20, endpoint=True)),
        "splice_threshold": int(rng.integers(0, 180, endpoint=True)),
        "path_precision": int(rng.integers(0, 8, endpoint=True)),
        "colormode": _choice(rng, "colormode"),
        "hierarchical": _choice(rng, "hierarchical"),
        "mode": _choice(rng, "mode"),
    }


def _check_numeric(name: str, value: Any, low: float, high: float) -> int | float:
    """Return ``value`` as a Python int/float or raise naming ``name``."""
    allowed = f"allowed range [{low:g}, {high:g}]"
    # bool is an int subclass; True as a threshold is almost surely a bug.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"parameter {name!r} must be a number, got {value!r} ({allowed})")
    number = float(value)
    if math.isnan(number):
        raise ValueError(f"parameter {name!r} is NaN ({allowed})")
    if not low <= number <= high:
        raise ValueError(f"parameter {name!r}={value!r} is out of range ({allowed})")
    if name in INT_PARAMS:
        if not number.is_integer():
            raise ValueError(f"parameter {name!r}={value!r} must be an integer ({allowed})")
        return int(number)
    return number


def _check_choice(name: str, value: Any) -> str:
    allowed = CHOICES[name]
    if not isinstance(value, (str, np.str_)) or str(value) not in allowed:
        raise ValueError(f"parameter {name!r}={value!r} is not one of {list(allowed)}")
    return str(value)


def validate_params(params: Mapping[str, Any], size: int = _REFERENCE_SIZE) -> dict[str, Any]:
    """Check a raw parameter set; return it normalised to Python scalars.

    Raises ValueError naming the missing, unknown, NaN, non-integer or
    out-of-range parameter and its allowed range. Nothing is clamped: a value
    outside the range the model was trained on is an error, not a guess.
    """
    missing = [name for name in RAW_PARAM_NAMES if name not in params]
    if missing:
        raise ValueError(f"missing parameter(s) {missing}; expected all of {list(RAW_PARAM_NAMES)}")
    unknown = sorted(set(params) - set(RAW_PARAM_NAMES))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; expected only {list(RAW_PARAM_NAMES)}")
    ranges = param_ranges(size)
    clean: dict[str, Any] = {}
    for name in RAW_PARAM_NAMES:
        if name in CHOICES:
            clean[name] = _check_choice(name, params[name])
        else:
            low, high = ranges[name]
            clean[name] = _check_numeric(name, params[name], low, high)
    return clean


def _scale_numeric(columns: Mapping[str, np.ndarray], size: int) -> list[np.ndarray]:
    """The 8 numeric slots, in float64 then cast once (matches the shipped data)."""
    f = {name: np.asarray(columns[name], dtype=np.float64) for name in RAW_PARAM_NAMES if name not in CHOICES}
    return [
        np.log1p(f["filter_speckle"]) / np.log1p(filter_speckle_max(size)),
        (f["color_precision"] - 1.0) / 7.0,
        np.log1p(f["layer_difference"]) / np.log1p(_LAYER_DIFFERENCE_MAX),
        f["corner_threshold"] / 180.0,
        (f["length_threshold"] - 3.5) / 6.5,
        (f["max_iterations"] - 1.0) / 19.0,
        f["splice_threshold"] / 180.0,
        f["path_precision"] / 8.0,
    ]


def _scale_categorical(columns: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """The 5 categorical slots: binary flag, cutout flag, mode one-hot."""
    colormode = np.asarray(columns["colormode"]).astype(str)
    hierarchical = np.asarray(columns["hierarchical"]).astype(str)
    mode = np.asarray(columns["mode"]).astype(str)
    return [
        colormode == "binary",
        hierarchical == "cutout",
        mode == "spline",
        mode == "polygon",
        mode == "none",
    ]


def params_to_vector(params: Mapping[str, Any], size: int = _REFERENCE_SIZE) -> np.ndarray:
    """Validate one raw parameter set and scale it to the model's float32 (13,) vector."""
    clean = validate_params(params, size)
    columns = {name: np.asarray([value]) for name, value in clean.items()}
    return _stack(columns, size)[0]


def _validate_columns(columns: Mapping[str, np.ndarray], size: int) -> None:
    """Vectorised validate_params: reports the first bad row by index."""
    lengths = {name: len(np.asarray(col)) for name, col in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"parameter columns have different lengths: {lengths}")
    ranges = param_ranges(size)
    for name in RAW_PARAM_NAMES:
        col = np.asarray(columns[name])
        if name in CHOICES:
            bad = ~np.isin(col.astype(str), CHOICES[name])
            detail = f"not one of {list(CHOICES[name])}"
        else:
            if col.dtype.kind not in "iuf":
                raise ValueError(f"parameter {name!r} must be numeric, got dtype {col.dtype}")
            values = col.astype(np.float64)
            low, high = ranges[name]
            bad = np.isnan(values) | (values < low) | (values > high)
            if name in INT_PARAMS:
                bad |= values != np.round(values)
            detail = f"allowed range [{low:g}, {high:g}]" + (", integers" if name in INT_PARAMS else "")
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"parameter {name!r} has {int(bad.sum())} invalid value(s), first at row {row}: "
                f"{col[row]!r} ({detail})"
            )


def _stack(columns: Mapping[str, np.ndarray], size: int) -> np.ndarray:
    slots = _scale_numeric(columns, size) + _scale_categorical(columns)
    return np.stack([np.asarray(s, dtype=np.float64) for s in slots], axis=1).astype(np.float32)


def params_to_vectors(columns: Mapping[str, np.ndarray], size: int = _REFERENCE_SIZE) -> np.ndarray:
    """Vectorised :func:`params_to_vector` for a dataset's raw columns.

    ``columns`` holds one array per parameter keyed ``p_<name>`` (as in the
    .npz files, e.g. ``dict(np.load(path))``); extra keys are ignored.
    Returns float32 (N, 13).
    """
    missing = [f"p_{name}" for name in RAW_PARAM_NAMES if f"p_{name}" not in columns]
    if missing:
        raise ValueError(f"missing parameter column(s) {missing}")
    raw = {name: np.asarray(columns[f"p_{name}"]) for name in RAW_PARAM_NAMES}
    _validate_columns(raw, size)
    return _stack(raw, size)
