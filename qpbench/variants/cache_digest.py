"""The checks a build cache entry passes before any of its files is loaded.

An entry's ``entry.json`` records every file's sha256 and size. Before a file is loaded
(unpickled, ``torch.load``-ed, an AOTInductor package's native code run) the entry must hold
exactly those files, as regular files, and each must hash to its record: a file altered,
truncated, missing or added (where code could hide) makes the entry a miss, never a load.

That catches corruption, a partial restore and a file swapped without its record; it does not
stop someone who can rewrite the files and ``entry.json`` together. With ``$QPBENCH_CACHE_KEY``
set, entry.json carries an HMAC-SHA256 over its content under that key, and an entry without
a valid one is a miss: a cache restored from shared storage is used only if a holder of the
key wrote it. Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from qpbench.runtime.manifest import sha256_file

FORMAT = 1  # entry.json's layout; another value is a miss
METADATA = "entry.json"
FILES = Path("{files}")  # paths in entry.json that name a file under the entry's files/
LOADED = (("rebuild_options", "artifact"), ("meta", "artifact"), ("meta", "sparse_artifact"))  # paths a load opens
KEY_ENV = "QPBENCH_CACHE_KEY"
SIGNATURE = "signature"  # entry.json's field holding the HMAC; signed is everything else
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class Rejected(Exception):
    """An entry that must not be loaded; the message says why."""


# entry.json ------------------------------------------------------------------------------------

def entry_problem(path: Path, key: str) -> tuple[dict[str, Any] | None, str | None]:
    """(entry.json of the entry at ``path``, None) when its metadata, signature and file tree
    pass the checks that need no hashing, else (None or the data, why not)."""
    data, problem = _read_entry(path, key)
    if problem is None:
        assert data is not None
        problem = signature_problem(data) or records_problem(data["files"]) \
            or tree_problem(path, data["files"], METADATA) or _loads_outside(data)
    return data, problem


def _read_entry(path: Path, key: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        if not (path / METADATA).is_file() or (path / METADATA).is_symlink():
            return None, f"{METADATA} missing"
        data = json.loads((path / METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"{METADATA} unreadable: {type(exc).__name__}"
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
        return None, f"{METADATA} is not an entry for this key"
    if not isinstance(data.get("files"), dict) or not isinstance(data.get("rebuild_options"), dict) \
            or not isinstance(data.get("info"), dict) or not isinstance(data["info"].get("meta"), dict):
        return None, f"{METADATA} lacks its files, info or rebuild options"
    return data, None


def _loads_outside(data: dict[str, Any]) -> str | None:
    """Why the options or meta name a file to load that is not one of the entry's checked files."""
    sources = {"rebuild_options": data["rebuild_options"], "meta": data["info"]["meta"]}
    for where, field in LOADED:
        value = sources[where].get(field)
        if value and not (isinstance(value, str) and value.startswith(f"{FILES}/")
                          and value[len(f"{FILES}/"):] in data["files"]):
            return f"{where}.{field} names a file outside the entry: {value}"
    return None


# The signature ----------------------------------------------------------------------------------

def signing_key() -> bytes | None:
    """The team's secret from ``$QPBENCH_CACHE_KEY`` (None: entries are neither signed nor
    asked to be)."""
    value = os.environ.get(KEY_ENV, "")
    return value.encode() if value else None


def _mac(data: dict[str, Any], key: bytes) -> str:
    body = {k: v for k, v in data.items() if k != SIGNATURE}
    return hmac.new(key, json.dumps(body, sort_keys=True, separators=(",", ":")).encode(), hashlib.sha256).hexdigest()


def sealed(entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` as JSON will read it back, signed when a key is set (what is signed is what a
    reader parses: the round trip turns tuples, paths and the like into what JSON holds)."""
    data = json.loads(json.dumps(entry, default=str))
    key = signing_key()
    if key is not None:
        data[SIGNATURE] = {"hmac-sha256": _mac(data, key)}
    return data


def signature_problem(data: dict[str, Any]) -> str | None:
    """Why entry.json's signature is not accepted (None: it is, or no key is set)."""
    key = signing_key()
    if key is None:
        return None
    given = data.get(SIGNATURE)
    if not isinstance(given, dict) or not isinstance(given.get("hmac-sha256"), str):
        return f"not signed, and {KEY_ENV} is set"
    if not hmac.compare_digest(given["hmac-sha256"], _mac(data, key)):
        return f"signature does not match {KEY_ENV}"
    return None


# The files --------------------------------------------------------------------------------------

def records_problem(files: dict[str, Any]) -> str | None:
    """Why the file records cannot be checked (an entry written before digests were kept)."""
    for rel, record in files.items():
        if not isinstance(record, dict) or not isinstance(record.get("sha256"), str) \
                or not SHA256_HEX.fullmatch(record["sha256"]) or not isinstance(record.get("bytes"), int):
            return f"no digest recorded for {rel}"
    return None


def tree_problem(entry_dir: Path, files: dict[str, Any], metadata: str) -> str | None:
    """Why the entry does not hold exactly ``metadata`` and the recorded files at their sizes:
    anything else (a link, a device, an extra file) is where altered code could hide."""
    top = {p.name for p in entry_dir.iterdir()}
    if top - {metadata, "files"}:
        return f"extra file: {min(top - {metadata, 'files'})}"
    found: dict[str, int] = {}
    if "files" in top:
        if not stat.S_ISDIR(os.lstat(entry_dir / "files").st_mode):
            return "not a regular file: files"
        found, problem = _regular_files(entry_dir / "files")
        if problem:
            return problem
    if found.keys() - files.keys():
        return f"extra file: {min(found.keys() - files.keys())}"
    for rel, record in files.items():
        if rel not in found:
            return f"{rel}: missing"
        if found[rel] != record["bytes"]:
            return f"{rel}: {found[rel]} bytes, stored {record['bytes']}"
    return None


def _regular_files(files_dir: Path) -> tuple[dict[str, int], str | None]:
    """Each file under ``files_dir`` (relative path -> size), or why one is not a regular file."""
    found: dict[str, int] = {}
    for dirpath, dirnames, filenames in os.walk(files_dir):  # links are listed, never followed
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = os.lstat(path)
            rel = path.relative_to(files_dir).as_posix()
            if stat.S_ISREG(info.st_mode):
                found[rel] = info.st_size
            elif not stat.S_ISDIR(info.st_mode):  # a link (that could point elsewhere later), a device
                return found, f"not a regular file: {rel}"
    return found, None


def digest_problem(root: Path, files: dict[str, Any]) -> str | None:
    """Why a file under ``root`` is not the one recorded (None: each is a regular file with the
    recorded size and sha256). Run on the very files that are then loaded."""
    for rel, record in files.items():
        path = root / rel
        try:
            info = os.lstat(path)
        except OSError:
            return f"{rel}: missing"
        if not stat.S_ISREG(info.st_mode):
            return f"not a regular file: {rel}"
        if info.st_size != record["bytes"]:
            return f"{rel}: {info.st_size} bytes, stored {record['bytes']}"
        if sha256_file(path) != record["sha256"]:
            return f"digest mismatch: {rel} (sha256 differs from the stored one)"
    return None
