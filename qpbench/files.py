"""Files written atomically: a temporary file beside the target, flushed to disk, then renamed over it.

Every file qpbench writes for a user (run records, baselines, reports, the
comparison Markdown) goes through here: a crash or a full disk never leaves a
half-written file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from collections.abc import Callable
from typing import Any


def write_json(data: dict[str, Any], path: Path, default: Callable[[Any], Any] | None = None) -> Path:
    """JSON (no NaN: strict JSON readers refuse it), written atomically; ``default`` as for json.dumps."""
    return write_text(json.dumps(data, indent=1, allow_nan=False, default=default) + "\n", path)


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
