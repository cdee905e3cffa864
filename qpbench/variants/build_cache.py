"""Built variants kept across runs, keyed by everything that changes what a build makes.

A variant worker's first build looks its key up here. A hit links the cached files into
the run's ``<run dir>/<variant>/`` and loads them with the cached ``rebuild_options`` (no
export, calibration or sweep); a miss builds as usual and stores the result. An entry is

    <root>/<key[:2]>/<key>/entry.json   what it was keyed by, the build's info and rebuild
                                        options, every file's sha256 and size
    <root>/<key[:2]>/<key>/files/...    the files the build left in its run directory

written in a staging directory under the root, entry.json last, and renamed into place in
one step (a concurrent writer of the same key that loses the race drops its copy): an entry
exists only once its entry.json is whole. Nothing of an entry is loaded before it passes
``cache_digest``'s checks (exactly the recorded files, each hashed as it is restored into
the run, entry.json signed where ``$QPBENCH_CACHE_KEY`` is set): one that fails is removed,
the variant rebuilt, and its meta's ``build_cache["rejected"]`` says why. A cache error
(disk full, permissions) never fails a build: the build goes on uncached and its meta says why.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import qpbench
from qpbench.errors import VariantUnavailable
from qpbench.runtime.cpu_quota import quota_threads
from qpbench.runtime.manifest import sha256_file
from qpbench.system import ISA_FLAGS, cpu_info, runtime_versions
from qpbench.variants.artifacts import rebase
from qpbench.variants.base import BuildContext, Variant, VariantSpec, build_variant
from qpbench.variants.cache_digest import (
    FILES,
    FORMAT,
    METADATA,
    Rejected,
    digest_problem,
    entry_problem,
    sealed,
)
from qpbench.variants.code_digest import code_digest
from qpbench.workload import Workload, WorkloadSpec

OFF = "off"
STAGING = ".staging"  # under the root: entries being written
STALE_STAGING_S = 3600.0  # a staging directory older than this was left by a killed run


def build_cache_dir(setting: str | None = None) -> Path | None:
    """Where built variants are kept: ``setting`` (the --qp-build-cache value; 'off': nowhere),
    else ``$QPBENCH_BUILD_CACHE_DIR``, else ``$QPBENCH_CACHE_DIR/builds`` (the data pipeline's
    datasets live in ``$QPBENCH_CACHE_DIR`` itself), else ``~/.cache/qpbench/builds``."""
    if setting:
        return None if setting == OFF else Path(setting).expanduser().resolve()
    for env, sub in (("QPBENCH_BUILD_CACHE_DIR", ""), ("QPBENCH_CACHE_DIR", "builds")):
        if os.environ.get(env):
            return (Path(os.environ[env]).expanduser() / sub).resolve()  # absolute: workers get it
    return Path.home() / ".cache" / "qpbench" / "builds"


# The key ----------------------------------------------------------------------------------------

def library_versions() -> dict[str, str | None]:
    """The versions that change a built artifact (read from metadata: nothing is imported)."""
    out: dict[str, str | None] = {"qpbench": qpbench.__version__}
    for name in ("torch", "torchvision", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return {**out, **runtime_versions()}


def cpu_model_and_isa() -> tuple[str, list[str]]:
    """The CPU's model name and the ISA flags of ``system.ISA_FLAGS`` it has: from /proc/cpuinfo
    where it says both (a millisecond, where py-cpuinfo takes a quarter of a second a build)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    flags = re.search(r"^flags\s*:\s*(.*)$", text, re.MULTILINE)
    if model and flags:
        return model[1].strip(), sorted(set(flags[1].split()) & set(ISA_FLAGS))
    cpu = cpu_info()
    return cpu["brand"], sorted(f for f, on in cpu["isa"].items() if on)


def cpu_key() -> dict[str, Any]:
    """The CPU a build was made (and its threads swept) on, and the CPUs this process may use."""
    model, isa = cpu_model_and_isa()
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    key: dict[str, Any] = {"model": model, "arch": platform.machine(), "isa": isa, "cpus": usable}
    # A container's CPU quota caps the thread sweep; keyed only where it caps the affinity, so keys made
    # without one stand.
    cap = quota_threads()
    if cap is not None:
        key["cpu_quota_threads"] = cap
    return key


def file_digest(path: str | None) -> str | None:
    return sha256_file(Path(path)) if path else None


def key_inputs(spec: VariantSpec, workload: WorkloadSpec, sweep_rounds: int,
               calibration_batches: int) -> dict[str, Any] | None:
    """Everything that changes what a build of ``spec`` makes (None: the builder cannot be
    imported by path, so its code cannot be named: not cached)."""
    builder = spec.builder_path
    if builder is None:
        return None
    return {
        "workload": {"name": workload.name, "factory": workload.model_factory, "input_size": workload.input_size,
                     "factory_source": code_digest(workload.model_factory)},
        "checkpoint_sha256": file_digest(workload.checkpoint),
        "dataset_sha256": file_digest(workload.dataset),  # calibration samples come from it
        "variant": {"name": spec.name, "builder": builder, "quantized": spec.quantized,
                    "builder_source": code_digest(builder)},
        "sweep_rounds": sweep_rounds,
        "calibration_batches": calibration_batches,
        "libraries": library_versions(),
        "cpu": cpu_key(),
    }


def cache_key(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# The store --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """An entry whose entry.json and file tree passed the checks (its files are hashed as they
    are restored): its directory and entry.json."""

    path: Path
    data: dict[str, Any]

    @property
    def files_dir(self) -> Path:
        return self.path / "files"


class NotCacheable(Exception):
    """This build cannot be stored (why is the message)."""


class BuildCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def entry_dir(self, key: str) -> Path:
        return self.root / key[:2] / key

    def lookup(self, key: str) -> tuple[Entry | None, str | None]:
        """(the checked entry or None, why an entry that was there was rejected and removed or None)."""
        path = self.entry_dir(key)
        if not path.is_dir():
            return None, None
        data, problem = entry_problem(path, key)
        if problem is not None:
            self.discard(path)
            return None, problem
        assert data is not None
        return Entry(path, data), None

    def store(self, key: str, inputs: dict[str, Any], variant: Variant, variant_dir: Path,
              replace: bool = False) -> tuple[bool, str]:
        """Keep ``variant``'s build (its files are those under ``variant_dir``); (stored, why)."""
        variant_dir = variant_dir.resolve()
        files = _files_under(variant.artifact_files, variant_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        staging_root = self.root / STAGING
        staging_root.mkdir(exist_ok=True)
        _remove_stale(staging_root)
        staging = Path(tempfile.mkdtemp(prefix=f"{key[:12]}-", dir=staging_root))
        try:
            for rel in files:
                link_or_copy(variant_dir / rel, staging / "files" / rel)
            changed = digest_problem(staging / "files", files)  # the entry's digests are its own files'
            if changed:
                raise NotCacheable(f"changed since the build: {changed}")
            entry = {
                "format": FORMAT, "key": key, "inputs": inputs,
                "info": {"description": variant.description, "build_time_s": variant.build_time_s,
                         "artifact_bytes": variant.artifact_bytes, "meta": rebase(variant.meta, variant_dir, FILES)},
                "rebuild_options": rebase(variant.rebuild_options(), variant_dir, FILES),
                "files": files, "paths": f"'{FILES}/NAME' is files/NAME in this directory",
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "qpbench": qpbench.__version__,
            }
            (staging / METADATA).write_text(json.dumps(sealed(entry), indent=1) + "\n", encoding="utf-8")
            final = self.entry_dir(key)
            final.parent.mkdir(exist_ok=True)
            if replace and final.exists():
                self.discard(final)
            try:
                os.rename(staging, final)  # one step; fails when the name exists (a concurrent writer won)
            except OSError:
                if final.is_dir():
                    shutil.rmtree(staging, ignore_errors=True)
                    return False, "another run stored this key first"
                raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return True, "stored"

    def restore(self, entry: Entry, run_dir: Path, variant: str) -> dict[str, Any]:
        """Link (else copy) the entry's files into ``run_dir/variant`` in one step; the rebuild
        options with their paths there. Rejected when a restored file is not the recorded one:
        the copies are hashed, not the cache's names, so what is checked is what gets loaded."""
        target = Path(run_dir) / variant
        if entry.data["files"]:
            staging = Path(tempfile.mkdtemp(prefix=f".{variant}.", suffix=".restoring", dir=run_dir))
            try:
                for rel in entry.data["files"]:
                    link_or_copy(entry.files_dir / rel, staging / rel)
                problem = digest_problem(staging, entry.data["files"])
                if problem:
                    raise Rejected(problem)
                os.rename(staging, target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return rebase(entry.data["rebuild_options"], FILES, target)

    def discard(self, path: Path) -> None:
        """Remove an entry: renamed away first, so no reader sees it half-removed."""
        gone = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.discarded")
        try:
            os.rename(path, gone)
        except OSError:
            return  # already removed (by a concurrent reader)
        shutil.rmtree(gone, ignore_errors=True)

    def entries(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [p for shard in self.root.iterdir() if shard.is_dir() and len(shard.name) == 2
                for p in shard.iterdir() if p.is_dir() and p.name.startswith(shard.name) and len(p.name) == 64]


def _files_under(artifact_files: dict[str, dict[str, Any]], variant_dir: Path) -> dict[str, dict[str, Any]]:
    """The build's files relative to ``variant_dir``; NotCacheable when one lies elsewhere."""
    files = {}
    for name, record in artifact_files.items():
        path = Path(name).resolve()
        if not path.is_relative_to(variant_dir):
            raise NotCacheable(f"{name} lies outside the variant's run directory")
        files[path.relative_to(variant_dir).as_posix()] = {"sha256": record["sha256"], "bytes": record["bytes"]}
    return files


def _remove_stale(staging_root: Path) -> None:
    now = time.time()
    for old in staging_root.iterdir():
        try:
            if now - old.stat().st_mtime > STALE_STAGING_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue


def link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or links not allowed
        shutil.copy2(src, dst)


# The build --------------------------------------------------------------------------------------

def cached_build(spec: VariantSpec, workload: Workload, sweep_rounds: int, calibration_batches: int,
                 artifact_dir: Path, cache: BuildCache, rebuild: bool = False) -> Variant:
    """A first build of ``spec`` into the run's ``artifact_dir``, from the cache when it holds
    one (``rebuild``: never, and this build replaces it); ``meta["build_cache"]`` says which."""
    artifact_dir = Path(artifact_dir).resolve()  # the build's recorded paths are resolved ones
    record: dict[str, Any] = {"hit": False}
    key = inputs = None
    try:
        inputs = key_inputs(spec, workload.spec, sweep_rounds, calibration_batches)
        if inputs is None:
            record["why"] = "the builder has no import path"
        else:
            key = record["key"] = cache_key(inputs)
    except Exception as exc:  # noqa: BLE001  (the key is the cache's business: the build goes on)
        record["error"] = f"no key: {type(exc).__name__}: {exc}"
    if key is not None and rebuild:
        record["why"] = "rebuild asked for"
    elif key is not None:
        entry = None
        try:
            entry, problem = cache.lookup(key)
            if problem:
                record["rejected"] = problem
            if entry is not None:
                return _load_cached(spec, workload, calibration_batches, artifact_dir, cache, entry)
        except VariantUnavailable:
            raise
        except Rejected as exc:  # found before anything was loaded: a miss, and the entry replaced
            record["rejected"] = str(exc)
            if entry is not None:
                cache.discard(entry.path)
        except Exception as exc:  # noqa: BLE001  (an unreadable cache, or a cached build that does not load here)
            record["error"] = f"not loaded from the cache: {type(exc).__name__}: {exc}"
            shutil.rmtree(artifact_dir / spec.name, ignore_errors=True)
            if entry is not None:
                cache.discard(entry.path)
    variant = build_variant(spec, BuildContext(workload, sweep_rounds=sweep_rounds, artifact_dir=artifact_dir,
                                               calibration_batches=calibration_batches))
    if key is not None and inputs is not None:
        try:
            record["stored"], record["why"] = cache.store(key, inputs, variant, artifact_dir / spec.name, replace=rebuild)
        except NotCacheable as exc:
            record["stored"], record["why"] = False, f"not cacheable: {exc}"
        except Exception as exc:  # noqa: BLE001  (disk full, permissions: the build stands uncached)
            record["stored"], record["why"] = False, f"not stored: {type(exc).__name__}: {exc}"
    variant.meta["build_cache"] = record
    return variant


def _load_cached(spec: VariantSpec, workload: Workload, calibration_batches: int, artifact_dir: Path,
                 cache: BuildCache, entry: Entry) -> Variant:
    """Load a cached build from the run directory (its files linked there first)."""
    start = time.perf_counter()
    options = cache.restore(entry, artifact_dir, spec.name)
    target = (artifact_dir / spec.name).resolve()
    variant = build_variant(spec, BuildContext(workload, options=options, sweep_rounds=1,
                                               calibration_batches=calibration_batches))
    info = entry.data["info"]
    variant.meta = {**rebase(info["meta"], FILES, target),
                    "build_cache": {"hit": True, "key": entry.data["key"], "built_s": info["build_time_s"],
                                    "created": entry.data.get("created")}}
    variant.artifact_bytes = info["artifact_bytes"]
    variant.artifact_files = {str(target / rel): dict(rec) for rel, rec in entry.data["files"].items()}
    variant.build_time_s = time.perf_counter() - start
    return variant


def cache_summary(root: Path | None = None) -> dict[str, Any]:
    """Where the build cache is, how many entries it holds and their size on disk."""
    root = build_cache_dir() if root is None else root
    if root is None:
        return {"location": None, "entries": 0, "bytes": 0}
    entries = BuildCache(root).entries()
    size = sum(f.stat().st_size for e in entries for f in e.rglob("*") if f.is_file())
    return {"location": str(root), "entries": len(entries), "bytes": size}
