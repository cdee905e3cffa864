"""The file a deployment package serves: the run's own artifact of the variant, checked byte for
byte against the run's build record, or, for a variant whose runnable is a plain module, a
frozen TorchScript export made at packaging time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qpbench.deploy.record import PackageError, run_figures
from qpbench.errors import QPBenchError
from qpbench.record import RunRecord
from qpbench.runtime import manifest as manifest_mod
from qpbench.runtime.backends import detect_format


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


def artifact_bytes(artifact: Artifact) -> int:
    size = artifact.path.stat().st_size
    if artifact.format == "openvino":
        size += artifact.path.with_suffix(".bin").stat().st_size
    return size
