"""The package manifest: sha256 and size of every file, written and checked.

Standard library only: this module is copied into every deployment package.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
# Byte-code caches Python writes when the package's modules are imported: not content.
IGNORED_DIRS = frozenset({"__pycache__"})


class ManifestError(RuntimeError):
    """A package file is missing, altered or not listed; the message names it."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def package_files(root: Path) -> list[str]:
    """Every file under ``root`` (relative POSIX paths, sorted), except the manifest and byte-code caches."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
        for name in filenames:
            rel = (Path(dirpath) / name).relative_to(root).as_posix()
            if rel != MANIFEST_NAME:
                found.append(rel)
    return sorted(found)


def build_manifest(root: Path) -> dict[str, Any]:
    root = Path(root)
    return {
        "algorithm": "sha256",
        "files": {rel: {"sha256": sha256_file(root / rel), "bytes": (root / rel).stat().st_size}
                  for rel in package_files(root)},
    }


def write_manifest(root: Path) -> Path:
    """Hash every file under ``root`` into ``root/manifest.json`` (written atomically)."""
    root = Path(root)
    data = build_manifest(root)
    path = root / MANIFEST_NAME
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".manifest.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; the package's files are world-readable
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def verify_manifest(root: Path) -> dict[str, Any]:
    """Check every file against ``manifest.json``; raise ManifestError naming the first
    missing, altered or unlisted file. Returns the manifest."""
    root = Path(root)
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{path} is missing: {root} is not a complete deployment package")
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"{path} is not a valid manifest ({exc!r})") from None
    for rel, entry in sorted(files.items()):
        target = root / rel
        if not target.is_file():
            raise ManifestError(f"package file {rel!r} listed in the manifest is missing from {root}")
        size = target.stat().st_size
        if size != entry["bytes"]:
            raise ManifestError(
                f"package file {rel!r} has {size} bytes, the manifest says {entry['bytes']}: it was altered")
        if sha256_file(target) != entry["sha256"]:
            raise ManifestError(f"package file {rel!r} does not match its sha256 in the manifest: it was altered")
    unlisted = sorted(set(package_files(root)) - set(files))
    if unlisted:
        raise ManifestError(f"package files {unlisted} are not in the manifest: they were added after packaging")
    return manifest
