"""ProductionInferenceWrapper: the interface a deployment package serves.

    from qpdeploy.wrapper import ProductionInferenceWrapper   # inside a package
    model = ProductionInferenceWrapper.load("path/to/package")
    ssim = model.predict_ssim(image_uint8_hxwx3, {"filter_speckle": 4, ...})
    ssims = model.predict_batch([img1, img2], [params1, params2])

Images are uint8 (H, W, 3) RGB of any size (the wrapper applies the training
preprocessing, ``preprocess.py``) or already preprocessed float32 (3, S, S)
arrays or tensors. Parameters are the model's parameter vector (13 floats,
each in [0, 1]) or a dict of the raw vtracer parameters, encoded exactly as
the training data was (``params.py``).

Bad input raises ValueError or TypeError naming the problem; nothing is
clamped (the checks: ``inputs.py``). A raw image may hold at most ``max_pixels`` pixels (H x W; default
``DEFAULT_MAX_PIXELS``, 4096 x 4096; ``load(..., max_pixels=)`` or the
package config's ``limits.max_pixels`` change it): a larger one is refused
before any work, since preprocessing it would take seconds and gigabytes.

The model's raw output is a predicted SSIM: a value slightly outside [0, 1]
(a regression head's overshoot) is returned clipped to [0, 1], counted in
``get_performance_stats()["out_of_range_outputs"]`` and logged; NaN or inf
output raises RuntimeError.

Monitoring: every call's latency per image and the process's RSS after it are
recorded; a call over the latency target logs a warning, and so does RSS
passing the package's memory target (``targets.peak_rss_mb``: once each time
it rises above it). ``get_performance_stats()`` reports both.

Standard library and numpy only at module level: copied into every package.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .backends import Backend, backend_for
from .inputs import DEFAULT_MAX_PIXELS, ModelSpec, image_batch, one_image, one_params, params_batch
from .manifest import ManifestError, inside_path, manifest_entry, verify_manifest
from .preprocess import preprocess_image
from .rss import current_rss_mb, max_rss_mb

logger = logging.getLogger(__name__)

CONFIG_NAME = "deployment_config.json"


class ProductionInferenceWrapper:
    """Predicted SSIM from images and vtracer parameters; thread-safe, warmed up, monitored."""

    def __init__(
        self,
        backend: Backend,
        spec: ModelSpec,
        *,
        warmup_calls: int = 2,
        timer: Callable[[], float] = time.perf_counter,
        history: int = 10000,
        name: str = "model",
        rss_reader: Callable[[], float | None] = current_rss_mb,
        peak_rss_reader: Callable[[], float | None] = max_rss_mb,
    ) -> None:
        if warmup_calls < 0:
            raise ValueError(f"warmup_calls must be >= 0, got {warmup_calls}")
        self.backend = backend
        self.spec = spec
        self.name = name
        self._timer = timer
        # RSS now (None where it cannot be read: macOS without psutil, where the peak stands in) and peak, MiB.
        self._rss_reader = rss_reader
        self._peak_rss_reader = peak_rss_reader
        self._stats_lock = threading.Lock()
        # A backend that is not thread-safe runs one call at a time.
        self._run_lock: threading.Lock | None = None if backend.thread_safe else threading.Lock()
        self._recent_ms: deque[float] = deque(maxlen=history)
        self._calls = 0
        self._images = 0
        self._total_ms = 0.0
        self._max_ms = 0.0
        self._over_target = 0
        self._out_of_range = 0
        self._over_memory = 0
        self._above_memory_target = False
        self.warmup_calls = self._warm_up(warmup_calls)

    # Loading ---------------------------------------------------------------

    @classmethod
    def load(
        cls,
        package_dir: str | Path,
        *,
        threads: int | None = None,
        warmup_calls: int = 2,
        timer: Callable[[], float] = time.perf_counter,
        verify: bool = True,
        expected_sha256: str | None = None,
        max_pixels: int | None = None,
        **wrapper_options: Any,
    ) -> "ProductionInferenceWrapper":
        """Verify the package's manifest (and its digest against ``expected_sha256``, the sha256 of
        manifest.json you pinned), load its artifact with the backend its config names, warm up.

        The checks run before the artifact loads (loading TorchScript or a .pt2 runs code from
        it). They run in this module: imported from the package itself, it is the package's
        own code; check the digest from outside first (``manifest.py``, ``qpbench package verify``).
        ``max_pixels``: the largest raw image accepted (default: the config's
        ``limits.max_pixels``, else ``DEFAULT_MAX_PIXELS``); ``wrapper_options`` go to the
        constructor (``history``, ``rss_reader``, ...)."""
        root = Path(package_dir)
        manifest = verify_manifest(root, expected_sha256) if verify or expected_sha256 else None
        config = read_config(root)
        artifact = config["artifact"]
        for name in artifact_files(artifact):
            if manifest is not None:
                manifest_entry(manifest, name, "the artifact")
            elif not inside_path(name):
                raise ManifestError(f"the artifact {name!r} is not a path inside the package")
        model = config["model"]
        targets = config.get("targets") or {}
        spec = ModelSpec(
            input_size=int(model["input_size"]),
            n_params=int(model["n_params"]),
            param_encoding=model.get("param_encoding"),
            latency_target_ms=targets.get("latency_p95_ms"),
            memory_target_mb=targets.get("peak_rss_mb"),
            max_pixels=max_pixels or int((config.get("limits") or {}).get("max_pixels", DEFAULT_MAX_PIXELS)),
        )
        if threads is None:
            threads = (config.get("runtime") or {}).get("threads")
        start = time.perf_counter()
        backend = backend_for(artifact["format"]).load(root / artifact["file"], threads, **artifact.get("options", {}))
        logger.info("loaded %s (%s) from %s in %.1f ms", config.get("variant"), artifact["format"], root,
                    (time.perf_counter() - start) * 1e3)
        return cls(backend, spec, warmup_calls=warmup_calls, timer=timer, name=str(config.get("variant", "model")),
                   **wrapper_options)

    def _warm_up(self, calls: int) -> int:
        """Run a mid-grey image ``calls`` times: first calls allocate and pick kernels. Not counted in the stats."""
        grey = np.full((self.spec.input_size, self.spec.input_size, 3), 128, dtype=np.uint8)
        image = preprocess_image(grey, self.spec.input_size)[None]
        params = np.zeros((1, self.spec.n_params), dtype=np.float32)
        for _ in range(calls):
            self._run(image, params)
        if calls:
            logger.info("%s: warmed up with %d call(s)", self.name, calls)
        return calls

    # Public API ------------------------------------------------------------

    def predict_ssim(self, image: Any, params: Any, *, source_size: int | None = None) -> float:
        """Predicted SSIM in [0, 1] for one image and one parameter set.

        ``image``: uint8 (H, W, 3) RGB, or a preprocessed float32 (3, S, S) array/tensor.
        ``params``: the (n_params,) vector, or a dict of raw vtracer parameters.
        ``source_size``: the original image's side, needed only for a dict with a
        preprocessed image (filter_speckle's range depends on it).
        """
        start = self._timer()
        x, size = one_image(image, self.spec, "image")
        p = one_params(params, self.spec, size if size is not None else source_size, "params")
        value = self._predict(x[None], p[None])[0]
        self._record(self._timer() - start, 1)
        return value

    def predict_batch(self, images: Any, params: Any, *, source_sizes: Sequence[int] | None = None) -> list[float]:
        """Predicted SSIM for each (image, parameter set) pair.

        ``images``: a sequence of images as ``predict_ssim`` takes them (sizes may
        differ), a uint8 (N, H, W, 3) array or a preprocessed (N, 3, S, S) array/tensor.
        ``params``: a sequence of vectors or dicts, or an (N, n_params) array.
        """
        start = self._timer()
        batch, sizes = image_batch(images, self.spec)
        p = params_batch(params, self.spec, len(batch), sizes, source_sizes)
        values = self._predict(np.stack(batch), p)
        self._record(self._timer() - start, len(values))
        return values

    def get_performance_stats(self) -> dict[str, Any]:
        """Latency per image (call time / images in the call) over the calls so far, warm-up excluded.

        ``mean_ms`` and ``max_ms`` cover every call; ``p50_ms``/``p95_ms`` the last
        ``history`` calls; ``over_target`` counts calls slower than the target.
        ``rss_mb`` and ``peak_rss_mb`` are the process's RSS now and its peak (MiB;
        None where the platform does not tell); ``over_memory_target`` counts calls
        after which RSS was above ``memory_target_mb``.
        """
        rss_now, rss_peak = self._rss_reader(), self._peak_rss_reader()
        with self._stats_lock:
            recent = list(self._recent_ms)
            stats: dict[str, Any] = {
                "calls": self._calls,
                "images": self._images,
                "mean_ms": self._total_ms / self._calls if self._calls else None,
                "max_ms": self._max_ms if self._calls else None,
                "target_ms": self.spec.latency_target_ms,
                "over_target": self._over_target,
                "out_of_range_outputs": self._out_of_range,
                "warmup_calls": self.warmup_calls,
                "rss_mb": rss_now,
                "peak_rss_mb": rss_peak,
                "memory_target_mb": self.spec.memory_target_mb,
                "over_memory_target": self._over_memory,
            }
        if recent:
            p50, p95 = np.percentile(np.asarray(recent), [50, 95])
            stats.update(p50_ms=float(p50), p95_ms=float(p95))
        else:
            stats.update(p50_ms=None, p95_ms=None)
        return stats

    # Running ---------------------------------------------------------------

    def _run(self, images: np.ndarray, params: np.ndarray) -> np.ndarray:
        if self._run_lock is None:
            return self.backend.run(images, params)
        with self._run_lock:
            return self.backend.run(images, params)

    def _predict(self, images: np.ndarray, params: np.ndarray) -> list[float]:
        raw = np.asarray(self._run(images, params), dtype=np.float64).reshape(-1)
        if raw.shape[0] != images.shape[0]:
            raise RuntimeError(f"{self.name}: the model returned {raw.shape[0]} values for {images.shape[0]} images")
        if not np.isfinite(raw).all():
            raise RuntimeError(f"{self.name}: the model returned NaN or inf for {int((~np.isfinite(raw)).sum())} image(s)")
        if raw.min() < 0.0 or raw.max() > 1.0:
            outside = (raw < 0.0) | (raw > 1.0)
            with self._stats_lock:
                self._out_of_range += int(outside.sum())
            logger.warning("%s: %d raw prediction(s) outside [0, 1] (%s) returned clipped to [0, 1]",
                           self.name, int(outside.sum()), ", ".join(f"{v:.4f}" for v in raw[outside][:5]))
            raw = np.clip(raw, 0.0, 1.0)
        return raw.tolist()

    def _record(self, elapsed_s: float, images: int) -> None:
        per_image_ms = elapsed_s * 1e3 / images
        target = self.spec.latency_target_ms
        over = target is not None and per_image_ms > target
        with self._stats_lock:
            self._calls += 1
            self._images += images
            self._total_ms += per_image_ms
            self._max_ms = max(self._max_ms, per_image_ms)
            self._recent_ms.append(per_image_ms)
            self._over_target += int(over)
        if over:
            logger.warning("%s: %.2f ms per image (batch of %d) is over the %.2f ms target",
                           self.name, per_image_ms, images, target)
        else:
            logger.debug("%s: %.2f ms per image (batch of %d)", self.name, per_image_ms, images)
        self._check_memory()

    def _check_memory(self) -> None:
        """Count a call that ends with RSS over the memory target; warn when RSS passes it."""
        target = self.spec.memory_target_mb
        if target is None:
            return
        rss = self._rss_reader()
        if rss is None:
            rss = self._peak_rss_reader()
        over = rss is not None and rss > target
        with self._stats_lock:
            self._over_memory += int(over)
            passed = over and not self._above_memory_target
            self._above_memory_target = over
        if passed:
            logger.warning("%s: RSS %.1f MiB is over the %.1f MiB memory target", self.name, rss, target)


def artifact_files(artifact: Mapping[str, Any]) -> list[str]:
    """The package files the artifact loads from: an OpenVINO IR's weights sit beside its graph."""
    name = artifact["file"]
    if artifact.get("format") == "openvino" and isinstance(name, str) and name.endswith(".xml"):
        return [name, name[: -len(".xml")] + ".bin"]
    return [name]


def read_config(root: Path) -> dict[str, Any]:
    """``deployment_config.json`` of a package, with the keys the wrapper needs checked."""
    path = Path(root) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: {root} is not a deployment package")
    config = json.loads(path.read_text())
    for key, sub in (("artifact", ("file", "format")), ("model", ("input_size", "n_params"))):
        missing = [k for k in sub if k not in config.get(key, {})]
        if missing:
            raise ValueError(f"{path}: '{key}' lacks {missing}")
    return config
