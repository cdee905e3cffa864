"""Build and verify a deployment package for one variant of a run.

A package is a directory:

    model.pt2 | model.pt        the variant's artifact (AOTInductor package or TorchScript archive,
    | model.onnx | model.xml+bin  or an ONNX model / OpenVINO IR, which run without torch)
    qpdeploy/                   the inference wrapper: byte-identical copies of the modules of
                                qpbench/runtime/ it needs (stdlib + numpy at import)
    deployment_config.json      variant, artifact format, preprocessing, targets, system requirements
    performance_report.json     the run's figures for the variant and the re-validation's
    README.md                   usage
    manifest.json               sha256 and size of every other file (checked on load)

It is built in a temporary directory beside the target and renamed into place
only after the fresh-process re-validation passed: never a half-written or
unchecked package.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qpbench import __version__
from qpbench.runtime import manifest as manifest_mod
from qpbench.runtime.backends import backend_for, detect_format
from qpbench.deploy.record import PackageError, load_run, resolve_variant, run_figures
from qpbench.deploy.revalidate import PACKAGE, Tolerances
from qpbench.deploy.revalidate import Revalidation, revalidate
from qpbench.runtime.inputs import VTRACER_ENCODING
from qpbench.runtime.wrapper import CONFIG_NAME, artifact_files
from qpbench.data.dataset import load_labelled
from qpbench.errors import QPBenchError
from qpbench.files import write_json
from qpbench.models import N_PARAMS
from qpbench.record import RunRecord
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
ARTIFACT_STEM = "model"
ARTIFACT_SUFFIX = {"aoti": ".pt2", "torchscript": ".pt", "onnx": ".onnx", "openvino": ".xml"}
# Variants whose runnable is torch.jit.optimize_for_inference of the loaded archive.
OPTIMIZE_FOR_INFERENCE = frozenset({"torchscript"})


@dataclass
class Artifact:
    path: Path
    format: str
    options: dict[str, Any]
    origin: str  # where the file comes from
    threads: int | None = None  # intra-op threads the variant ran with (None: torch's default)


@dataclass
class PackageResult:
    path: Path | None  # None when re-validation failed and nothing was written
    variant: str
    revalidation: Revalidation
    report: dict[str, Any] = field(default_factory=dict)
    digest: str | None = None  # sha256 of the written package's manifest.json: what users pin


# ------------------------------------------------------------------ the artifact


def prepare_artifact(record: RunRecord, variant: str, workdir: Path) -> Artifact:
    """The variant's deployable file: the run's artifact, or a TorchScript export made now
    for a variant whose runnable is a plain module (eager, optimized, pruned)."""
    info = run_figures(record, variant).get("variant")
    if info is None:
        raise PackageError(f"the run has no build record of variant {variant!r}")
    if info.get("error") or info.get("skipped"):
        raise PackageError(f"variant {variant!r} was not built in the run: {info.get('error') or info.get('skipped')}")
    given = (info.get("meta") or {}).get("artifact")
    if given:
        path = Path(given)
        if not path.is_file():
            raise PackageError(f"artifact {path} of variant {variant!r} no longer exists: run the bench again")
        try:
            fmt = detect_format(path)
        except ValueError as exc:
            raise PackageError(f"variant {variant!r}: {exc}") from None
        check_run_files(variant, info, [path, path.with_suffix(".bin")] if fmt == "openvino" else [path])
        meta = info.get("meta") or {}
        options: dict[str, Any] = {}
        if fmt == "torchscript" and variant in OPTIMIZE_FOR_INFERENCE:
            options["optimize_for_inference"] = True
        if fmt == "openvino" and meta.get("hint"):
            options["hint"] = meta["hint"]
        return Artifact(path, fmt, options, f"the run's artifact {path}", threads=meta.get("threads"))
    if info.get("artifact_bytes") is None:  # not a torch.nn.Module (torch.compile): nothing to export
        note = (info.get("meta") or {}).get("artifact_note", "its runnable is not a torch.nn.Module")
        raise PackageError(f"variant {variant!r} leaves no deployable file ({note}); "
                           "package its AOTInductor form (aoti) instead")
    return export_torchscript(record, variant, workdir)


def check_run_files(variant: str, info: dict[str, Any], paths: list[Path]) -> None:
    """Refuse an artifact that is not, byte for byte, the file the run measured (its sha256 and
    size are in the run's build record): a later run or a person may have replaced it."""
    recorded = info.get("artifact_files") or {}
    for path in paths:
        entry = recorded.get(str(path.resolve())) or recorded.get(str(path))
        if entry is None:
            raise PackageError(f"the run record holds no sha256 of {path}, the artifact of variant {variant!r} "
                               "(a record of an older qpbench?): run the bench again")
        size = path.stat().st_size
        if size != entry["bytes"] or manifest_mod.sha256_file(path) != entry["sha256"]:
            raise PackageError(f"artifact {path} of variant {variant!r} is not the file the run measured "
                               f"({size} bytes, the run recorded {entry['bytes']} and another sha256): it was "
                               "rebuilt or changed after the run; run the bench again")


def export_torchscript(record: RunRecord, variant: str, workdir: Path) -> Artifact:
    """Rebuild the variant with its builder and save its module as frozen TorchScript."""
    import torch

    from qpbench.optimize.torchscript import script_or_trace
    from qpbench.variants import BuildContext, VariantRegistry, build_variant
    from qpbench.workload import load_workload

    try:
        spec = VariantRegistry().get(variant)
    except QPBenchError as exc:
        raise PackageError(f"variant {variant!r} has no serialized artifact and is not a built-in variant: {exc}") from None
    workload = load_workload(record.workload, max_images=8)
    built = build_variant(spec, BuildContext(workload, sweep_rounds=1, artifact_dir=workdir))
    if not isinstance(built.module, torch.nn.Module):
        raise PackageError(
            f"variant {variant!r} leaves no deployable file ({type(built.module).__name__}: "
            f"{built.meta.get('artifact_note', 'not a torch.nn.Module')}); package its AOTInductor form (aoti) instead")
    captured, how = script_or_trace(built.module.eval(), workload.example_batch(2), workload.example_batch(3))
    path = workdir / f"{variant}.pt"
    torch.jit.save(torch.jit.freeze(captured.eval()), str(path))
    return Artifact(path, "torchscript", {},
                    f"exported at packaging time: frozen TorchScript ({how['method']}) of the variant's module, "
                    "rebuilt with its builder; the re-validation measures it against the run's figures",
                    threads=built.threads)


# ------------------------------------------------------------------ the package files


def artifact_bytes(artifact: Artifact) -> int:
    size = artifact.path.stat().st_size
    if artifact.format == "openvino":
        size += artifact.path.with_suffix(".bin").stat().st_size
    return size


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


# ------------------------------------------------------------------ build / verify


def build_package(run_path: str | Path, out: str | Path, variant: str | None = None, *, force: bool = False,
                  tolerances: Tolerances = Tolerances(), latency_calls: int = PACKAGE.latency_calls,
                  timeout_s: float = PACKAGE.timeout_s) -> PackageResult:
    """Package ``variant`` of the run at ``run_path`` into ``out``; re-validate it in a fresh process.

    Returns the result with ``path`` None (and nothing written) when the
    re-validation does not match the run's figures.
    """
    record = load_run(run_path)
    name = resolve_variant(record, variant)
    out = Path(out).resolve()
    if out.exists() or out.is_symlink():
        if not force:
            raise PackageError(f"{out} exists: choose another --out or pass --force to replace it")
        check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".building", dir=out.parent))
    scratch = Path(tempfile.mkdtemp(prefix="qpbench-package-"))
    try:
        artifact = prepare_artifact(record, name, scratch)
        artifact_name = ARTIFACT_STEM + ARTIFACT_SUFFIX[artifact.format]
        shutil.copyfile(artifact.path, staging / artifact_name)
        if artifact.format == "openvino":  # an IR is the graph (.xml) and its weights (.bin) beside it
            shutil.copyfile(artifact.path.with_suffix(".bin"), staging / f"{ARTIFACT_STEM}.bin")
        copy_runtime(staging)
        config = deployment_config(record, name, artifact, artifact_name)
        write_json(config, staging / CONFIG_NAME, default=str)
        write_readme(staging, config)
        manifest_mod.write_manifest(staging)
        reval = revalidate(staging, run_figures(record, name), record.workload.to_dict(), record.eval_set,
                           tolerances, latency_calls=latency_calls, timeout_s=timeout_s)
        report = performance_report(record, name, reval)
        if not reval.passed:
            return PackageResult(None, name, reval, report)
        write_json(report, staging / REPORT_NAME, default=str)
        manifest_mod.write_manifest(staging)
        staging.chmod(0o755)  # mkdtemp makes it owner-only
        if out.exists() or out.is_symlink():  # appeared or changed while re-validating
            check_replaceable(out)
        replace_dir(staging, out)
        return PackageResult(out, name, reval, report, manifest_mod.manifest_digest(out))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def check_replaceable(target: Path) -> None:
    """--force replaces only a deployment package: a real directory holding a manifest and a
    deployment config, and never the working directory, the home directory or a folder above them."""
    target = Path(target)
    resolved = target.resolve()
    for what, protected in (("the working directory", Path.cwd().resolve()), ("the home directory", Path.home().resolve())):
        if resolved == protected or resolved in protected.parents:
            raise PackageError(f"refusing to replace {target}: it is {what} or a folder above it ({protected}); "
                               "choose a new --out")
    if target.is_symlink() or not target.is_dir():
        raise PackageError(f"refusing to replace {target}: not a directory (a file or a link); "
                           "--force replaces only a deployment package")
    missing = [n for n in (manifest_mod.MANIFEST_NAME, CONFIG_NAME) if not (target / n).is_file()]
    if missing:
        raise PackageError(f"refusing to replace {target}: it is not a qpbench deployment package (no "
                           f"{' or '.join(missing)}); --force replaces only a package, remove the folder yourself")


def replace_dir(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``; an existing ``target`` (--force) is moved aside first and
    removed only once the new one is in place."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.replaced-{dt.datetime.now().strftime('%H%M%S%f')}")
        target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        if old is not None:
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def verify_package(package_dir: str | Path, *, tolerances: Tolerances = Tolerances(), latency_calls: int = PACKAGE.latency_calls,
                   timeout_s: float = PACKAGE.timeout_s, expected_sha256: str | None = None) -> Revalidation:
    """Check the package's digest (``expected_sha256``), its manifest and that its artifact is a
    manifest entry, all with qpbench's own code before the fresh process imports anything from
    the package; then re-measure it against the run's figures in its own performance report
    (the run record itself may have been replaced by later runs)."""
    root = Path(package_dir)
    try:
        manifest = manifest_mod.verify_manifest(root, expected_sha256)
        config = json.loads((root / CONFIG_NAME).read_text())
        for name in artifact_files(config["artifact"]):
            manifest_mod.manifest_entry(manifest, name, "the artifact")
    except manifest_mod.ManifestError as exc:
        raise PackageError(str(exc)) from None
    report = json.loads((root / REPORT_NAME).read_text())
    run = report["run"]
    return revalidate(root, run, config["model"]["workload"], run.get("eval_set"), tolerances,
                      latency_calls=latency_calls, timeout_s=timeout_s)
