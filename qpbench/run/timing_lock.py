"""Keep timing tests alone on a machine under pytest-xdist.

Workers on one machine share a lock file (named by xdist's test run id, in a
directory of the machine's temporary folder that only this user can enter). A
qp_timing test holds it exclusively; every other qpbench test holds it shared.
So accuracy and memory tests run side by side on all workers, while a timing
test waits until nothing else of the run is measuring on that machine, and
nothing starts beside it. Each host of a multi-host run has its own lock: hosts
time in parallel, each alone on itself.

The temporary folder is shared with other users, so the directory and the file
are opened without following symbolic links and must belong to this user; the
last holder removes the file, so none is left after the run.

Needs ``fcntl`` (Linux, macOS); elsewhere timing tests under xdist are skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

TIMING_MARKER = "qp_timing"
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")  # xdist's is a uuid4 hex; --testrunuid may set another


class TimingLockError(RuntimeError):
    """The lock file cannot be used safely (a link, another user's file, no run id)."""


def supported() -> bool:
    return fcntl is not None


def lock_path(config: Any) -> Path | None:
    """The run's lock file on this machine, or None outside an xdist worker."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return None
    uid = workerinput.get("testrunuid")
    if not isinstance(uid, str) or not RUN_ID.fullmatch(uid):
        # No predictable stand-in name: pytest-xdist >= 3.5 always gives a run id.
        raise TimingLockError(f"timing lock: pytest-xdist gave no usable test run id ({uid!r})")
    owner = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"qpbench-{owner}" / f"timing-{uid}.lock"


def times_itself(config: Any) -> bool:
    """pytest-benchmark disables itself under xdist; qpbench then times calls itself,
    holding the exclusive lock, unless the user disabled benchmarks on purpose."""
    explicitly_disabled = bool(config.getoption("benchmark_disable", False))
    return lock_path(config) is not None and supported() and not explicitly_disabled


def _private_dir(path: Path) -> None:
    """Create the user's lock directory, or check that the one there is a real directory
    of this user that nobody else can write to."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise TimingLockError(f"timing lock: {path} is not a directory of this user closed to others")


def _open_locked(path: Path, exclusive: bool) -> int:
    """Open the lock file (never through a link) and lock it. Retried when the file was
    removed or replaced while we waited: a lock on a removed file excludes nobody."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise TimingLockError(f"timing lock: cannot open {path} ({exc.strerror}); "
                                  "is it a symbolic link?") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            os.close(fd)
            raise TimingLockError(f"timing lock: {path} is not a regular file of this user")
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            now = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            now = None
        if now is not None and (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino):
            return fd
        os.close(fd)


def _release(fd: int, path: Path) -> None:
    """Unlock; the last holder (the one that can take the lock exclusively at once)
    removes the file first, so no lock file outlives the run."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pass  # someone else holds or waits for it: they remove it
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextlib.contextmanager
def held(config: Any, exclusive: bool) -> Iterator[None]:
    path = lock_path(config)
    if path is None or not supported():
        yield
        return
    _private_dir(path.parent)
    fd = _open_locked(path, exclusive)
    try:
        yield
    finally:
        _release(fd, path)
