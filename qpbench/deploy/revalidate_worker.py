"""Fresh-process re-measurement of a deployment package, through the package's own wrapper.

Run as ``python -I -B revalidate_worker.py`` with the JSON request on stdin (``-I``: no
PYTHONPATH, no user site, the script's folder not on the path; so qpbench is
not importable and the package's ``qpdeploy`` is loaded by file path).
Standard library and numpy only. Prints one JSON line.

Request: package (dir), samples (npz with images uint8 (n_images, H, W, 3),
preprocessed float32 (n_images, 3, S, S) made by the run's torch
preprocessing, img_idx, params_vec, ssim), latency_calls, batch_size.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np


def load_runtime(package: Path):
    """The package's qpdeploy.wrapper module, imported from its files."""
    root = package / "qpdeploy"
    spec = importlib.util.spec_from_file_location("qpdeploy", root / "__init__.py",
                                                  submodule_search_locations=[str(root)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["qpdeploy"] = module
    spec.loader.exec_module(module)
    return importlib.import_module("qpdeploy.wrapper")


def peak_rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def die_with_parent() -> None:
    """Killed with the process that started it (Linux: PR_SET_PDEATHSIG; qpbench's own
    parent_watch is not importable here, by design)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def main() -> int:
    die_with_parent()
    request = json.loads(sys.stdin.read())
    package = Path(request["package"])
    batch = int(request["batch_size"])
    start = time.perf_counter()
    wrapper_mod = load_runtime(package)
    model = wrapper_mod.ProductionInferenceWrapper.load(package)  # verifies the manifest
    load_s = time.perf_counter() - start
    with np.load(request["samples"], allow_pickle=False) as npz:
        images, pre = npz["images"], npz["preprocessed"]
        idx, params, labels = npz["img_idx"].astype(np.int64), npz["params_vec"], npz["ssim"].astype(np.float64)
    n = labels.shape[0]
    raw_pred = np.empty(n)
    pre_pred = np.empty(n)
    for s in range(0, n, batch):
        ids = np.arange(s, min(s + batch, n))
        raw_pred[ids] = model.predict_batch(images[idx[ids]], params[ids])
        pre_pred[ids] = model.predict_batch(pre[idx[ids]], params[ids])
    # Batch-1 latency, interleaved so machine noise hits both alike: the artifact alone
    # (what the run timed: the model called on a preprocessed batch of 1) and the
    # wrapper's predict_ssim on the same preprocessed input (its checks included).
    times_backend, times_pre, times_raw = [], [], []
    calls = int(request["latency_calls"])
    for i in range(calls):
        k = i % n
        x, p = np.ascontiguousarray(pre[idx[k]][None]), np.ascontiguousarray(params[k][None])
        t0 = time.perf_counter()
        model.backend.run(x, p)
        times_backend.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        model.predict_ssim(pre[idx[k]], params[k])
        times_pre.append(time.perf_counter() - t0)
    for i in range(max(1, calls // 4)):  # with the numpy preprocessing of a raw image
        k = i % n
        t0 = time.perf_counter()
        model.predict_ssim(images[idx[k]], params[k])
        times_raw.append(time.perf_counter() - t0)
    err = raw_pred - labels
    ms = lambda xs, q: float(np.percentile(np.asarray(xs) * 1e3, q))  # noqa: E731
    print(json.dumps({
        "n_samples": int(n),
        "pearson": pearson(raw_pred, labels),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err ** 2))),
        "pearson_preprocessed_input": pearson(pre_pred, labels),
        "max_abs_diff_numpy_vs_torch_preprocessing": float(np.max(np.abs(raw_pred - pre_pred))),
        "latency_calls": calls,
        "batch1_artifact_p50_ms": ms(times_backend, 50),
        "batch1_artifact_p95_ms": ms(times_backend, 95),
        "batch1_wrapper_p50_ms": ms(times_pre, 50),
        "batch1_wrapper_p95_ms": ms(times_pre, 95),
        "batch1_wrapper_with_preprocessing_p50_ms": ms(times_raw, 50),
        "load_and_warmup_s": load_s,
        "wrapper_stats": model.get_performance_stats(),
        "torch_imported": "torch" in sys.modules,
        "qpbench_imported": "qpbench" in sys.modules,
        "peak_rss_mb": peak_rss_mb(),
        "python": sys.version.split()[0],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
