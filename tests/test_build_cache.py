"""The build cache across runs (qpbench/variants/build_cache.py): hit, miss, every key input,
corrupt and truncated entries, --qp-rebuild, concurrent writers, and two real runs."""

from __future__ import annotations

import json
import multiprocessing
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from qpbench.measure import handlers
from qpbench.variants import Variant, VariantSpec, build_cache, cache_facts
from qpbench.variants.artifacts import file_records
from qpbench.variants.build_cache import (
    BuildCache,
    cache_key,
    cache_summary,
    key_inputs,
)
from qpbench.workload import WorkloadSpec
from tests.test_plugin import TINY, suite  # noqa: F401  (the bench suite and the tiny model)

# Fake builders in a module of their own (a fresh process could import them by path): one writes
# an artifact and loads it when given one, one writes outside its run directory. Each call is
# logged to $CACHE_TEST_LOG so a test sees whether a build ran or a cached one was loaded.
BUILDERS_SRC = textwrap.dedent(
    '''
    import os
    import tempfile
    from pathlib import Path

    from qpbench.variants.base import Variant, given_artifact


    def log(what):
        with open(os.environ["CACHE_TEST_LOG"], "a") as fh:
            fh.write(what + "\\n")


    def writes_artifact(ctx):
        loaded = given_artifact(ctx)
        if loaded is None:
            log("build")
            path = ctx.artifact_path("fake", ".bin")
            path.write_bytes(bytes(range(256)) * 64)
            (path.parent / "notes" ).mkdir()
            (path.parent / "notes" / "side.txt").write_text("written beside the artifact")
        else:
            log("load")
            path = loaded
        swept = ctx.options.threads is None
        return Variant("fake", module=ctx.workload.build_model(), description="fake", threads=1 if swept else
                       ctx.options.threads, meta={"artifact": str(path), "swept": swept,
                                                  "calibration_batches": ctx.calibration_batches})


    def writes_elsewhere(ctx):
        log("build")
        path = Path(tempfile.mkdtemp()) / "outside.bin"
        path.write_bytes(b"x" * 100)
        return Variant("elsewhere", module=ctx.workload.build_model(), description="outside", meta={"artifact": str(path)})
    '''
)

FAKE = VariantSpec("fake", "fake", "cachebuilders:writes_artifact")


@pytest.fixture
def project(tiny_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The tiny workload, the fake builders importable, a log of builds and a cache of this test's own."""
    from qpbench.workload import load_workload

    (tmp_path / "cachebuilders.py").write_text(BUILDERS_SRC)
    monkeypatch.syspath_prepend(str(tiny_files["module"].parent))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("cachebuilders", None)
    monkeypatch.setenv("CACHE_TEST_LOG", str(tmp_path / "log.txt"))
    spec = WorkloadSpec("tiny", "tinymodel:build", str(tiny_files["checkpoint"]), str(tiny_files["dataset"]), 16)
    return {"workload": load_workload(spec), "spec": spec, "root": tmp_path / "cache", "tmp": tmp_path,
            "log": tmp_path / "log.txt", "runs": 0}


def build(project: dict[str, Any], spec: VariantSpec = FAKE, rebuild: bool = False, sweep_rounds: int = 3,
          root: Path | None = None) -> Variant:
    """A first build in a new run directory, as a variant worker makes it."""
    project["runs"] += 1
    run_dir = project["tmp"] / f"run{project['runs']}"
    run_dir.mkdir()
    return handlers.build(spec, project["workload"], None, sweep_rounds, 2, str(run_dir),
                          {"root": str(root or project["root"]), "rebuild": rebuild})


def log(project: dict[str, Any]) -> list[str]:
    return project["log"].read_text().split() if project["log"].exists() else []


def entry_files(project: dict[str, Any]) -> list[Path]:
    (entry,) = BuildCache(project["root"]).entries()
    return sorted(p for p in (entry / "files").rglob("*") if p.is_file())


def test_a_miss_builds_and_stores_then_a_hit_loads_the_cached_files(project):
    first = build(project)
    assert log(project) == ["build"]
    assert first.meta["build_cache"] == {"hit": False, "key": first.meta["build_cache"]["key"], "stored": True,
                                         "why": "stored"}
    second = build(project)
    assert log(project) == ["build", "load"]  # loaded from the artifact: nothing rebuilt, nothing swept
    cached = second.meta["build_cache"]
    assert cached["hit"] is True and cached["key"] == first.meta["build_cache"]["key"]
    assert cached["built_s"] == pytest.approx(first.build_time_s)
    run2 = (project["tmp"] / "run2" / "fake").resolve()
    # the cached meta and files, moved to this run's directory
    assert second.meta["artifact"] == str(run2 / "tiny-fake.bin") and second.meta["swept"] is True
    assert second.rebuild_options()["artifact"] == second.meta["artifact"]
    assert sorted(second.artifact_files) == [str(run2 / "notes" / "side.txt"), str(run2 / "tiny-fake.bin")]
    assert second.artifact_files == file_records([Path(p) for p in second.artifact_files])
    assert second.artifact_bytes == first.artifact_bytes
    assert {Path(p).name: r for p, r in first.artifact_files.items()} == \
        {Path(p).name: r for p, r in second.artifact_files.items()}
    entry = json.loads((BuildCache(project["root"]).entries()[0] / "entry.json").read_text())
    assert entry["inputs"]["variant"]["builder"] == "cachebuilders:writes_artifact"
    assert entry["rebuild_options"]["artifact"] == "{files}/tiny-fake.bin"
    assert set(entry["files"]) == {"tiny-fake.bin", "notes/side.txt"}


def test_the_key_is_the_same_for_the_same_inputs(project):
    one = key_inputs(FAKE, project["spec"], 3, 2)
    assert cache_key(one) == cache_key(key_inputs(FAKE, project["spec"], 3, 2))
    assert one["checkpoint_sha256"] and one["dataset_sha256"] and one["cpu"]["isa"]


def test_the_cpu_in_the_key_is_the_one_the_fingerprint_names():
    from qpbench.system import cpu_info

    cpu = cpu_info()
    model, isa = build_cache.cpu_model_and_isa()
    same = lambda flags: {f.replace("_", "") for f in flags}  # py-cpuinfo adds its own spellings
    assert model == cpu["brand"] and same(isa) == same(f for f, on in cpu["isa"].items() if on)


def changed_copy(path: Path, to: Path) -> str:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    to.write_bytes(bytes(data))
    return str(to)


def with_changed_isa(monkeypatch: pytest.MonkeyPatch) -> None:
    model, isa = build_cache.cpu_model_and_isa()
    other = sorted(set(isa) ^ {"amx_int8"})
    monkeypatch.setattr(build_cache, "cpu_model_and_isa", lambda: (model, other))


_real_library_versions = build_cache.library_versions


def _other_torch() -> dict[str, Any]:
    return {**_real_library_versions(), "torch": "0.0.0"}


CHANGES = {
    "checkpoint content": lambda p, m: {"spec": p["spec"].__class__(**{
        **p["spec"].to_dict(), "checkpoint": changed_copy(Path(p["spec"].checkpoint), p["tmp"] / "other.pt")})},
    "dataset content": lambda p, m: {"spec": p["spec"].__class__(**{
        **p["spec"].to_dict(), "dataset": changed_copy(Path(p["spec"].dataset), p["tmp"] / "other.npz")})},
    "model factory": lambda p, m: {"spec": p["spec"].__class__(**{**p["spec"].to_dict(), "model_factory": "tinymodel:fat"})},
    "input size": lambda p, m: {"spec": p["spec"].__class__(**{**p["spec"].to_dict(), "input_size": 32})},
    "variant name": lambda p, m: {"variant": VariantSpec("fake2", "fake", FAKE.builder)},
    "variant builder": lambda p, m: {"variant": VariantSpec("fake", "fake", "cachebuilders:writes_elsewhere")},
    "quantized flag": lambda p, m: {"variant": VariantSpec("fake", "fake", FAKE.builder, quantized=True)},
    "builder source": lambda p, m: (p["tmp"] / "cachebuilders.py").write_text(BUILDERS_SRC + "\n# changed\n") and {},
    "model source": lambda p, m: Path(sys.modules["tinymodel"].__file__).write_text(
        Path(sys.modules["tinymodel"].__file__).read_text() + "\n# changed\n") and {},
    "sweep rounds": lambda p, m: {"sweep_rounds": 4},
    "calibration batches": lambda p, m: {"calibration_batches": 3},
    "library version": lambda p, m: m.setattr(build_cache, "library_versions", _other_torch) or {},
    "CPU ISA": lambda p, m: with_changed_isa(m) or {},
    "usable CPUs": lambda p, m: m.setattr(build_cache.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5, 6, 7, 99})
    or {},
}
@pytest.mark.parametrize("change", list(CHANGES))
def test_every_key_input_changes_the_key(project, monkeypatch, change, tiny_files, tmp_path):
    if change == "model source":  # edit a copy, not the session's shared tiny model
        (tmp_path / "tinymodel.py").write_text(Path(tiny_files["module"]).read_text())
        sys.modules.pop("tinymodel", None)
        import tinymodel  # noqa: F401
    before = cache_key(key_inputs(FAKE, project["spec"], 3, 2))
    args = {"spec": project["spec"], "variant": FAKE, "sweep_rounds": 3, "calibration_batches": 2,
            **CHANGES[change](project, monkeypatch)}
    after = cache_key(key_inputs(args["variant"], args["spec"], args["sweep_rounds"], args["calibration_batches"]))
    assert after != before
    sys.modules.pop("tinymodel", None)


def test_a_changed_option_misses_and_builds_again(project):
    build(project)
    again = build(project, sweep_rounds=4)
    assert log(project) == ["build", "build"]
    assert again.meta["build_cache"]["hit"] is False and len(BuildCache(project["root"]).entries()) == 2


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "removed", "entry.json garbage"])
def test_a_damaged_entry_is_rebuilt_never_loaded(project, damage):
    build(project)
    target = next(p for p in entry_files(project) if p.suffix == ".bin")
    data = target.read_bytes()
    target.unlink()  # the run's copy is a hard link: write a new file, as damage on disk would be
    if damage == "flipped byte":
        target.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    elif damage == "truncated":
        target.write_bytes(data[: len(data) // 2])
    elif damage == "entry.json garbage":
        target.write_bytes(data)
        (target.parent.parent / "entry.json").write_text('{"format": 1, "key": ')
    again = build(project)
    assert log(project) == ["build", "build"]
    record = again.meta["build_cache"]
    assert record["hit"] is False and record["stored"] is True
    assert {"flipped byte": "sha256", "truncated": "bytes", "removed": "missing",
            "entry.json garbage": "unreadable"}[damage] in record["rejected"]
    third = build(project)  # the rebuilt entry is whole again
    assert third.meta["build_cache"]["hit"] is True and log(project) == ["build", "build", "load"]


def test_rebuild_ignores_the_entry_and_replaces_it(project):
    build(project)
    entry = BuildCache(project["root"]).entries()[0]
    forced = build(project, rebuild=True)
    assert log(project) == ["build", "build"]
    assert forced.meta["build_cache"]["hit"] is False and forced.meta["build_cache"]["stored"] is True
    replaced = json.loads((entry / "entry.json").read_text())["info"]["build_time_s"]
    assert replaced == forced.build_time_s
    assert build(project).meta["build_cache"]["hit"] is True


def test_a_build_that_writes_outside_its_run_directory_is_not_cached(project):
    variant = build(project, VariantSpec("elsewhere", "outside", "cachebuilders:writes_elsewhere"))
    record = variant.meta["build_cache"]
    assert record["stored"] is False and "outside the variant's run directory" in record["why"]
    assert BuildCache(project["root"]).entries() == []


def test_a_cache_that_cannot_be_written_never_fails_the_build(project):
    blocked = project["tmp"] / "not-a-dir"
    blocked.write_text("a file where the cache folder would be")
    variant = build(project, root=blocked)
    assert variant.meta["build_cache"]["stored"] is False and "not stored" in variant.meta["build_cache"]["why"]
    assert Path(variant.meta["artifact"]).is_file()


def test_a_builder_without_an_import_path_is_not_cached(project):
    def local_builder(ctx):  # pragma: no cover - never imported by path
        raise AssertionError

    assert VariantSpec("local", "local", local_builder).builder_path is None
    assert key_inputs(VariantSpec("local", "local", local_builder), project["spec"], 3, 2) is None


def _store_at_once(root: str, run_dir: str, barrier: Any, results: Any) -> None:
    """One writer: a fake build's files in its own run directory, stored when both are ready."""
    variant_dir = Path(run_dir) / "fake"
    variant_dir.mkdir(parents=True)
    artifact = variant_dir / "fake.bin"
    artifact.write_bytes(b"same build" * 1000)
    variant = Variant("fake", None, "fake", meta={"artifact": str(artifact)}, artifact_files=file_records([artifact]))
    barrier.wait()
    results.put(BuildCache(Path(root)).store("ab" * 32, {"inputs": 1}, variant, variant_dir))


def test_concurrent_writers_of_one_key_leave_one_valid_entry(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    writers = [ctx.Process(target=_store_at_once, args=(str(tmp_path / "cache"), str(tmp_path / f"run{i}"),
                                                          barrier, results)) for i in range(2)]
    for w in writers:
        w.start()
    outcomes = sorted(results.get(timeout=120) for _ in writers)
    for w in writers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert outcomes == [(False, "another run stored this key first"), (True, "stored")]
    cache = BuildCache(tmp_path / "cache")
    entry, problem = cache.lookup("ab" * 32)
    assert entry is not None and problem is None and len(cache.entries()) == 1
    assert list((tmp_path / "cache" / ".staging").iterdir()) == []  # the loser's copy is gone


def test_summary_counts_entries_and_bytes(project, monkeypatch):
    monkeypatch.setenv("QPBENCH_BUILD_CACHE_DIR", str(project["root"]))
    assert cache_summary() == {"location": str(project["root"].resolve()), "entries": 0, "bytes": 0}
    build(project)
    summary = cache_summary()
    assert summary["entries"] == 1 and summary["bytes"] > 64 * 256


def test_where_the_cache_lives(monkeypatch, tmp_path):
    monkeypatch.delenv("QPBENCH_BUILD_CACHE_DIR")
    monkeypatch.setenv("QPBENCH_CACHE_DIR", str(tmp_path))
    assert build_cache.build_cache_dir() == tmp_path.resolve() / "builds"
    monkeypatch.setenv("QPBENCH_BUILD_CACHE_DIR", str(tmp_path / "b"))
    assert build_cache.build_cache_dir() == (tmp_path / "b").resolve()
    assert build_cache.build_cache_dir("off") is None
    assert build_cache.build_cache_dir(str(tmp_path / "c")) == (tmp_path / "c").resolve()
    monkeypatch.delenv("QPBENCH_BUILD_CACHE_DIR")
    monkeypatch.delenv("QPBENCH_CACHE_DIR")
    assert build_cache.build_cache_dir() == Path.home() / ".cache" / "qpbench" / "builds"


@pytest.mark.slow
def test_a_second_run_takes_its_builds_from_the_cache(suite, tmp_path, monkeypatch):  # noqa: F811
    """Two runs of the bench suite on the tiny model: the second one's builds are cache hits (an
    artifact-writing int8 variant among them) and the run passes as the first did."""
    monkeypatch.setenv("QPBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("QPBENCH_BUILD_CACHE_DIR")
    args = [*TINY, "--qp-variants=eager,fx-int8", "-k", "test_accuracy or test_kernels"]

    def builds() -> dict[str, dict[str, Any]]:
        record = json.loads((suite.path / "results" / "latest.json").read_text())
        return {r["variant"]: r for r in record["results"] if r["kind"] == "variant"}

    def accuracy(kind: str = "accuracy") -> dict[str, dict[str, Any]]:
        record = json.loads((suite.path / "results" / "latest.json").read_text())
        return {r["variant"]: r for r in record["results"] if r["kind"] == kind}

    first = suite.runpytest(*args)
    assert first.ret == 0
    cold, cold_accuracy, cold_kernels = builds(), accuracy(), accuracy("kernels")
    assert {v: r.get("facts_from") for v, r in cold_kernels.items()} == {"eager": None, "fx-int8": None}
    assert {v: r["meta"]["build_cache"]["stored"] for v, r in cold.items()} == {"eager": True, "fx-int8": True}
    assert {v: r["predictions_from"] for v, r in cold_accuracy.items()} == {"eager": None, "fx-int8": None}
    second = suite.runpytest(*args)
    assert second.ret == 0 and second.parseoutcomes() == first.parseoutcomes()
    warm = builds()
    assert {v: r["meta"]["build_cache"]["hit"] for v, r in warm.items()} == {"eager": True, "fx-int8": True}
    int8 = warm["fx-int8"]
    assert Path(int8["meta"]["artifact"]).is_file() and int8["meta"]["artifact"] != cold["fx-int8"]["meta"]["artifact"]
    assert int8["meta"]["build_cache"]["built_s"] == cold["fx-int8"]["build_time_s"]
    assert sorted(r["sha256"] for r in int8["artifact_files"].values()) == \
        sorted(r["sha256"] for r in cold["fx-int8"]["artifact_files"].values())
    assert (tmp_path / "cache" / "builds").is_dir()
    # The same builds' predictions of the same samples are reused, and give the same figures.
    warm_accuracy = accuracy()
    assert {v: r["predictions_from"] for v, r in warm_accuracy.items()} == {"eager": "build cache",
                                                                            "fx-int8": "build cache"}
    assert {v: r["pearson"] for v, r in warm_accuracy.items()} == {v: r["pearson"] for v, r in cold_accuracy.items()}
    # So are the kernels each build ran with, a fact of the build on this CPU.
    warm_kernels = accuracy("kernels")
    assert {v: r.get("facts_from") for v, r in warm_kernels.items()} == {"eager": "build cache", "fx-int8": "build cache"}
    assert {v: r["conv"] for v, r in warm_kernels.items()} == {v: r["conv"] for v, r in cold_kernels.items()}
    # A runtime's ISA switch may choose other kernels: they are found afresh under it.
    monkeypatch.setenv("ONEDNN_VERBOSE_TIMESTAMP", "0")
    assert suite.runpytest(*args).ret == 0
    assert {r.get("facts_from") for r in accuracy("kernels").values()} == {None}
    monkeypatch.delenv("ONEDNN_VERBOSE_TIMESTAMP")
    # --qp-rebuild computes them again.
    assert suite.runpytest(*args, "--qp-rebuild").ret == 0
    assert {r["predictions_from"] for r in accuracy().values()} == {None}
    assert {r.get("facts_from") for r in accuracy("kernels").values()} == {None}


def test_a_fact_is_found_once_per_build_and_code_then_read_back(tmp_path):
    from types import SimpleNamespace

    from qpbench.measure.build_facts import cached_fact

    found = []

    def find():
        found.append(1)
        return {"conv": {"int8": 3}}

    loaded = SimpleNamespace(variant=SimpleNamespace(meta={"build_cache": {"key": "cd" * 32}}),
                             cache={"root": str(tmp_path), "rebuild": False})
    assert cached_fact(loaded, "kernels:v1", find) == ({"conv": {"int8": 3}}, False)
    assert cached_fact(loaded, "kernels:v1", find) == ({"conv": {"int8": 3}}, True)
    assert cached_fact(loaded, "kernels:v2", find)[1] is False  # other code: found afresh
    loaded.cache["rebuild"] = True
    assert cached_fact(loaded, "kernels:v1", find)[1] is False
    uncached = SimpleNamespace(variant=SimpleNamespace(meta={}), cache=None)
    assert cached_fact(uncached, "kernels:v1", find)[1] is False  # a build outside the cache
    assert len(found) == 4


def test_cached_predictions_are_checked_before_use(tmp_path):
    cache_facts.store_predictions(tmp_path, "ab" * 32, "set:10:40", [0.25, 0.5])
    assert cache_facts.load_predictions(tmp_path, "ab" * 32, "set:10:40") == [0.25, 0.5]
    assert cache_facts.load_predictions(tmp_path, "ab" * 32, "set:20:80") is None  # other samples: a miss
    path = cache_facts.predictions_path(tmp_path, "ab" * 32, "set:10:40")
    path.write_text(path.read_text().replace("0.25", "0.75"))  # tampered values fail their digest
    assert cache_facts.load_predictions(tmp_path, "ab" * 32, "set:10:40") is None and not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{truncated")
    assert cache_facts.load_predictions(tmp_path, "ab" * 32, "set:10:40") is None


def test_cached_predictions_are_kept_under_the_code_that_predicts_them(monkeypatch):
    from types import SimpleNamespace

    from qpbench.measure import predictions
    from qpbench.variants import code_digest

    data = SimpleNamespace(source="set", first_images=lambda n: SimpleNamespace(n_samples=40))
    before = predictions.predicted_samples(data, 10)
    assert before.endswith(code_digest.code_digest(predictions.__name__))
    reached = code_digest.module_closure(predictions.__name__)
    assert {"qpbench.variants.base", "qpbench.workload"} <= reached.keys()  # what a variant's call runs
    # How latency, LoadGen or the tools are measured, how figures are scored and what the records
    # hold do not predict: editing them (a new field of the stress record) keeps the cache warm.
    assert not reached.keys() & {"qpbench.measure.handlers", "qpbench.measure.server", "qpbench.measure.stopping",
                                 "qpbench.measure.agreement", "qpbench.measure.stress", "qpbench.measure.accuracy",
                                 "qpbench.results", "qpbench.verdict.scoring", "qpbench.criteria", "qpbench.config"}
    monkeypatch.setattr(code_digest, "code_digest", lambda path: "0" * 64)  # the predicting code changed
    assert predictions.predicted_samples(data, 10) != before


def test_qpbench_info_shows_the_cache(project, monkeypatch):
    from qpbench.cli import build_cache_line

    monkeypatch.setenv("QPBENCH_BUILD_CACHE_DIR", str(project["root"]))
    build(project)
    assert build_cache_line().startswith(f"{project['root'].resolve()}: 1 entries, ")
