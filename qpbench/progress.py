"""Progress bars for long steps (calibration, compilation, QAT, data generation).

One helper so every bar behaves the same: on stderr, and only where a person
watches it. Under CI (``CI`` set) or when stderr is not a terminal (a log file,
pytest's capture) the bar is disabled and prints nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any


def enabled() -> bool:
    """Whether bars are shown: stderr is a terminal and this is not a CI job."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr
        return False


def progress(iterable: Iterable[Any] | None = None, *, desc: str, total: int | None = None,
             unit: str = "it", disable: bool | None = None) -> Any:
    """A tqdm bar on stderr; ``disable`` None means "unless :func:`enabled` says otherwise".

    Use as an iterable wrapper or a context manager (``bar.update()``).
    """
    from tqdm import tqdm  # a core dependency; imported here to keep module import cheap

    return tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, leave=False,
                disable=(not enabled()) if disable is None else disable)
