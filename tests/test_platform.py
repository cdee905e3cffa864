"""A platform without /proc and without sched_setaffinity (macOS, where a package of an
ONNX Runtime or OpenVINO variant runs): everything the package and the workers read
from /proc has a fallback, and the ru_maxrss fallback reads macOS's unit (bytes)."""

from __future__ import annotations

import builtins
import io
import json
import os
import resource
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from qpbench.optimize import affinity
from qpbench.runtime import rss
from qpbench.runtime.manifest import write_manifest
from qpbench.runtime.wrapper import ProductionInferenceWrapper

MIB = 2**20


@pytest.fixture
def no_proc(monkeypatch):
    """/proc and /sys are absent (to open, os.open and pathlib), os.sched_setaffinity too; records every
    path that was tried."""
    tried: list[str] = []
    real_open = builtins.open

    def open_without_proc(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and str(file).startswith(("/proc", "/sys")):
            tried.append(str(file))
            raise FileNotFoundError(2, "No such file or directory", str(file))
        return real_open(file, *args, **kwargs)

    real_os_open = os.open

    def os_open_without_proc(path, *args, **kwargs):
        if str(path).startswith(("/proc", "/sys")):
            tried.append(str(path))
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", open_without_proc)
    monkeypatch.setattr(os, "open", os_open_without_proc)
    monkeypatch.setattr(io, "open", open_without_proc)  # pathlib's read_text goes through io.open
    for name in ("sched_setaffinity", "sched_getaffinity"):
        monkeypatch.delattr(os, name, raising=False)
    return tried


@pytest.fixture
def macos(no_proc, monkeypatch):
    """... and getrusage reports ru_maxrss in bytes, as macOS does: 300 MiB."""
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(resource, "getrusage", lambda who: SimpleNamespace(ru_maxrss=300 * MIB))
    return no_proc


# ------------------------------------------------------------------ ru_maxrss units


def test_ru_maxrss_is_kib_on_linux_and_bytes_on_macos(monkeypatch):
    assert rss.ru_maxrss_mb(300 * 1024, "linux") == 300.0
    assert rss.ru_maxrss_mb(300 * MIB, "darwin") == 300.0
    monkeypatch.setattr(sys, "platform", "darwin")
    assert rss.ru_maxrss_mb(300 * MIB) == 300.0
    monkeypatch.setattr(sys, "platform", "linux")
    assert rss.ru_maxrss_mb(300 * 1024) == 300.0


def test_peak_rss_without_proc_comes_from_getrusage_in_the_platform_unit(no_proc, monkeypatch):
    monkeypatch.setattr(resource, "getrusage", lambda who: SimpleNamespace(ru_maxrss=300 * 1024))
    monkeypatch.setattr(sys, "platform", "linux")
    assert rss.max_rss_mb() == 300.0
    monkeypatch.setattr(resource, "getrusage", lambda who: SimpleNamespace(ru_maxrss=300 * MIB))
    monkeypatch.setattr(sys, "platform", "darwin")
    assert rss.max_rss_mb() == 300.0
    assert "/proc/self/status" in no_proc


def test_on_linux_proc_is_read_first():
    if not Path("/proc/self/status").exists():
        pytest.skip("no /proc here")
    assert rss.max_rss_mb() > 0 and rss.current_rss_mb() > 0
    assert all(v > 0 for v in rss.rss_split_mb().values())


def test_current_rss_without_proc_uses_psutil_or_says_it_does_not_know(no_proc, monkeypatch):
    # psutil itself reads /proc on Linux: a stand-in answers as psutil does on macOS
    fake = SimpleNamespace(Process=lambda: SimpleNamespace(memory_info=lambda: SimpleNamespace(rss=123 * MIB)))
    monkeypatch.setitem(sys.modules, "psutil", fake)
    assert rss.current_rss_mb() == 123.0
    monkeypatch.setitem(sys.modules, "psutil", None)  # a deployment process without psutil
    assert rss.current_rss_mb() is None
    assert rss.rss_split_mb() == {"rss_anon_mb": None, "rss_file_mb": None}


def test_no_resource_module_means_no_peak(no_proc, monkeypatch):
    monkeypatch.setattr(rss, "resource", None)  # Windows
    assert rss.max_rss_mb() is None


# ------------------------------------------------------------------ affinity, machine probe


def test_affinity_is_a_no_op_without_sched_setaffinity(no_proc):
    assert not affinity.supported()
    assert affinity.allowed_cpus() == list(range(os.cpu_count() or 1))
    with affinity.cpu_affinity([0]):
        pass


def test_the_machine_probe_and_thread_candidates_run_without_proc_and_sys(no_proc):
    from qpbench import system
    from qpbench.optimize.threads import candidate_thread_counts

    assert system.cache_sizes() == []
    assert candidate_thread_counts()[-1] <= (os.cpu_count() or 1)


# ------------------------------------------------------------------ a torch-free package and its worker


def tiny_onnx(path: Path, size: int = 8) -> Path:
    """ONNX graph (image, params) -> ssim: sigmoid(mean(image) + mean(params)), made with onnx.helper (no torch)."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    axes_img = helper.make_tensor("axes_img", TensorProto.INT64, [3], [1, 2, 3])
    axes_par = helper.make_tensor("axes_par", TensorProto.INT64, [1], [1])
    nodes = [
        helper.make_node("ReduceMean", ["image", "axes_img"], ["mi"], keepdims=0),
        helper.make_node("ReduceMean", ["params", "axes_par"], ["mp"], keepdims=0),
        helper.make_node("Add", ["mi", "mp"], ["s"]),
        helper.make_node("Sigmoid", ["s"], ["ssim"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, size, size]),
         helper.make_tensor_value_info("params", TensorProto.FLOAT, ["N", 13])],
        [helper.make_tensor_value_info("ssim", TensorProto.FLOAT, ["N"])],
        initializer=[axes_img, axes_par])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def onnx_package(root: Path, size: int = 8) -> Path:
    root.mkdir()
    tiny_onnx(root / "model.onnx", size)
    (root / "deployment_config.json").write_text(json.dumps({
        "variant": "onnx-fp32",
        "artifact": {"file": "model.onnx", "format": "onnx", "options": {}},
        "model": {"input_size": size, "n_params": 13, "param_encoding": "vtracer-13"},
        "targets": {"latency_p95_ms": 1000.0, "peak_rss_mb": 100.0},
        "runtime": {"threads": 1},
    }))
    write_manifest(root)
    return root


def test_an_onnx_package_serves_and_monitors_on_a_platform_without_proc(tmp_path, macos, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "psutil", None)  # nothing beyond numpy and the runtime
    package = onnx_package(tmp_path / "pkg")
    model = ProductionInferenceWrapper.load(package)
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    value = model.predict_ssim(image, np.full(13, 0.5, np.float32))
    assert 0.0 < value < 1.0
    stats = model.get_performance_stats()
    # No current RSS without /proc or psutil; the peak is getrusage's 300 MiB in bytes, not 300 GiB.
    assert stats["rss_mb"] is None and stats["peak_rss_mb"] == 300.0
    assert stats["over_memory_target"] == 1 and "RSS 300.0 MiB is over the 100.0 MiB memory target" in caplog.text
    assert any(p.startswith("/proc") for p in macos)  # it did look, and fell back


def test_the_torch_free_memory_worker_runs_without_proc(tmp_path, macos):
    from qpbench.measure.runtime_worker import measure

    artifact = tiny_onnx(tmp_path / "model.onnx")
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, image=np.zeros((1, 3, 8, 8), np.float32), params=np.zeros((1, 13), np.float32))
    report = _measure_without_torch_check(measure, {"runtime": "onnxruntime", "iterations": 2, "inputs": str(inputs),
                                                    "options": {"artifact": str(artifact), "threads": 1}})
    assert report["peak_rss_mb"] == 300.0 and report["baseline_rss_mb"] == 300.0
    assert report["rss_anon_mb"] is None and report["rss_file_mb"] is None


def _measure_without_torch_check(measure, request):
    """runtime_worker.measure raises when torch is in sys.modules (it is, in this test process): hide it."""
    saved = sys.modules.pop("torch", None)
    try:
        return measure(request)
    finally:
        if saved is not None:
            sys.modules["torch"] = saved


def test_the_package_revalidation_worker_reads_no_proc_it_cannot_do_without(no_proc):
    from qpbench.deploy import revalidate_worker

    assert revalidate_worker.peak_rss_mb() is None  # reported as unknown, not a crash
