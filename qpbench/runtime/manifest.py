"""The package manifest: sha256 and size of every file, written and checked.

The package's digest is the sha256 of ``manifest.json`` itself: it pins every file. The
manifest catches corruption; it does not stop someone who rewrites the files and the
manifest together. Pinning the digest does, when the check runs in code from outside the
package before any of the package's code is imported (its ``qpdeploy/*.py``) or its model
loaded (loading TorchScript or an AOTInductor ``.pt2`` runs code from it):

    python -I /trusted/copy/of/manifest.py PACKAGE_DIR --expect-sha256 HEX

Standard library only: this module is copied into every deployment package.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST_NAME = "manifest.json"
# Byte-code caches Python writes when the package's modules are imported: not content.
IGNORED_DIRS = frozenset({"__pycache__"})
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


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


def manifest_digest(root: Path) -> str:
    """The package's digest: sha256 of its ``manifest.json``."""
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{path} is missing: {root} is not a complete deployment package")
    return sha256_file(path)


def check_digest(root: Path, expected_sha256: str) -> str:
    """Raise ManifestError unless the package's digest is ``expected_sha256``; returns it."""
    expected = expected_sha256.strip().lower()
    if not SHA256_HEX.fullmatch(expected):
        raise ManifestError(f"expected digest {expected_sha256!r} is not a sha256 (64 hex digits)")
    actual = manifest_digest(root)
    if actual != expected:
        raise ManifestError(f"package {root} has digest {actual}, expected {expected}: it is not the "
                            "package that was pinned (rebuilt or altered)")
    return actual


def inside_path(rel: str) -> bool:
    """Whether ``rel`` names a file inside the package: relative, POSIX, no ``..`` or empty part."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        return False
    parts = PurePosixPath(rel).parts
    return not rel.startswith("/") and ":" not in parts[0] and all(p not in ("", ".", "..") for p in parts)


def manifest_entry(manifest: dict[str, Any], rel: str, what: str = "file") -> str:
    """``rel`` when it is a file of the package listed in its manifest; else ManifestError."""
    if not inside_path(rel):
        raise ManifestError(f"{what} {rel!r} is not a path inside the package (absolute, '..' or empty part)")
    if rel not in manifest.get("files", {}):
        raise ManifestError(f"{what} {rel!r} is not listed in the package's manifest")
    return rel


def verify_manifest(root: Path, expected_sha256: str | None = None) -> dict[str, Any]:
    """Check the package's digest against ``expected_sha256`` (when given), then every file
    against ``manifest.json``; raise ManifestError naming the first missing, altered, unlisted
    or outside file. Returns the manifest."""
    root = Path(root)
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{path} is missing: {root} is not a complete deployment package")
    if expected_sha256 is not None:
        check_digest(root, expected_sha256)
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"{path} is not a valid manifest ({exc!r})") from None
    for rel, entry in sorted(files.items()):
        if not inside_path(rel):
            raise ManifestError(f"manifest entry {rel!r} is not a path inside the package")
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


def main(argv: list[str] | None = None) -> int:
    """Check a package before importing anything from it; exit status 1 when it does not verify."""
    parser = argparse.ArgumentParser(description="verify a deployment package's files and pinned digest")
    parser.add_argument("package", help="the package directory")
    parser.add_argument("--expect-sha256", metavar="HEX", help="the digest the package must have")
    args = parser.parse_args(argv)
    try:
        verify_manifest(Path(args.package), args.expect_sha256)
    except ManifestError as exc:
        print(f"FAIL: {exc}")
        return 1
    print(f"ok: {args.package} digest {manifest_digest(Path(args.package))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
