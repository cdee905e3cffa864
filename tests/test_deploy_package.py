"""Deployment packages end to end on the tiny model: a real run record (variants built by
their builders, accuracy and latency measured), packaging, manifest checks, and the
fresh-process re-validation through the package's own wrapper.

Latency bands are wide here (1e-4x to 1e4x: the machine is shared): unit tests never judge absolute
speed; a planted 10^6x mismatch still fails them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qpbench.cli import main
from qpbench.config import ScoringConfig, get_profile
from qpbench.deploy.revalidate import Tolerances
from qpbench.runtime.manifest import ManifestError
from qpbench.deploy.package import build_package, verify_package
from qpbench.deploy.contents import QPBENCH_ROOT, RUNTIME_FILES
from qpbench.deploy.record import PackageError, load_run, resolve_variant
from qpbench.deploy.revalidate import compare
from qpbench.runtime.wrapper import ProductionInferenceWrapper
from qpbench.measure.accuracy import accuracy
from qpbench.measure.predictions import predict
from qpbench.compare.gate import GateResult
from qpbench.record import RunRecord
from qpbench.results import LatencyResult
from qpbench.verdict.scoring import score
from qpbench.timing import time_calls
from qpbench.variants import BuildContext, VariantRegistry, build_variant
from qpbench.workload import WorkloadSpec, load_workload
from tests.records import FINGERPRINT

WIDE = Tolerances(latency_ratio_low=1e-4, latency_ratio_high=1e4)
CALLS = 20


@pytest.fixture(scope="module")
def tiny_path(tiny_files):
    path = str(tiny_files["module"].parent)
    sys.path.insert(0, path)
    yield path
    sys.path.remove(path)


@pytest.fixture(scope="module")
def run_path(tiny_files, tiny_path, tmp_path_factory) -> Path:
    """A run record made the way the bench suite makes one, for eager and torchscript."""
    return make_run(tmp_path_factory.mktemp("run"), tiny_files, ("eager", "torchscript"), "torchscript")


def make_run(root: Path, tiny_files, names: tuple[str, ...], recommended: str) -> Path:
    spec = WorkloadSpec("tiny", "tinymodel:build", str(tiny_files["checkpoint"]), str(tiny_files["dataset"]), 16)
    workload = load_workload(spec)
    registry = VariantRegistry()
    results = []
    for name in names:
        variant = build_variant(registry.get(name), BuildContext(workload, sweep_rounds=1, artifact_dir=root / "artifacts"))
        results.append(variant.info())
        results.append(accuracy(name, predict(variant, workload.inputs, np.arange(workload.data.n_samples)), workload.data))
        image, params = workload.example_batch(1)
        results.append(LatencyResult(name, 1, tuple(time_calls(lambda: variant(image, params), 20))))
    verdict = score(results, ScoringConfig())
    record = RunRecord(
        workload=spec, eval_set={"source": workload.data.source, "n_samples": workload.data.n_samples},
        profile=dict(vars(get_profile("quick"))), selected_variants=names, fail_under=None, gate=GateResult(),
        fingerprint={**FINGERPRINT, "python": sys.version.split()[0]}, results=tuple(results), errors={},
        verdict=replace(verdict, recommended=recommended), created="2026-01-01T00:00:00+00:00", qpbench_version="0",
    )
    return record.write(root / "latest.json")


def with_info(record: RunRecord, variant: str, **changes) -> RunRecord:
    """``record`` with the build record of ``variant`` changed."""
    return replace(record, results=tuple(
        replace(r, **changes) if r.kind == "variant" and r.variant == variant else r for r in record.results))


def info_of(record: RunRecord, variant: str):
    return next(r for r in record.results if r.kind == "variant" and r.variant == variant)


@pytest.fixture(scope="module")
def package(run_path, tmp_path_factory):
    result = build_package(run_path, tmp_path_factory.mktemp("pkgs") / "pkg", "recommended", tolerances=WIDE,
                           latency_calls=CALLS)
    assert result.path is not None, [c for c in result.revalidation.failures()]
    return result


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_package_holds_the_artifact_real_wrapper_modules_config_report_and_manifest(package):
    root = package.path
    assert package.variant == "torchscript"
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == sorted(["README.md", "deployment_config.json", "manifest.json", "model.pt",
                            "performance_report.json"] + [f"qpdeploy/{name}" for _, name in RUNTIME_FILES])
    for source, name in RUNTIME_FILES:  # byte-identical copies of this repository's modules
        assert sha(root / "qpdeploy" / name) == sha(QPBENCH_ROOT / source)
    manifest = json.loads((root / "manifest.json").read_text())["files"]
    assert set(manifest) == set(files) - {"manifest.json"}
    assert all(manifest[f]["sha256"] == sha(root / f) for f in manifest)
    config = json.loads((root / "deployment_config.json").read_text())
    assert config["artifact"] == {**config["artifact"], "file": "model.pt", "format": "torchscript",
                                  "options": {"optimize_for_inference": True}}
    assert config["model"]["input_size"] == 16 and config["targets"]["latency_p95_ms"] == 50.0
    assert "torch" in config["system_requirements"]["packages"]
    assert "predict_ssim" in (root / "README.md").read_text()


def test_revalidation_in_a_fresh_process_matches_the_run(package, run_path):
    report = json.loads((package.path / "performance_report.json").read_text())
    run_acc = report["run"]["accuracy"]
    reval = report["revalidation"]
    assert reval["passed"] and {c["name"] for c in reval["checks"]} >= {"pearson", "mae", "batch-1 p50 latency of the artifact (ms)"}
    measured = reval["measured"]
    assert measured["n_samples"] == run_acc["n_samples"] == 24
    assert abs(measured["pearson"] - run_acc["pearson"]) <= 0.005
    assert measured["qpbench_imported"] is False and measured["torch_imported"] is True
    assert measured["wrapper_stats"]["calls"] > 0 and measured["wrapper_stats"]["warmup_calls"] == 2
    assert report["run"]["latency"]["1"]["per_batch_ms"]["p50"] > 0


def test_the_package_wrapper_imports_without_torch_or_qpbench(package):
    code = (
        "import importlib.util, sys; root = sys.argv[1] + '/qpdeploy';"
        "spec = importlib.util.spec_from_file_location('qpdeploy', root + '/__init__.py', submodule_search_locations=[root]);"
        "m = importlib.util.module_from_spec(spec); sys.modules['qpdeploy'] = m; spec.loader.exec_module(m);"
        "import qpdeploy.wrapper; print(sorted(k for k in ('torch', 'qpbench') if k in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-I", "-B", "-c", code, str(package.path)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def copy_of(package, tmp_path) -> Path:
    dest = tmp_path / "copy"
    shutil.copytree(package.path, dest)
    return dest


def test_a_tampered_artifact_is_refused_on_load(package, tmp_path):
    root = copy_of(package, tmp_path)
    ProductionInferenceWrapper.load(root)  # intact: loads
    data = bytearray((root / "model.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (root / "model.pt").write_bytes(bytes(data))
    with pytest.raises(ManifestError, match="'model.pt' does not match its sha256"):
        ProductionInferenceWrapper.load(root)


@pytest.mark.parametrize("change, message", [
    (lambda root: (root / "qpdeploy" / "preprocess.py").unlink(), "'qpdeploy/preprocess.py' listed in the manifest is missing"),
    (lambda root: (root / "extra.bin").write_bytes(b"x"), r"\['extra.bin'\] are not in the manifest"),
    (lambda root: (root / "deployment_config.json").write_text("{}"), "'deployment_config.json' has 2 bytes"),
    (lambda root: (root / "manifest.json").unlink(), "manifest.json is missing"),
])
def test_a_missing_added_or_changed_file_is_refused_naming_it(package, tmp_path, change, message):
    root = copy_of(package, tmp_path)
    (root / "__pycache__").mkdir()  # byte-code caches are not content
    (root / "__pycache__" / "x.pyc").write_bytes(b"cache")
    ProductionInferenceWrapper.load(root, warmup_calls=0)
    change(root)
    with pytest.raises(ManifestError, match=message):
        ProductionInferenceWrapper.load(root)


@pytest.mark.slow
def test_an_existing_package_is_not_overwritten_without_force(package, run_path, tmp_path):
    out = copy_of(package, tmp_path / "pkgs")
    (out / "keep.txt").write_text("mine")
    with pytest.raises(PackageError, match="exists.*--force"):
        build_package(run_path, out, "torchscript", tolerances=WIDE, latency_calls=CALLS)
    assert (out / "keep.txt").read_text() == "mine"
    result = build_package(run_path, out, "torchscript", force=True, tolerances=WIDE, latency_calls=CALLS)
    assert result.path == out.resolve() and not (out / "keep.txt").exists()
    assert (out / "manifest.json").is_file() and result.digest == sha(out / "manifest.json")
    assert [p.name for p in (tmp_path / "pkgs").iterdir()] == ["copy"]  # no staging directory left behind


def test_force_refuses_a_folder_that_is_not_a_package(run_path, tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    (out / "manifest.json").write_text("{}")  # a manifest alone does not make a package
    with pytest.raises(PackageError, match=f"refusing to replace {out}: it is not a qpbench deployment package"):
        build_package(run_path, out, "torchscript", force=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(PackageError, match="not a directory"):
        build_package(run_path, tmp_path / "file", "torchscript", force=True)
    assert (out / "keep.txt").read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["file", "results"]


@pytest.mark.parametrize("where", ["cwd", "above cwd", "home", "above home"])
def test_force_refuses_the_working_and_home_directories_and_their_parents(package, run_path, tmp_path, monkeypatch, where):
    root = copy_of(package, tmp_path)  # even a real package
    inner = root / "inner"
    inner.mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    if where.endswith("cwd"):
        monkeypatch.chdir(root if where == "cwd" else inner)
        out, what = ".." if where == "above cwd" else ".", "the working directory"
    else:
        monkeypatch.setenv("HOME", str(root if where == "home" else inner))
        out, what = root, "the home directory"
    with pytest.raises(PackageError, match=f"refusing to replace .*: it is {what} or a folder above it"):
        build_package(run_path, out, "torchscript", force=True)
    assert (root / "manifest.json").is_file() and inner.is_dir()


@pytest.mark.slow
def test_a_mismatch_with_the_run_fails_and_writes_nothing(run_path, tmp_path):
    record = json.loads(run_path.read_text())
    for r in record["results"]:
        if r["kind"] == "accuracy" and r["variant"] == "torchscript":
            r["pearson"] -= 0.05  # the run claims another accuracy than the artifact has
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps(record))
    result = build_package(planted, tmp_path / "pkg", "torchscript", tolerances=WIDE, latency_calls=CALLS)
    assert result.path is None and not (tmp_path / "pkg").exists()
    assert [c.name for c in result.revalidation.failures()] == ["pearson"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["planted.json"]


def test_compare_flags_each_planted_mismatch_and_passes_the_clean_figures(package, run_path):
    record = load_run(run_path)
    from qpbench.deploy.record import run_figures

    run = run_figures(record, "torchscript")
    measured = package.revalidation.measured
    assert all(c.passed for c in compare(run, measured, WIDE))
    slow = copy.deepcopy(measured)
    slow["batch1_artifact_p50_ms"] = run["latency"]["1"]["per_batch_ms"]["p50"] * 1e6
    assert [c.name for c in compare(run, slow, WIDE) if not c.passed] == ["batch-1 p50 latency of the artifact (ms)"]
    off = copy.deepcopy(measured)
    off["mae"] += 0.01
    off["n_samples"] -= 1
    off["max_abs_diff_numpy_vs_torch_preprocessing"] = 0.5
    assert {c.name for c in compare(run, off, WIDE) if not c.passed} == {
        "mae", "n_samples", "predictions: numpy vs torch preprocessing, max abs diff"}
    no_accuracy = {k: v for k, v in run.items() if k != "accuracy"}
    assert not all(c.passed for c in compare(no_accuracy, measured, WIDE))


def test_variant_choice(run_path):
    record = load_run(run_path)
    assert resolve_variant(record, "recommended") == resolve_variant(record, None) == "torchscript"
    with pytest.raises(PackageError, match="not in the run"):
        resolve_variant(record, "aoti")
    record = replace(record, verdict=replace(record.verdict, recommended=None))
    with pytest.raises(PackageError, match="recommends no variant.*--variant"):
        resolve_variant(record, "recommended")


@pytest.mark.slow
def test_a_variant_without_artifact_is_exported_as_torchscript(run_path, tmp_path):
    result = build_package(run_path, tmp_path / "eager", "eager", tolerances=WIDE, latency_calls=CALLS)
    assert result.path is not None
    config = json.loads((result.path / "deployment_config.json").read_text())
    assert config["artifact"]["format"] == "torchscript"
    assert config["artifact"]["origin"].startswith("exported at packaging time")


@pytest.mark.slow
def test_cli_package_and_verify(run_path, tmp_path, capsys):
    out = tmp_path / "pkg"
    record = tmp_path / "run.json"
    shutil.copyfile(run_path, record)
    band = ["--latency-band", "0.0001,10000", "--latency-calls", str(CALLS)]
    assert main(["package", "--run", str(record), "--variant", "torchscript", "--out", str(out), *band]) == 0
    text = capsys.readouterr().out
    assert "PASS: package written" in text and "pearson" in text and "batch-1 p50 latency of the artifact" in text
    assert f"package digest (sha256 of manifest.json): {sha(out / 'manifest.json')}" in text
    assert f"--expect-sha256 {sha(out / 'manifest.json')}" in text
    record.unlink()  # verify compares with the run's figures the package keeps
    assert main(["package", "verify", str(out), "--expect-sha256", sha(out / "manifest.json"), *band]) == 0
    text = capsys.readouterr().out
    assert "digest as expected, manifest ok" in text and "PASS: the package matches its run" in text
    (out / "README.md").write_text("changed")
    assert main(["package", "verify", str(out), *band]) == 1
    assert "'README.md'" in capsys.readouterr().out
    assert main(["package", "--run", str(run_path), "--out", str(out)]) == 1
    assert "--force" in capsys.readouterr().out
    assert main(["package", "--run", str(tmp_path / "none.json"), "--out", str(tmp_path / "x")]) == 1
    assert "does not exist" in capsys.readouterr().out


def test_verify_package_refuses_a_broken_manifest(package, tmp_path):
    root = copy_of(package, tmp_path)
    (root / "model.pt").unlink()
    with pytest.raises(PackageError, match="'model.pt'"):
        verify_package(root, tolerances=WIDE, latency_calls=CALLS)


@pytest.mark.slow
def test_the_readme_usage_works_in_a_fresh_process(package):
    code = """
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from qpdeploy.wrapper import ProductionInferenceWrapper

model = ProductionInferenceWrapper.load(sys.argv[1])
image = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
params = {"filter_speckle": 4, "color_precision": 6, "layer_difference": 16, "corner_threshold": 60,
          "length_threshold": 4.0, "max_iterations": 10, "splice_threshold": 45, "path_precision": 8,
          "colormode": "color", "hierarchical": "stacked", "mode": "spline"}
one = model.predict_ssim(image, params)
assert np.allclose(model.predict_batch([image, image], [params, params]), [one, one], rtol=0, atol=1e-6)
assert 0.0 <= one <= 1.0 and model.get_performance_stats()["calls"] == 2
print("ok")
"""
    out = subprocess.run([sys.executable, "-I", "-c", code, str(package.path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
    ProductionInferenceWrapper.load(package.path, warmup_calls=0)  # the __pycache__ it wrote is not content


def test_variants_without_a_runnable_file_are_refused_naming_why(run_path, tmp_path):
    import torch

    from qpbench.deploy.artifact import prepare_artifact

    record = load_run(run_path)
    record = with_info(record, "eager", artifact_bytes=None,
                       meta={"artifact_note": "no artifact: torch.compile keeps generated code in a cache"})
    with pytest.raises(PackageError, match="'eager' leaves no deployable file.*torch.compile.*aoti"):
        prepare_artifact(record, "eager", tmp_path)
    state = tmp_path / "int8_state.pt"
    torch.save({"w": torch.zeros(2)}, state)
    record = with_info(record, "torchscript", meta={**info_of(record, "torchscript").meta, "artifact": str(state)})
    with pytest.raises(PackageError, match="state_dict needs the model's source"):
        prepare_artifact(record, "torchscript", tmp_path)
    record = with_info(record, "torchscript", meta={**info_of(record, "torchscript").meta,
                                                    "artifact": str(tmp_path / "gone.pt")})
    with pytest.raises(PackageError, match="no longer exists"):
        prepare_artifact(record, "torchscript", tmp_path)
    record = with_info(record, "torchscript", error="RuntimeError: boom")
    with pytest.raises(PackageError, match="was not built in the run: RuntimeError: boom"):
        prepare_artifact(record, "torchscript", tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(("variant", "files", "runtime"), [
    ("onnx-fp32", ["model.onnx"], "onnxruntime"),
    ("openvino-int8", ["model.xml", "model.bin"], "openvino"),
])
def test_an_onnx_or_openvino_package_runs_without_torch(tiny_files, tiny_path, tmp_path, variant, files, runtime):
    run = make_run(tmp_path / "run", tiny_files, ("eager", variant), variant)
    result = build_package(run, tmp_path / "pkg", "recommended", tolerances=WIDE, latency_calls=CALLS)
    assert result.path is not None, [c for c in result.revalidation.failures()]
    root = result.path
    assert all((root / f).is_file() for f in files)
    manifest = json.loads((root / "manifest.json").read_text())["files"]
    assert set(files) <= set(manifest)  # the IR's weights are checked on load too
    config = json.loads((root / "deployment_config.json").read_text())
    assert config["artifact"]["format"] == ("onnx" if runtime == "onnxruntime" else "openvino")
    assert config["system_requirements"]["packages"] == [runtime] and "torch" not in config["system_requirements"]
    assert config["runtime"]["threads"] is not None  # the thread count the run chose
    measured = json.loads((root / "performance_report.json").read_text())["revalidation"]["measured"]
    assert measured["torch_imported"] is False and measured["qpbench_imported"] is False
    run_acc = {r["variant"]: r for r in json.loads(run.read_text())["results"] if r["kind"] == "accuracy"}[variant]
    assert abs(measured["pearson"] - run_acc["pearson"]) <= 0.005


# -- the package's digest and what it pins ---------------------------------------------------


def rewrite_manifest(root: Path) -> None:
    """What someone who changes files and rewrites the manifest too does."""
    from qpbench.runtime.manifest import write_manifest

    write_manifest(root)


def plant_import_marker(root: Path) -> Path:
    """Make the package's own code leave a file when it is imported."""
    marker = root.parent / "package-code-ran"
    init = root / "qpdeploy" / "__init__.py"
    init.write_text(init.read_text() + f"\nopen({str(marker)!r}, 'w').close()\n")
    return marker


def test_a_clean_package_passes_its_pinned_digest(package, tmp_path):
    from qpbench.runtime.manifest import main as manifest_main
    from qpbench.runtime.manifest import manifest_digest, verify_manifest

    digest = package.digest
    assert digest == manifest_digest(package.path) == sha(package.path / "manifest.json")
    verify_manifest(package.path, digest.upper())
    ProductionInferenceWrapper.load(package.path, warmup_calls=0, expected_sha256=digest)
    assert manifest_main([str(package.path), "--expect-sha256", digest]) == 0


def test_a_package_rewritten_with_its_manifest_is_refused_before_its_code_runs(package, tmp_path, capsys):
    from qpbench.runtime.manifest import main as manifest_main

    root = copy_of(package, tmp_path)
    marker = plant_import_marker(root)
    data = bytearray((root / "model.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (root / "model.pt").write_bytes(bytes(data))
    rewrite_manifest(root)
    from qpbench.runtime.manifest import verify_manifest

    verify_manifest(root)  # the manifest alone agrees: it catches corruption, not a rewrite
    with pytest.raises(ManifestError, match=f"has digest [0-9a-f]{{64}}, expected {package.digest}"):
        ProductionInferenceWrapper.load(root, expected_sha256=package.digest)
    with pytest.raises(PackageError, match="expected"):
        verify_package(root, tolerances=WIDE, latency_calls=CALLS, expected_sha256=package.digest)
    assert main(["package", "verify", str(root), "--expect-sha256", package.digest]) == 1
    assert "is not the package that was pinned" in capsys.readouterr().out
    assert manifest_main([str(root), "--expect-sha256", package.digest]) == 1
    assert not marker.exists()  # refused by code outside the package, before any of its code ran


@pytest.mark.parametrize("expected, message", [
    ("0" * 64, "has digest .* expected 0{64}"),
    ("abc", "is not a sha256"),
])
def test_a_digest_mismatch_is_refused(package, expected, message):
    with pytest.raises(ManifestError, match=message):
        ProductionInferenceWrapper.load(package.path, expected_sha256=expected)


@pytest.mark.parametrize("artifact, message", [
    ("../model.pt", "'../model.pt' is not a path inside the package"),
    ("qpdeploy/../model.pt", "is not a path inside the package"),
    ("/etc/passwd", "'/etc/passwd' is not a path inside the package"),
    ("manifest.json", "'manifest.json' is not listed in the package's manifest"),
])
def test_an_artifact_outside_the_manifest_is_refused(package, tmp_path, artifact, message):
    root = copy_of(package, tmp_path)
    shutil.copyfile(root / "model.pt", tmp_path / "model.pt")  # what '../model.pt' would load
    config = json.loads((root / "deployment_config.json").read_text())
    config["artifact"]["file"] = artifact
    (root / "deployment_config.json").write_text(json.dumps(config))
    rewrite_manifest(root)
    with pytest.raises(ManifestError, match=message):
        ProductionInferenceWrapper.load(root, warmup_calls=0)
    with pytest.raises(PackageError, match=message):
        verify_package(root, tolerances=WIDE, latency_calls=CALLS)
    if "/" in artifact:  # unchecked loading still never reaches outside the package
        with pytest.raises(ManifestError, match="is not a path inside the package"):
            ProductionInferenceWrapper.load(root, warmup_calls=0, verify=False)


def test_a_manifest_entry_outside_the_package_is_refused(package, tmp_path):
    root = copy_of(package, tmp_path)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"]["../outside.txt"] = {"sha256": "0" * 64, "bytes": 0}
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="'../outside.txt' is not a path inside the package"):
        ProductionInferenceWrapper.load(root, warmup_calls=0)


# -- the run's artifacts as the run recorded them ------------------------------------------------


def test_the_run_records_its_own_artifacts_and_package_checks_them(run_path, tmp_path):
    from qpbench.deploy.artifact import prepare_artifact

    record = load_run(run_path)
    info = info_of(record, "torchscript")
    artifact = Path(info.meta["artifact"])
    assert artifact.parent.name == "torchscript" and artifact.parent.parent == run_path.parent / "artifacts"
    assert info.artifact_files[str(artifact)] == {"sha256": sha(artifact), "bytes": artifact.stat().st_size}
    assert prepare_artifact(record, "torchscript", tmp_path).path == artifact  # clean: taken as is

    copy = tmp_path / "model.pt"  # the same file, then another one written over it
    shutil.copyfile(artifact, copy)
    moved = with_info(record, "torchscript", meta={**info.meta, "artifact": str(copy)},
                      artifact_files={str(copy): info.artifact_files[str(artifact)]})
    assert prepare_artifact(moved, "torchscript", tmp_path).path == copy
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(PackageError, match=f"artifact {copy} of variant 'torchscript' is not the file the run measured"):
        prepare_artifact(moved, "torchscript", tmp_path)
    unrecorded = with_info(moved, "torchscript", artifact_files={})
    with pytest.raises(PackageError, match="the run record holds no sha256 of"):
        prepare_artifact(unrecorded, "torchscript", tmp_path)
    planted = replace(moved, source=None).write(tmp_path / "planted.json")
    assert main(["package", "--run", str(planted), "--variant", "torchscript", "--out", str(tmp_path / "pkg")]) == 1
    assert not (tmp_path / "pkg").exists()
