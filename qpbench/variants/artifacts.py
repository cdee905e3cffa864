"""Where a run's artifacts go, written so no other run (or xdist worker) can see them half-made.

Each run (each process that builds variants) writes into its own directory,
``<root>/<time>-<unique>/`` (``run_artifact_dir``: the one place that decides it; a
cross-run build cache would copy into it). A variant's builder writes into a staging
directory beside it, renamed to ``<run dir>/<variant>/`` in one step once the build
succeeded: a reader sees all of a variant's files or none. The run record keeps each
file's sha256 and size (``file_records``), so ``qpbench package`` can tell the file the run
measured from one written later.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qpbench.errors import VariantError
from qpbench.runtime.manifest import sha256_file


# results/artifacts/ holds one directory per run: the newest ones are kept, and an older one only
# while it may still be in use (changed within the last hour: a concurrent run's worker).
ARTIFACT_RUNS_KEPT = 5
ARTIFACT_RUN_IN_USE_S = 3600.0

RUN_DIR = re.compile(r"[0-9]{8}-[0-9]{6}-[A-Za-z0-9_]+")  # what run_artifact_dir makes: nothing else is removed


def run_artifact_dir(root: Path) -> Path:
    """A new directory for one run's artifacts under ``root``, created exclusively; the run
    directories beyond the newest ``ARTIFACT_RUNS_KEPT`` that nobody changed for an hour go."""
    root = Path(root).resolve()  # absolute: the record's paths name the files wherever it is read
    root.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    made = Path(tempfile.mkdtemp(prefix=f"{stamp}-", dir=root))
    prune_runs(root, keep=made)
    return made


def prune_runs(root: Path, keep: Path, kept: int = ARTIFACT_RUNS_KEPT, in_use_s: float = ARTIFACT_RUN_IN_USE_S,
               now: float | None = None) -> list[Path]:
    """Remove old run directories under ``root`` (never ``keep``); returns what was removed."""
    now = time.time() if now is None else now
    runs = sorted((p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and RUN_DIR.fullmatch(p.name)),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    removed = []
    for old in runs[kept:]:
        if old != keep and now - old.stat().st_mtime > in_use_s:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


@contextlib.contextmanager
def staged(run_dir: Path, variant: str) -> Iterator[Path]:
    """A staging directory for ``variant``'s build; on success it becomes ``run_dir/variant``
    (removed when the builder wrote nothing), on failure it is removed."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{variant}.", suffix=".building", dir=run_dir))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def publish(staging: Path, run_dir: Path, variant: str) -> Path | None:
    """Rename ``staging`` to ``run_dir/variant`` (one atomic step); None when it is empty."""
    if not any(staging.iterdir()):
        staging.rmdir()
        return None
    final = Path(run_dir) / variant
    try:
        os.rename(staging, final)  # fails on an existing non-empty directory: never mixes two builds
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise VariantError(f"cannot publish the artifacts of {variant!r} as {final}: {exc}") from None
    return final


def rebase(value: Any, old: Path, new: Path) -> Any:
    """``value`` (meta: dicts, lists, strings) with paths under ``old`` moved under ``new``."""
    if isinstance(value, str) and (value == str(old) or value.startswith(f"{old}{os.sep}")):
        return str(new) + value[len(str(old)):]
    if isinstance(value, dict):
        return {k: rebase(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [rebase(v, old, new) for v in value]
    return value


def file_records(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """{absolute path: {"sha256", "bytes"}} of each existing file in ``paths``."""
    out: dict[str, dict[str, Any]] = {}
    for path in paths:
        path = Path(path).resolve()
        if path.is_file():
            out[str(path)] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return out


def artifact_paths(variant_dir: Path | None, meta: dict[str, Any]) -> list[Path]:
    """The files to record: everything the build left in its directory, and the artifact its
    meta names (a builder may write elsewhere), with an OpenVINO IR's weights beside it."""
    paths = sorted(p for p in variant_dir.rglob("*") if p.is_file()) if variant_dir else []
    for key in ("artifact", "sparse_artifact"):
        if isinstance(meta.get(key), str):
            named = Path(meta[key])
            paths += [named] + ([named.with_suffix(".bin")] if named.suffix == ".xml" else [])
    return list(dict.fromkeys(paths))
