"""Bounds on what a run loads: dataset size (from the .npy headers), params_vec range,
finite targets, weights and checkpoints. Each fault is planted; a clean input passes."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from qpbench.config import make_scoring
from qpbench.data.dataset import load_labelled, npz_array_bytes
from qpbench.errors import ConfigError, WorkloadError


def clean_arrays(n_images: int = 3, per_image: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = n_images * per_image
    return {"images": rng.integers(0, 256, (n_images, 8, 8, 3), dtype=np.uint8),
            "img_idx": np.repeat(np.arange(n_images), per_image).astype(np.int32),
            "params_vec": rng.random((n, 13), dtype=np.float32),
            "ssim": rng.random(n, dtype=np.float32)}


def save(path: Path, **arrays: np.ndarray) -> Path:
    np.savez_compressed(path, **arrays)
    return path


def bomb(path: Path, shape: tuple[int, ...]) -> Path:
    """An .npz whose 'images' header claims ``shape`` (uint8) but whose data is a few zeros."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("images.npy", header.getvalue() + bytes(1 << 20))
        for key, value in clean_arrays().items():
            if key != "images":
                buf = io.BytesIO()
                np.save(buf, value)
                zf.writestr(f"{key}.npy", buf.getvalue())
    return path


def test_a_clean_dataset_loads(tmp_path):
    data = load_labelled(save(tmp_path / "ok.npz", **clean_arrays()))
    assert data.n_samples == 6 and data.n_params == 13


def test_a_dataset_that_would_decompress_beyond_the_limit_is_refused_before_loading(tmp_path, monkeypatch):
    path = bomb(tmp_path / "bomb.npz", (100_000, 128, 128, 3))  # 4.6 GiB claimed, ~1 KiB on disk
    assert path.stat().st_size < 100_000
    assert npz_array_bytes(path, ["images"]) == {"images": 100_000 * 128 * 128 * 3}

    def never(*args, **kwargs):
        raise AssertionError("np.load was reached")

    monkeypatch.setattr(np, "load", never)
    with pytest.raises(WorkloadError, match=r"would take 4688 MiB once decompressed \('images' alone 4688 MiB\), "
                                            r"over the limit of 4096 MiB"):
        load_labelled(path)


def test_the_size_limit_is_a_parameter(tmp_path):
    path = save(tmp_path / "ok.npz", **clean_arrays())
    with pytest.raises(WorkloadError, match="over the limit of 0.0001 MiB"):
        load_labelled(path, max_mb=0.0001)
    assert load_labelled(path, max_mb=1).n_samples == 6


@pytest.mark.parametrize("value, slot", [(1.5, 3), (-0.25, 0)])
def test_params_vec_outside_0_1_is_refused_at_load(tmp_path, value, slot):
    arrays = clean_arrays()
    arrays["params_vec"][4, slot] = value
    with pytest.raises(WorkloadError, match=rf"'params_vec' sample 4 slot {slot} .* = {value:g} is outside \[0, 1\]"):
        load_labelled(save(tmp_path / "bad.npz", **arrays))


def test_a_parameter_vector_of_another_model_is_not_held_to_0_1(tmp_path):
    arrays = clean_arrays()
    arrays["params_vec"] = np.full((6, 5), 7.0, np.float32)  # not the vtracer encoding
    assert load_labelled(save(tmp_path / "other.npz", **arrays)).n_params == 5


@pytest.mark.parametrize("targets, weights, message", [
    (["latency_p95_ms=inf"], [], "target latency_p95_ms must be a finite number"),
    (["pearson=nan"], [], "target pearson must be a finite number"),
    ([], ["pearson=inf"], "weights must be >= 0 and finite"),
    ([], ["latency_p95_ms=nan"], "weights must be >= 0 and finite"),
])
def test_targets_and_weights_must_be_finite(targets, weights, message):
    with pytest.raises(ConfigError, match=message):
        make_scoring(targets, weights, None)
    assert make_scoring(["latency_p95_ms=80"], ["pearson=0.5"], None).targets.latency_p95_ms == 80


def test_a_checkpoint_with_nan_weights_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    from qpbench.workload import load_checkpoint

    model = torch.nn.Linear(3, 1)
    good = tmp_path / "good.pt"
    torch.save(model.state_dict(), good)
    load_checkpoint(model, good)
    state = model.state_dict()
    state["weight"][0, 1] = float("nan")
    bad = tmp_path / "bad.pt"
    torch.save(state, bad)
    with pytest.raises(WorkloadError, match=r"holds NaN or inf in 1 tensor\(s\), first 'weight'"):
        load_checkpoint(torch.nn.Linear(3, 1), bad)


@pytest.mark.parametrize("version, old", [("2.5.1+cpu", True), ("2.4.0", True), ("1.13.1", True),
                                          ("2.6.0", False), ("2.14.1+cu126", False), ("3.0.0a0", False)])
def test_a_torch_older_than_2_6_is_named(version, old):
    from qpbench.system import torch_version_problem

    problem = torch_version_problem(version)
    assert (problem is not None) == old
    if old:
        assert f"torch {version} is older than 2.6" in problem and "CVE-2025-32434" in problem


def test_qpbench_info_and_checkpoint_loading_warn_on_an_old_torch(tmp_path, monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    from qpbench import cli, system
    from qpbench.workload import load_checkpoint

    fingerprint = system.fingerprint()
    monkeypatch.setattr(system, "fingerprint", lambda: {**fingerprint, "torch": "2.5.1"})
    assert cli.main(["info"]) == 0
    assert re.search(r"^WARNING +torch 2.5.1 is older than 2.6", capsys.readouterr().out, re.MULTILINE)

    model = torch.nn.Linear(2, 1)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    monkeypatch.setattr(torch, "__version__", "2.5.1")
    with pytest.warns(RuntimeWarning, match="CVE-2025-32434"):
        load_checkpoint(model, tmp_path / "m.pt")
