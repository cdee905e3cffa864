"""The wrapper's bounds on raw images and its memory monitoring, on a fake backend (no torch)."""

from __future__ import annotations

import logging
import tracemalloc

import numpy as np
import pytest

from qpbench.runtime.backends import Backend
from qpbench.runtime.preprocess import preprocess_image
from qpbench.runtime.wrapper import ProductionInferenceWrapper
from qpbench.runtime.inputs import DEFAULT_MAX_PIXELS, ModelSpec

SIZE = 16
LOGGER = "qpbench.runtime.wrapper"


class ConstantBackend(Backend):
    format = "constant-test"
    thread_safe = True

    def run(self, images, params):
        return np.full(images.shape[0], 0.5, dtype=np.float32)


def wrapper(**spec) -> ProductionInferenceWrapper:
    return ProductionInferenceWrapper(ConstantBackend(), ModelSpec(SIZE, 13, **spec), warmup_calls=0)


def vector() -> np.ndarray:
    return np.full(13, 0.5, dtype=np.float32)


# ------------------------------------------------------------------ raw image size


def test_an_image_over_the_pixel_limit_is_refused_before_any_work():
    # A broadcast view: 20000 x 20000 x 3 "pixels" in 3 bytes, so the test itself allocates nothing;
    # preprocessing it would touch every pixel.
    huge = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (20000, 20000, 3))
    with pytest.raises(ValueError, match=r"20000 x 20000 image has 400000000 pixels, over the limit of 16777216"):
        wrapper().predict_ssim(huge, vector())
    with pytest.raises(ValueError, match=r"images\[1\].*over the limit"):
        wrapper().predict_batch([np.zeros((8, 8, 3), np.uint8), huge], [vector(), vector()])


def test_the_pixel_limit_is_configurable_and_a_clean_image_passes():
    small = wrapper(max_pixels=100)
    assert small.predict_ssim(np.zeros((10, 10, 3), np.uint8), vector()) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="11 x 10 image has 110 pixels, over the limit of 100"):
        small.predict_ssim(np.zeros((11, 10, 3), np.uint8), vector())
    assert wrapper().predict_ssim(np.zeros((4096, 4096, 3), np.uint8)[::64, ::64], vector()) == pytest.approx(0.5)
    assert DEFAULT_MAX_PIXELS == 4096 * 4096
    with pytest.raises(ValueError, match="max_pixels"):
        ModelSpec(SIZE, 13, max_pixels=0)


def test_preprocessing_makes_no_full_size_float_copy():
    """A 2000 x 1500 image (9 MB uint8; 36 MB as float32) is preprocessed with well under one float copy."""
    image = np.random.default_rng(0).integers(0, 256, (2000, 1500, 3), dtype=np.uint8)
    tracemalloc.start()
    try:
        out = preprocess_image(image, 224)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.shape == (3, 224, 224)
    assert peak < image.nbytes  # a float32 copy would be 4x the uint8 image


# ------------------------------------------------------------------ memory monitoring


class PlantedRss:
    def __init__(self, values):
        self.values = list(values)
        self.last = self.values[0]

    def __call__(self):
        if self.values:
            self.last = self.values.pop(0)
        return self.last


def monitored(rss_values, peak=700.0, target=512.0):
    return ProductionInferenceWrapper(ConstantBackend(), ModelSpec(SIZE, 13, memory_target_mb=target),
                                      warmup_calls=0, rss_reader=PlantedRss(rss_values), peak_rss_reader=lambda: peak)


def test_rss_above_the_memory_target_is_logged_when_it_passes_it(caplog):
    model = monitored([300.0, 600.0, 610.0, 400.0, 650.0, 650.0])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(5):
            model.predict_ssim(np.zeros((8, 8, 3), np.uint8), vector())
    warnings = [r.getMessage() for r in caplog.records if "memory target" in r.getMessage()]
    # passes the target twice (600 after 300, 650 after 400): one warning each, not one per call
    assert warnings == ["model: RSS 600.0 MiB is over the 512.0 MiB memory target",
                        "model: RSS 650.0 MiB is over the 512.0 MiB memory target"]
    stats = model.get_performance_stats()
    assert stats["over_memory_target"] == 3
    assert (stats["rss_mb"], stats["peak_rss_mb"], stats["memory_target_mb"]) == (650.0, 700.0, 512.0)


def test_rss_below_the_memory_target_is_not_flagged(caplog):
    model = monitored([200.0, 210.0, 220.0], peak=230.0)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(3):
            model.predict_ssim(np.zeros((8, 8, 3), np.uint8), vector())
    assert not caplog.records
    stats = model.get_performance_stats()
    assert stats["over_memory_target"] == 0 and stats["rss_mb"] == 220.0 and stats["peak_rss_mb"] == 230.0


def test_without_a_current_rss_the_peak_stands_in(caplog):
    model = ProductionInferenceWrapper(ConstantBackend(), ModelSpec(SIZE, 13, memory_target_mb=512.0), warmup_calls=0,
                                       rss_reader=lambda: None, peak_rss_reader=lambda: 800.0)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        model.predict_ssim(np.zeros((8, 8, 3), np.uint8), vector())
    assert "RSS 800.0 MiB is over" in caplog.text
    assert model.get_performance_stats()["rss_mb"] is None


def test_real_rss_is_reported():
    stats = wrapper().get_performance_stats()
    assert stats["rss_mb"] > 0 and stats["peak_rss_mb"] >= stats["rss_mb"] - 1
    assert stats["memory_target_mb"] is None and stats["over_memory_target"] == 0
