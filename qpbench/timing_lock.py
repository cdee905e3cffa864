"""Keep timing tests alone on a machine under pytest-xdist.

Workers on one machine share a lock file (named by xdist's test run id, in the
machine's temporary folder). A qp_timing test holds it exclusively; every other
qpbench test holds it shared. So accuracy and memory tests run side by side
on all workers, while a timing test waits until nothing else of the run is
measuring on that machine, and nothing starts beside it. Each host of a
multi-host run has its own lock: hosts time in parallel, each alone on itself.

Needs ``fcntl`` (Linux, macOS); elsewhere timing tests under xdist are skipped.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

TIMING_MARKER = "qp_timing"


def supported() -> bool:
    return fcntl is not None


def lock_path(config: Any) -> Path | None:
    """The run's lock file on this machine, or None outside an xdist worker."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return None
    return Path(tempfile.gettempdir()) / f"qpbench-timing-{workerinput.get('testrunuid', 'run')}.lock"


def times_itself(config: Any) -> bool:
    """pytest-benchmark disables itself under xdist; qpbench then times calls itself,
    holding the exclusive lock, unless the user disabled benchmarks on purpose."""
    explicitly_disabled = bool(config.getoption("benchmark_disable", False))
    return lock_path(config) is not None and supported() and not explicitly_disabled


@contextlib.contextmanager
def held(config: Any, exclusive: bool) -> Iterator[None]:
    path = lock_path(config)
    if path is None or not supported():
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
