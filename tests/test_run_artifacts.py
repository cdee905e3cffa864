"""Each run writes its artifacts into its own directory, a variant's files appear only once its
build succeeded, and the run record keeps each file's sha256 and size."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from qpbench.errors import VariantError
from qpbench.record import RunRecord, validation_errors
from qpbench.results import Result, VariantInfo
from qpbench.schema.codec import dump, load
from qpbench.variants import (
    BuildContext,
    Variant,
    VariantRegistry,
    VariantSpec,
    build_variant,
)
from qpbench.variants.artifacts import prune_runs
from qpbench.variants.registry import VariantCache
from tests.records import make_record


@dataclass
class FakeWorkload:
    name: str = "tiny"


def writer(payload: bytes, fail: bool = False):
    def build(ctx: BuildContext) -> Variant:
        path = ctx.artifact_path("w", ".bin")
        path.write_bytes(payload)
        (path.parent / "side.txt").write_text("made with it")
        if fail:
            raise RuntimeError("the builder failed half-way")
        return Variant("w", lambda image, params: None, "writes a file", meta={"artifact": str(path)},
                       artifact_bytes=len(payload))
    return build


def registry(payload: bytes, fail: bool = False) -> VariantRegistry:
    return VariantRegistry((VariantSpec("w", "writes a file", writer(payload, fail)),))


def test_two_runs_write_into_their_own_directories_and_record_each_file(tmp_path):
    root = tmp_path / "artifacts"
    first = VariantCache(registry(b"first"), FakeWorkload, artifact_dir=root).get("w")
    second = VariantCache(registry(b"second"), FakeWorkload, artifact_dir=root).get("w")
    a, b = Path(first.meta["artifact"]), Path(second.meta["artifact"])
    assert a.parent.parent != b.parent.parent and a.parent.parent.parent == b.parent.parent.parent == root
    assert a.parent.name == "w" and a.name == "tiny-w.bin"  # <root>/<run>/<variant>/<file>
    assert (a.read_bytes(), b.read_bytes()) == (b"first", b"second")  # neither run replaced the other's
    assert first.artifact_files[str(a)] == {"sha256": hashlib.sha256(b"first").hexdigest(), "bytes": 5}
    assert sorted(first.artifact_files) == sorted([str(a), str(a.parent / "side.txt")])
    assert not list(root.glob("*/.*"))  # no staging directory left


def test_a_failed_build_leaves_no_file_behind(tmp_path):
    cache = VariantCache(registry(b"half", fail=True), FakeWorkload, artifact_dir=tmp_path)
    with pytest.raises(VariantError, match="half-way"):
        cache.get("w")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_variant_is_published_once(tmp_path):
    spec = registry(b"x").get("w")
    build_variant(spec, BuildContext(FakeWorkload(), artifact_dir=tmp_path))
    with pytest.raises(VariantError, match="cannot publish the artifacts of 'w'"):
        build_variant(spec, BuildContext(FakeWorkload(), artifact_dir=tmp_path))
    assert (tmp_path / "w" / "tiny-w.bin").read_bytes() == b"x" and len(list(tmp_path.iterdir())) == 1


def test_the_record_carries_and_validates_the_artifact_files(tmp_path):
    variant = VariantCache(registry(b"abc"), FakeWorkload, artifact_dir=tmp_path).get("w")
    info = variant.info()
    assert load(Result, dump(info)) == info
    record = make_record([info])
    path = record.write(tmp_path / "run.json")
    loaded = RunRecord.load(path)  # validated against the schema
    assert loaded.results_of(VariantInfo)[0].artifact_files == variant.artifact_files
    bad = dump(info)
    bad["artifact_files"] = {"x": {"sha256": "not hex", "bytes": 1}}
    assert validation_errors({**dump(record), "results": [bad]})


def test_old_run_directories_go_the_newest_and_those_in_use_stay(tmp_path):
    now = 1_000_000.0
    runs = [tmp_path / f"20260101-0000{i:02d}-abc{i}" for i in range(8)]
    for i, run in enumerate(runs):
        run.mkdir()
        age = 7200 if i < 6 else 60  # the two newest-named changed a minute ago
        os.utime(run, (now - age - (8 - i), now - age - (8 - i)))
    other = tmp_path / "mine"  # not a run directory: never touched
    other.mkdir()
    os.utime(other, (0, 0))
    removed = prune_runs(tmp_path, keep=runs[-1], kept=5, in_use_s=3600, now=now)
    assert sorted(removed) == runs[:3]
    assert sorted(p for p in tmp_path.iterdir()) == sorted([*runs[3:], other])
