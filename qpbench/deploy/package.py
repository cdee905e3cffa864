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
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qpbench.deploy.artifact import ARTIFACT_STEM, ARTIFACT_SUFFIX, prepare_artifact
from qpbench.deploy.contents import REPORT_NAME, copy_runtime, deployment_config, performance_report, write_readme
from qpbench.deploy.record import PackageError, load_run, resolve_variant, run_figures
from qpbench.deploy.revalidate import PACKAGE, Revalidation, Tolerances, revalidate
from qpbench.files import write_json
from qpbench.runtime import manifest as manifest_mod
from qpbench.runtime.wrapper import CONFIG_NAME, artifact_files


@dataclass
class PackageResult:
    path: Path | None  # None when re-validation failed and nothing was written
    variant: str
    revalidation: Revalidation
    report: dict[str, Any] = field(default_factory=dict)
    digest: str | None = None  # sha256 of the written package's manifest.json: what users pin


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
