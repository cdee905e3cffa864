"""The run record as JSON, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


def write_json(data: dict[str, Any], path: Path) -> Path:
    """Write to a temporary file beside ``path``, then rename: never a half-written file."""
    return write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", path)


def write_text(text: str, path: Path) -> Path:
    """Atomically: a temporary file beside ``path`` (UTF-8), flushed to disk, then renamed over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
