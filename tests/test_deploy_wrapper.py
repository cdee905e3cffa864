"""ProductionInferenceWrapper on a tiny TorchScript model and on fake backends.

The tiny model's output depends on the image (a Conv over the preprocessed
image, averaged) and on the parameter vector, so a wrong preprocessing or a
mixed-up batch shows in the numbers. Timings come from fake clocks.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from torch import nn

from qpbench.runtime.params import params_to_vector
from qpbench.runtime.backends import (
    BACKENDS,
    Backend,
    TorchScriptBackend,
    backend_for,
    detect_format,
    register_backend,
)
from qpbench.runtime.wrapper import ProductionInferenceWrapper
from qpbench.runtime.inputs import ModelSpec
from qpbench.workload import preprocess

SIZE = 16
PARAMS = {
    "filter_speckle": 4, "color_precision": 6, "layer_difference": 16, "corner_threshold": 60,
    "length_threshold": 4.0, "max_iterations": 10, "splice_threshold": 45, "path_precision": 8,
    "colormode": "color", "hierarchical": "stacked", "mode": "spline",
}


class ImageNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4 + 13, 1)

    def forward(self, image: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        feat = torch.relu(self.conv(image)).mean(dim=(2, 3))
        return torch.sigmoid(self.head(torch.cat([feat, params], 1))).squeeze(1)


@pytest.fixture(scope="module")
def ts_path(tmp_path_factory):
    torch.manual_seed(0)
    model = ImageNet().eval()
    path = tmp_path_factory.mktemp("ts") / "model.pt"
    torch.jit.save(torch.jit.freeze(torch.jit.script(model)), str(path))
    return path


@pytest.fixture(scope="module")
def model(ts_path):
    return ProductionInferenceWrapper(TorchScriptBackend.load(ts_path), ModelSpec(SIZE, 13))


@pytest.fixture(scope="module")
def reference(ts_path):
    """The artifact run directly on torch-preprocessed inputs."""
    module = torch.jit.load(str(ts_path))

    def run(images_uint8: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(preprocess(images_uint8, SIZE), torch.from_numpy(vectors.astype(np.float32))).numpy()

    return run


def image(h=50, w=70, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def vector(seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random(13).astype(np.float32)


# ------------------------------------------------------------------ right answers


def test_raw_image_of_any_size_matches_torch_preprocessing_and_the_preprocessed_tensor(model, reference):
    img, vec = image(50, 70), vector()
    expected = float(reference(img[None], vec[None])[0])
    assert model.predict_ssim(img, vec) == pytest.approx(expected, abs=1e-5)
    tensor = preprocess(img[None], SIZE)[0]  # the run's torch preprocessing, as a torch tensor
    assert model.predict_ssim(tensor, vec) == pytest.approx(expected, abs=1e-5)
    assert model.predict_ssim(tensor.numpy(), torch.from_numpy(vec)) == pytest.approx(expected, abs=1e-5)


def test_dict_params_are_encoded_as_qpbench_encodes_them(model):
    img = image(128, 128)
    assert model.predict_ssim(img, PARAMS) == model.predict_ssim(img, params_to_vector(PARAMS, 128))
    # filter_speckle's range scales with the image's side, as the data pipeline does it
    small = image(64, 64)
    assert model.predict_ssim(small, PARAMS) == model.predict_ssim(small, params_to_vector(PARAMS, 64))
    tensor = preprocess(img[None], SIZE)[0].numpy()
    assert model.predict_ssim(tensor, PARAMS, source_size=128) == model.predict_ssim(img, PARAMS)


def test_batch_equals_single_calls_for_mixed_sizes_and_arrays(model, reference):
    imgs = [image(50, 70, 1), image(16, 16, 2), image(128, 128, 3)]
    vecs = [vector(1), vector(2), PARAMS]
    batch = model.predict_batch(imgs, vecs)
    # a batch may take other kernels than a single row: equal to float32 rounding
    assert batch == pytest.approx([model.predict_ssim(i, v) for i, v in zip(imgs, vecs)], abs=1e-6)
    same = np.stack([image(40, 40, s) for s in range(4)])
    vs = np.stack([vector(s) for s in range(4)])
    np.testing.assert_allclose(model.predict_batch(same, vs), reference(same, vs), atol=1e-5)
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in batch)


def test_concurrent_calls_equal_serial_outputs(model):
    cases = [(image(20 + 3 * k, 30 + k, k), vector(k)) for k in range(8)]
    serial = [model.predict_ssim(i, v) for i, v in cases]
    serial_batch = model.predict_batch([c[0] for c in cases], [c[1] for c in cases])

    def work(k: int) -> list[float]:
        out = []
        for _ in range(5):
            out.append(model.predict_ssim(*cases[k]))
            out.append(model.predict_batch([c[0] for c in cases], [c[1] for c in cases]))
        return out

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    for k, out in enumerate(results):
        assert out[0::2] == [serial[k]] * 5
        assert out[1::2] == [serial_batch] * 5


# ------------------------------------------------------------------ bad input


BAD_IMAGES = [
    (np.zeros((16, 16), np.uint8), ValueError, "3 dimensions"),
    (np.zeros((1, 16, 16, 3), np.uint8), ValueError, "predict_batch"),
    (np.zeros((16, 16, 4), np.uint8), ValueError, "3 channels"),
    (np.zeros((0, 16, 3), np.uint8), ValueError, "no pixels"),
    (np.zeros((16, 16, 3), np.float32), ValueError, "shape (3, 16, 16)"),
    (np.zeros((3, 8, 8), np.float32), ValueError, "shape (3, 16, 16)"),
    (np.zeros((16, 16, 3), np.int32), TypeError, "dtype int32"),
    (np.zeros((3, 16, 16), np.float16), TypeError, "dtype float16"),
    (np.full((3, 16, 16), np.nan, np.float32), ValueError, "NaN or inf"),
    (np.full((3, 16, 16), np.inf, np.float32), ValueError, "NaN or inf"),
    ([[1, 2, 3]], TypeError, "numpy array or torch tensor"),
]


@pytest.mark.parametrize("img, exc, message", BAD_IMAGES)
def test_bad_images_are_refused_naming_the_problem(model, img, exc, message):
    with pytest.raises(exc, match=message.replace("(", r"\(").replace(")", r"\)")):
        model.predict_ssim(img, vector())


def with_(**changes):
    return {**PARAMS, **changes}


BAD_PARAMS = [
    (np.zeros(12, np.float32), ValueError, "expected 13 parameter values, got 12"),
    (np.zeros((1, 13), np.float32), ValueError, "1 dimension"),
    (np.array([np.nan] + [0.5] * 12), ValueError, "NaN or inf"),
    (np.array([0.5] * 12 + [np.inf]), ValueError, "NaN or inf"),
    (np.array([0.5] * 12 + [1.5]), ValueError, "slot 12 .*out of range"),
    (np.array([-0.1] + [0.5] * 12), ValueError, "slot 0 .*'filter_speckle'.*out of range"),
    (np.array([True] * 13), TypeError, "numeric"),
    ("0.5", TypeError, "vector of 13 numbers"),
    (0.5, TypeError, "vector of 13 numbers"),
    ({k: v for k, v in PARAMS.items() if k != "mode"}, ValueError, r"missing parameter\(s\) \['mode'\]"),
    (with_(corner_threshold=181), ValueError, "'corner_threshold'=181 is out of range"),
    (with_(filter_speckle=-1), ValueError, "'filter_speckle'=-1 is out of range"),
    (with_(mode="bezier"), ValueError, "'mode'='bezier' is not one of"),
    (with_(max_iterations=float("nan")), ValueError, "'max_iterations' is NaN"),
    (with_(colour="red"), ValueError, r"unknown parameter\(s\) \['colour'\]"),
]


@pytest.mark.parametrize("params, exc, message", BAD_PARAMS)
def test_bad_params_are_refused_never_clamped(model, params, exc, message):
    with pytest.raises(exc, match=message):
        model.predict_ssim(image(), params)


def test_dict_params_with_a_preprocessed_image_need_the_source_size(model):
    tensor = np.zeros((3, SIZE, SIZE), np.float32)
    with pytest.raises(ValueError, match="source_size"):
        model.predict_ssim(tensor, PARAMS)


def test_bad_batches_are_refused(model):
    imgs, vecs = [image(), image()], [vector(), vector()]
    with pytest.raises(ValueError, match="empty batch"):
        model.predict_batch([], [])
    with pytest.raises(ValueError, match="empty batch"):
        model.predict_batch(np.zeros((0, 16, 16, 3), np.uint8), np.zeros((0, 13), np.float32))
    with pytest.raises(ValueError, match="mismatched batch lengths: 2 image"):
        model.predict_batch(imgs, vecs[:1])
    with pytest.raises(ValueError, match="mismatched batch lengths"):
        model.predict_batch(imgs, np.zeros((3, 13), np.float32))
    with pytest.raises(ValueError, match="4 dimensions"):
        model.predict_batch(np.zeros((16, 16, 3), np.uint8), vecs)
    with pytest.raises(ValueError, match="2 dimensions"):
        model.predict_batch(imgs, np.zeros(13, np.float32))
    with pytest.raises(TypeError, match="sequence"):
        model.predict_batch("images", vecs)
    with pytest.raises(ValueError, match=r"images\[1\].*3 channels"):
        model.predict_batch([image(), np.zeros((8, 8, 1), np.uint8)], vecs)
    with pytest.raises(ValueError, match=r"params\[1\].*out of range"):
        model.predict_batch(imgs, [vector(), np.full(13, 2.0)])


# ------------------------------------------------------------------ monitoring, warm-up, output range


class FakeBackend(Backend):
    """Returns a fixed output per row; records calls and how many run at once."""

    format = "fake-test"
    thread_safe = True

    def __init__(self, outputs=(0.5,), delay_s=0.0) -> None:
        self.outputs = outputs
        self.delay_s = delay_s
        self.calls = 0
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def run(self, images, params):
        with self._lock:
            self.calls += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        time.sleep(self.delay_s)
        with self._lock:
            self.active -= 1
        return np.resize(np.asarray(self.outputs, dtype=np.float32), images.shape[0])


class FakeClock:
    def __init__(self, durations_s):
        self.now = 0.0
        self.durations = list(durations_s)
        self.started = False

    def __call__(self) -> float:
        if self.started:  # the end of a call: advance by its duration
            self.now += self.durations.pop(0)
        self.started = not self.started
        return self.now


def test_warm_up_runs_on_load_and_is_not_counted():
    backend = FakeBackend()
    wrapper = ProductionInferenceWrapper(backend, ModelSpec(SIZE, 13), warmup_calls=3)
    assert backend.calls == 3
    stats = wrapper.get_performance_stats()
    assert stats["warmup_calls"] == 3 and stats["calls"] == 0 and stats["p95_ms"] is None


def test_performance_stats_with_a_fake_clock_count_calls_over_the_target(caplog):
    clock = FakeClock([0.002, 0.010, 0.003, 0.008])  # seconds per call
    wrapper = ProductionInferenceWrapper(FakeBackend(), ModelSpec(SIZE, 13, latency_target_ms=5.0), timer=clock)
    with caplog.at_level(logging.WARNING, logger="qpbench.runtime.wrapper"):
        for _ in range(3):
            wrapper.predict_ssim(image(), vector())
        wrapper.predict_batch([image()] * 4, [vector()] * 4)  # 8 ms for 4 images: 2 ms an image
    stats = wrapper.get_performance_stats()
    assert stats["calls"] == 4 and stats["images"] == 7
    assert stats["over_target"] == 1
    assert stats["max_ms"] == pytest.approx(10.0)
    assert stats["mean_ms"] == pytest.approx((2 + 10 + 3 + 2) / 4)
    assert stats["p95_ms"] == pytest.approx(np.percentile([2, 10, 3, 2], 95))
    over = [r for r in caplog.records if "over the 5.00 ms target" in r.getMessage()]
    assert len(over) == 1 and "10.00 ms per image" in over[0].getMessage()


def test_a_fast_run_is_not_flagged(caplog):
    clock = FakeClock([0.001] * 5)
    wrapper = ProductionInferenceWrapper(FakeBackend(), ModelSpec(SIZE, 13, latency_target_ms=5.0), timer=clock)
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            wrapper.predict_ssim(image(), vector())
    assert wrapper.get_performance_stats()["over_target"] == 0
    assert not caplog.records


def test_outputs_outside_0_1_are_clipped_counted_and_logged(caplog):
    wrapper = ProductionInferenceWrapper(FakeBackend(outputs=(1.02, -0.01, 0.4)), ModelSpec(SIZE, 13), warmup_calls=0)
    with caplog.at_level(logging.WARNING, logger="qpbench.runtime.wrapper"):
        out = wrapper.predict_batch([image()] * 3, [vector()] * 3)
    assert out == [1.0, 0.0, pytest.approx(0.4)]
    assert wrapper.get_performance_stats()["out_of_range_outputs"] == 2
    assert any("2 raw prediction(s) outside [0, 1]" in r.getMessage() for r in caplog.records)


def test_nan_output_raises():
    wrapper = ProductionInferenceWrapper(FakeBackend(outputs=(np.nan,)), ModelSpec(SIZE, 13), warmup_calls=0)
    with pytest.raises(RuntimeError, match="NaN or inf"):
        wrapper.predict_ssim(image(), vector())


def test_a_backend_that_is_not_thread_safe_runs_one_call_at_a_time():
    class Serial(FakeBackend):
        thread_safe = False

    unsafe, safe = Serial(delay_s=0.005), FakeBackend(delay_s=0.005)
    for backend in (unsafe, safe):
        wrapper = ProductionInferenceWrapper(backend, ModelSpec(SIZE, 13), warmup_calls=0)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: wrapper.predict_ssim(image(), vector()), range(16)))
    assert unsafe.max_active == 1
    assert safe.max_active > 1  # the lock is what serialised the other one


# ------------------------------------------------------------------ backends


def test_backend_registry_is_keyed_by_format(tmp_path, ts_path):
    assert backend_for("torchscript") is TorchScriptBackend
    assert set(BACKENDS) == {"torchscript", "aoti", "onnx", "openvino"}
    with pytest.raises(ValueError, match="no backend for artifact format 'tflite'"):
        backend_for("tflite")

    class Other(Backend):
        format = "torchscript"

    with pytest.raises(ValueError, match="already has a backend"):
        register_backend(Other)
    assert BACKENDS["torchscript"] is TorchScriptBackend
    assert detect_format(ts_path) == "torchscript"
    state = tmp_path / "state.pt"
    torch.save(ImageNet().state_dict(), state)
    with pytest.raises(ValueError, match="state_dict needs the model's source"):
        detect_format(state)
    with pytest.raises(ValueError, match="unknown torchscript backend option"):
        TorchScriptBackend.load(ts_path, threads=None, fuse=True)


def test_batch_of_preprocessed_images_with_dict_params_takes_source_sizes(model):
    imgs = [image(128, 128, 1), image(64, 64, 2)]
    tensors = np.stack([preprocess(i[None], SIZE)[0].numpy() for i in imgs])
    expected = model.predict_batch(imgs, [PARAMS, PARAMS])
    assert model.predict_batch(tensors, [PARAMS, PARAMS], source_sizes=[128, 64]) == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="source_size"):
        model.predict_batch(tensors, [PARAMS, PARAMS])
    with pytest.raises(ValueError, match="mismatched batch lengths: 2 image.*1 source size"):
        model.predict_batch(tensors, [PARAMS, PARAMS], source_sizes=[128])


@pytest.mark.slow
@pytest.mark.builds_only
def test_aoti_backend_serves_threads_like_serial_calls(tmp_path):
    """The AOTInductor package (pt2e-int8's and aoti's artifact) behind the wrapper."""
    from qpbench.runtime.backends import AOTInductorBackend
    from qpbench.optimize.export import export_model, package_aoti

    torch.manual_seed(0)
    net = ImageNet().eval()
    example = (torch.randn(2, 3, SIZE, SIZE), torch.rand(2, 13))
    try:
        path = package_aoti(export_model(net, example), tmp_path / "model.pt2")
    except Exception as exc:  # no C++ compiler here
        pytest.skip(f"AOTInductor cannot compile here: {exc!r}")
    assert detect_format(path) == "aoti"
    wrapper = ProductionInferenceWrapper(AOTInductorBackend.load(path), ModelSpec(SIZE, 13))
    cases = [(image(20 + k, 30, k), vector(k)) for k in range(8)]
    with torch.inference_mode():
        eager = net(preprocess(np.stack([image(20 + k, 30, k) for k in range(1)]), SIZE), torch.from_numpy(vector(0))[None])
    assert wrapper.predict_ssim(*cases[0]) == pytest.approx(float(eager[0]), abs=1e-4)
    serial = [wrapper.predict_ssim(i, v) for i, v in cases]
    with ThreadPoolExecutor(8) as pool:
        rounds = list(pool.map(lambda k: [wrapper.predict_ssim(*cases[k]) for _ in range(5)], range(8)))
    assert rounds == [[s] * 5 for s in serial]
