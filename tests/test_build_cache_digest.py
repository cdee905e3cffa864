"""A build cache entry is checked before anything of it is loaded (qpbench/variants/cache_digest.py):
a clean entry is a hit; a flipped byte, an extra file, a missing digest, a file swapped after the
lookup or an entry not signed with $QPBENCH_CACHE_KEY is a miss with its reason, rebuilt, and its
pickle never unpickled."""

from __future__ import annotations

import json
import os
import pickle
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from qpbench.variants import Variant, VariantSpec
from qpbench.variants.artifacts import file_records
from qpbench.variants.build_cache import BuildCache, NotCacheable
from qpbench.variants.cache_digest import KEY_ENV, Rejected
from qpbench.workload import WorkloadSpec
from tests.test_build_cache import build, log

# A builder whose artifact is a pickle it unpickles when given one (as a state dict or a
# TorchScript file is loaded), and a function a planted pickle calls when it is unpickled.
BUILDERS_SRC = textwrap.dedent(
    '''
    import os
    import pickle
    from pathlib import Path

    from qpbench.variants.base import Variant, given_artifact


    def log(what):
        with open(os.environ["CACHE_TEST_LOG"], "a") as fh:
            fh.write(what + "\\n")


    def planted(flag):
        Path(flag).write_text("the planted pickle ran")
        return {"weights": [0.0]}


    def pickles(ctx):
        loaded = given_artifact(ctx)
        if loaded is None:
            log("build")
            path = ctx.artifact_path("pickled", ".pkl")
            path.write_bytes(pickle.dumps({"weights": list(range(1000))}))
        else:
            log("load")
            path = loaded
            with open(path, "rb") as fh:
                pickle.load(fh)
        return Variant("pickled", module=ctx.workload.build_model(), description="pickled", threads=1,
                       meta={"artifact": str(path)})
    '''
)

PICKLED = VariantSpec("pickled", "pickled", "cachepickles:pickles")
ARTIFACT = "tiny-pickled.pkl"


class Planted:
    """Unpickled, it calls cachepickles.planted, which leaves a flag file: proof of a load."""

    def __init__(self, flag: Path) -> None:
        self.flag = flag

    def __reduce__(self) -> tuple[Any, ...]:
        import cachepickles  # type: ignore[import-not-found]

        return cachepickles.planted, (str(self.flag),)


@pytest.fixture
def project(tiny_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from qpbench.workload import load_workload

    (tmp_path / "cachepickles.py").write_text(BUILDERS_SRC)
    monkeypatch.syspath_prepend(str(tiny_files["module"].parent))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("cachepickles", None)
    monkeypatch.setenv("CACHE_TEST_LOG", str(tmp_path / "log.txt"))
    monkeypatch.delenv(KEY_ENV, raising=False)
    spec = WorkloadSpec("tiny", "tinymodel:build", str(tiny_files["checkpoint"]), str(tiny_files["dataset"]), 16)
    return {"workload": load_workload(spec), "spec": spec, "root": tmp_path / "cache", "tmp": tmp_path,
            "log": tmp_path / "log.txt", "runs": 0, "flag": tmp_path / "planted-ran"}


def entry(project: dict[str, Any]) -> Path:
    (path,) = BuildCache(project["root"]).entries()
    return path


def plant(project: dict[str, Any], rewrite_metadata: bool = False) -> None:
    """Put a pickle that leaves a flag when loaded in place of the cached artifact; with
    ``rewrite_metadata``, record its digest too (an attacker who can write entry.json)."""
    target = entry(project) / "files" / ARTIFACT
    target.unlink()  # the first run's copy is a hard link of it: a new file, not the same one rewritten
    target.write_bytes(pickle.dumps(Planted(project["flag"])))
    if rewrite_metadata:
        data = json.loads((entry(project) / "entry.json").read_text())
        data["files"][ARTIFACT] = file_records([target])[str(target.resolve())]
        (entry(project) / "entry.json").write_text(json.dumps(data))


def rejected_and_rebuilt(project: dict[str, Any], reason: str) -> None:
    again = build(project, PICKLED)
    record = again.meta["build_cache"]
    assert record["hit"] is False and reason in record["rejected"], record
    assert record["stored"] is True and log(project) == ["build", "build"]
    assert not project["flag"].exists()
    assert build(project, PICKLED).meta["build_cache"]["hit"] is True  # replaced by a whole entry
    assert log(project) == ["build", "build", "load"]


def test_a_clean_entry_records_every_files_digest_and_loads(project):
    first = build(project, PICKLED)
    data = json.loads((entry(project) / "entry.json").read_text())
    (built,) = first.artifact_files.values()
    assert data["files"] == {ARTIFACT: built} and len(built["sha256"]) == 64
    assert "signature" not in data  # no key set: nothing signed
    second = build(project, PICKLED)
    assert second.meta["build_cache"]["hit"] is True and "rejected" not in second.meta["build_cache"]
    assert log(project) == ["build", "load"]


def test_a_flipped_byte_is_rejected_and_never_unpickled(project):
    build(project, PICKLED)
    target = entry(project) / "files" / ARTIFACT
    data = target.read_bytes()
    target.unlink()
    target.write_bytes(data[:-5] + bytes([data[-5] ^ 0x01]) + data[-4:])
    rejected_and_rebuilt(project, f"digest mismatch: {ARTIFACT}")


def test_a_planted_pickle_is_never_loaded(project):
    build(project, PICKLED)
    plant(project)
    rejected_and_rebuilt(project, ARTIFACT)


@pytest.mark.parametrize(("where", "named"), [("files/evil.so", "evil.so"),
                                               ("files/sub/sitecustomize.py", "sub/sitecustomize.py"),
                                               ("evil.pkl", "evil.pkl")])
def test_an_extra_file_in_the_entry_is_rejected(project, where, named):
    build(project, PICKLED)
    extra = entry(project) / where
    extra.parent.mkdir(parents=True, exist_ok=True)
    extra.write_bytes(b"\x7fELF code that would run")
    rejected_and_rebuilt(project, f"extra file: {named}")


def test_a_link_in_the_entry_is_rejected(project):
    build(project, PICKLED)
    target = entry(project) / "files" / ARTIFACT
    outside = project["tmp"] / "elsewhere.pkl"
    os.replace(target, outside)
    target.symlink_to(outside)  # the same bytes, but a name anyone could point elsewhere later
    rejected_and_rebuilt(project, f"not a regular file: {ARTIFACT}")


def test_an_entry_without_digests_is_rejected(project):
    build(project, PICKLED)
    path = entry(project) / "entry.json"
    data = json.loads(path.read_text())
    data["files"] = {rel: {"bytes": rec["bytes"]} for rel, rec in data["files"].items()}  # as older code wrote
    path.write_text(json.dumps(data))
    rejected_and_rebuilt(project, f"no digest recorded for {ARTIFACT}")


def test_options_naming_a_file_outside_the_entry_are_rejected(project):
    build(project, PICKLED)
    outside = project["tmp"] / "outside.pkl"
    outside.write_bytes(pickle.dumps(Planted(project["flag"])))
    path = entry(project) / "entry.json"
    data = json.loads(path.read_text())
    data["rebuild_options"]["artifact"] = str(outside)
    path.write_text(json.dumps(data))
    rejected_and_rebuilt(project, "rebuild_options.artifact names a file outside the entry")


def test_a_file_swapped_after_the_lookup_is_caught_on_the_restored_copy(project):
    build(project, PICKLED)
    cache = BuildCache(project["root"])
    found, problem = cache.lookup(entry(project).name)
    assert found is not None and problem is None
    plant(project)  # between the check of the tree and the restore
    run_dir = project["tmp"] / "late"
    run_dir.mkdir()
    with pytest.raises(Rejected, match=f"{ARTIFACT}"):
        cache.restore(found, run_dir, "pickled")
    assert list(run_dir.iterdir()) == []  # nothing restored, nothing to load


def test_a_file_changed_since_its_build_is_not_stored(tmp_path):
    variant_dir = tmp_path / "run" / "fake"
    variant_dir.mkdir(parents=True)
    artifact = variant_dir / "fake.bin"
    artifact.write_bytes(b"as built")
    variant = Variant("fake", None, "fake", meta={"artifact": str(artifact)}, artifact_files=file_records([artifact]))
    artifact.write_bytes(b"changed!")  # same size, other bytes: the entry would not hold what was measured
    with pytest.raises(NotCacheable, match="changed since the build: digest mismatch: fake.bin"):
        BuildCache(tmp_path / "cache").store("cd" * 32, {}, variant, variant_dir)
    assert BuildCache(tmp_path / "cache").entries() == []


@pytest.mark.parametrize("key", [None, "team-secret"])
def test_rewriting_files_and_metadata_together_is_stopped_only_by_the_key(project, monkeypatch, key):
    """Without $QPBENCH_CACHE_KEY an attacker who rewrites entry.json with the files wins (the
    documented limit); with it, entry.json is signed and the rewritten one is rejected."""
    if key:
        monkeypatch.setenv(KEY_ENV, key)
    build(project, PICKLED)
    plant(project, rewrite_metadata=True)
    if key is None:
        assert build(project, PICKLED).meta["build_cache"]["hit"] is True and project["flag"].exists()
    else:
        rejected_and_rebuilt(project, f"signature does not match {KEY_ENV}")


def test_with_a_key_set_only_entries_signed_with_it_load(project, monkeypatch):
    build(project, PICKLED)  # written without a key: unsigned
    monkeypatch.setenv(KEY_ENV, "team-secret")
    again = build(project, PICKLED)
    assert again.meta["build_cache"]["rejected"] == f"not signed, and {KEY_ENV} is set"
    assert "hmac-sha256" in json.loads((entry(project) / "entry.json").read_text())["signature"]
    assert build(project, PICKLED).meta["build_cache"]["hit"] is True
    monkeypatch.setenv(KEY_ENV, "another team's secret")
    assert build(project, PICKLED).meta["build_cache"]["rejected"] == f"signature does not match {KEY_ENV}"
    assert log(project) == ["build", "build", "load", "build"]
