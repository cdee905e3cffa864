"""What a deployment package holds beside its artifact: the wrapper's modules (``qpdeploy/``,
byte-identical copies of qpbench/runtime/), the deployment config, the README and the
performance report.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from qpbench import __version__
from qpbench.data.dataset import load_labelled
from qpbench.deploy.artifact import Artifact, artifact_bytes
from qpbench.deploy.record import run_figures
from qpbench.deploy.revalidate import Revalidation
from qpbench.models import N_PARAMS
from qpbench.record import RunRecord
from qpbench.runtime.backends import backend_for
from qpbench.runtime.inputs import VTRACER_ENCODING
from qpbench.workload import IMAGENET_MEAN, IMAGENET_STD


QPBENCH_ROOT = Path(__file__).resolve().parents[1]
RUNTIME_PACKAGE = "qpdeploy"
# (source under qpbench/, name in the package's qpdeploy/): real modules, copied byte for byte.
RUNTIME_FILES = (
    ("runtime/__init__.py", "__init__.py"),
    ("runtime/wrapper.py", "wrapper.py"),
    ("runtime/inputs.py", "inputs.py"),  # the wrapper's checks of images and parameters
    ("runtime/backends.py", "backends.py"),
    ("runtime/preprocess.py", "preprocess.py"),
    ("runtime/manifest.py", "manifest.py"),
    ("runtime/params.py", "params.py"),
    ("runtime/rss.py", "rss.py"),  # the wrapper reports and watches RSS
    ("runtime/cpu_quota.py", "cpu_quota.py"),  # the backends' default threads respect a container's CPU quota
)
REPORT_NAME = "performance_report.json"


def copy_runtime(dest: Path) -> dict[str, str]:
    """Copy the wrapper's modules into ``dest/qpdeploy``; returns {package path: source path}."""
    target = dest / RUNTIME_PACKAGE
    target.mkdir()
    copied = {}
    for source, name in RUNTIME_FILES:
        shutil.copyfile(QPBENCH_ROOT / source, target / name)
        copied[f"{RUNTIME_PACKAGE}/{name}"] = f"qpbench/{source}"
    return copied


def system_requirements(record: RunRecord, artifact: Artifact) -> dict[str, Any]:
    import torch

    fp = record.fingerprint
    needs = list(backend_for(artifact.format).requires)
    reqs: dict[str, Any] = {
        "python": f">={platform.python_version_tuple()[0]}.{platform.python_version_tuple()[1]}",
        "numpy": f"{np.__version__} (packaged with; any numpy 1.24+ runs the wrapper)",
        "packages": needs,
        "os": platform.system(),
        "machine": platform.machine(),
        "model_source_needed": False,
        "run_fingerprint": {k: fp[k] for k in ("cpu", "cores_logical", "python", "torch", "build", "cpu_capability")
                            if k in fp},
    }
    for runtime in needs:
        if runtime != "torch":
            from importlib import metadata

            try:
                reqs[runtime] = f"=={metadata.version(runtime)} (the version that measured it); no torch needed"
            except metadata.PackageNotFoundError:
                reqs[runtime] = "not installed where the package was built"
    if "torch" in needs:
        reqs["torch"] = (f"=={torch.__version__}: TorchScript archives and AOTInductor packages load with the "
                         "torch version that wrote them")
    if artifact.format == "aoti":
        reqs["cpu"] = ("the CPU family the package was compiled on (AOTInductor emits native code for the "
                       "build machine's instruction set): see run_fingerprint")
    return reqs


def deployment_config(record: RunRecord, variant: str, artifact: Artifact, artifact_name: str) -> dict[str, Any]:
    workload = record.workload.to_dict()
    figures = run_figures(record, variant)
    info = figures.get("variant") or {}
    size = int(workload["input_size"])
    n_params = load_labelled(workload["dataset"]).n_params

    return {
        "format_version": 1,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "qpbench_version": __version__,
        "variant": variant,
        "variant_description": info.get("description"),
        "artifact": {"file": artifact_name, "format": artifact.format, "options": artifact.options,
                     "origin": artifact.origin, "bytes": artifact_bytes(artifact)},
        "runtime": {"threads": artifact.threads,
                    "threads_note": "intra-op threads set on load (process-wide); null: torch's default"},
        "model": {
            "input_size": size,
            "n_params": n_params,
            # a dict of raw vtracer parameters is accepted only for the 13-slot vtracer vector
            "param_encoding": VTRACER_ENCODING if n_params == N_PARAMS else None,
            "param_encoding_note": "qpbench.runtime.params.params_to_vector (qpdeploy/params.py); raw parameter "
                                   "ranges are scaled for the image's side round(sqrt(H*W))",
            "output": "predicted SSIM of the vtracer conversion; returned clipped to [0, 1], raw values outside "
                      "are counted and logged",
            "workload": workload,
        },
        "preprocessing": {
            "input": "uint8 (H, W, 3) RGB, any size",
            "steps": ["float32 / 255", "HWC -> CHW",
                      f"bilinear resize to {size}x{size}, align_corners=False, no antialias",
                      "(x - mean) / std"],
            "resize": {"size": [size, size], "mode": "bilinear", "align_corners": False, "antialias": False},
            "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD),
            "implementation": f"{RUNTIME_PACKAGE}/preprocess.py (numpy; equals qpbench.workload.preprocess within 1e-4)",
        },
        "targets": asdict(record.verdict.config.targets),
        "system_requirements": system_requirements(record, artifact),
        "source_run": {"record": record.source, "created": record.created,
                       "eval_set": record.eval_set, "profile": record.profile.get("name")},
    }


README_TEMPLATE = """# Deployment package: {variant}

Predicts the SSIM a vtracer conversion of an image will reach, from the image
and the 13 vtracer parameters. Built by qpbench {version} from the run of
{created} ({workload} workload); artifact `{artifact}` ({fmt}).

## Use

```python
import sys
sys.path.insert(0, "<this folder>")
from {runtime}.wrapper import ProductionInferenceWrapper

model = ProductionInferenceWrapper.load("<this folder>", expected_sha256="<digest>")  # checks, warms up
ssim = model.predict_ssim(image, {{                 # image: uint8 (H, W, 3) RGB, any size
    "filter_speckle": 4, "color_precision": 6, "layer_difference": 16,
    "corner_threshold": 60, "length_threshold": 4.0, "max_iterations": 10,
    "splice_threshold": 45, "path_precision": 8,
    "colormode": "color", "hierarchical": "stacked", "mode": "spline"}})
ssims = model.predict_batch([image1, image2], [params1, params2])
print(model.get_performance_stats())   # mean, p50, p95, max ms per image, calls over the target
```

`params` may also be the 13-value vector (each slot in [0, 1]); `image` may be
an already preprocessed float32 (3, {size}, {size}) array or tensor (then a
dict of parameters needs `source_size=`, the original image's side). Bad input
raises ValueError or TypeError naming the problem; nothing is clamped. A raw
prediction outside [0, 1] is returned clipped, counted in
`get_performance_stats()["out_of_range_outputs"]` and logged (logger
`{runtime}.wrapper`). The wrapper is safe to call from several threads.

## Trust: pin the digest

Loading `{artifact}` runs code from it (TorchScript and AOTInductor files carry code, not
only weights), and `{runtime}/` is Python. `manifest.json` holds the sha256 of every file: it
catches corruption, not someone who rewrites a file and the manifest together. The package's
digest is the sha256 of `manifest.json`; the builder printed it. Pin it, and check it with
code from outside this folder before anything in it is imported or loaded:

    python -m qpbench package verify <this folder> --expect-sha256 <digest>
    python -I /trusted/copy/of/manifest.py <this folder> --expect-sha256 <digest>   # without qpbench

then `ProductionInferenceWrapper.load("<this folder>", expected_sha256="<digest>")` checks it
again before the model loads. Byte-code caches (`__pycache__`) are not in the manifest: deploy
the folder read-only without them, or set `PYTHONPYCACHEPREFIX` to a private folder.

## Requirements

{requirements}

## Files

- `{artifact}`: the model ({fmt}), `{runtime}/`: the wrapper (stdlib + numpy; the backend
  imports {packages} when the package loads)
- `deployment_config.json`: variant, preprocessing, targets, requirements
- `performance_report.json`: the run's measurements of this variant and their re-validation in
  a fresh process from this package
- `manifest.json`: sha256 of every file; checked on every load
  (`python -m qpbench package verify <dir>` also re-measures)
"""


def write_readme(dest: Path, config: dict[str, Any]) -> None:
    reqs = config["system_requirements"]
    lines = [f"- {k}: {v}" for k, v in reqs.items() if k != "run_fingerprint"]
    lines.append(f"- measured on: {json.dumps(reqs.get('run_fingerprint', {}))}")
    (dest / "README.md").write_text(README_TEMPLATE.format(
        variant=config["variant"], version=__version__, created=config["source_run"]["created"],
        workload=config["model"]["workload"]["name"], artifact=config["artifact"]["file"],
        fmt=config["artifact"]["format"], runtime=RUNTIME_PACKAGE, size=config["model"]["input_size"], requirements="\n".join(lines),
        packages=", ".join(reqs["packages"]) or "nothing else"))


def performance_report(record: RunRecord, variant: str, reval: Revalidation) -> dict[str, Any]:
    figures = run_figures(record, variant)
    figures.pop("variant", None)
    for lat in figures["latency"].values():
        lat.pop("samples_s", None)  # percentiles stay; raw samples live in the run record
    return {
        "variant": variant,
        "run": {"record": record.source, "created": record.created, "eval_set": record.eval_set, **figures},
        "revalidation": reval.to_dict(),
    }
