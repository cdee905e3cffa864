"""Files written atomically: a temporary file beside the target, flushed to disk, then renamed over it.

Every file qpbench writes for a user (run records, baselines, reports, the
comparison Markdown) goes through here: a crash or a full disk never leaves a
half-written file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from collections.abc import Callable
from typing import Any

# A name that becomes one path component (a variant's, a baseline's): no separator, no
# leading dot (so never "." or ".."), no whitespace or control character.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SAFE_NAME_RULE = "1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"


def is_safe_name(name: object) -> bool:
    """Whether ``name`` may be used as a file or directory name. A full match: ``$`` in a
    search would also accept a name ending in a newline."""
    return isinstance(name, str) and SAFE_NAME.fullmatch(name) is not None


def write_json(data: dict[str, Any], path: Path, default: Callable[[Any], Any] | None = None) -> Path:
    """JSON (no NaN: strict JSON readers refuse it), written atomically; ``default`` as for json.dumps."""
    return write_text(json_text(data, default), path)


def json_text(data: dict[str, Any], default: Callable[[Any], Any] | None = None) -> str:
    """The text ``write_json`` writes."""
    return json.dumps(data, indent=1, allow_nan=False, default=default) + "\n"


def write_text(text: str, path: Path) -> Path:
    """Atomically: a temporary file beside ``path`` (UTF-8), flushed to disk, then renamed over it."""
    path = Path(path)
    tmp = _synced_temp(text, path)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _synced_temp(text: str, path: Path) -> Path:
    """``text`` in a temporary file beside ``path`` (UTF-8), on disk before it is returned."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_new_text(text: str, path: Path) -> Path:
    """Like ``write_text``, but never replaces a file: the complete temporary file is hard-linked
    to ``path``, which fails with FileExistsError when ``path`` exists (atomic and exclusive)."""
    path = Path(path)
    tmp = _synced_temp(text, path)
    try:
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
