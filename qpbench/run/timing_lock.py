"""Keep timing tests alone on a machine under pytest-xdist.

Workers on one machine share a lock file (named by xdist's test run id, in a
directory of the machine's temporary folder that only this user can enter). A
qp_timing test holds it exclusively; every other qpbench test holds it shared.
So accuracy and memory tests run side by side on all workers, while a timing
test waits until nothing else of the run is measuring on that machine, and
nothing starts beside it. Each host of a multi-host run has its own lock: hosts
time in parallel, each alone on itself.

The reader/writer lock is fasteners' ``InterProcessReaderWriterLock`` (POSIX
record locks, ``lockf``: a waiter polls every 10-100 ms). The temporary folder
is shared with other users, and fasteners creates the directory with
``os.makedirs`` and opens the file with ``open(path, 'a+')``, which follow a
planted symbolic link; so ``PrivateLockFile`` replaces its one opening step
(``_do_open``): the directory must be this user's and closed to others, the
file is opened with ``O_NOFOLLOW`` and must be a regular file of this user.
The last holder removes the file, so none is left after the run.

POSIX record locks belong to a process, not to a file descriptor: a process
holds this lock at most once at a time (one test at a time, as the plugin does).

Needs POSIX (``O_NOFOLLOW``, user ids); elsewhere timing tests under xdist are skipped.
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

import fasteners

TIMING_MARKER = "qp_timing"
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")  # xdist's is a uuid4 hex; --testrunuid may set another


class TimingLockError(RuntimeError):
    """The lock file cannot be used safely (a link, another user's file, no run id)."""


def supported() -> bool:
    return hasattr(os, "O_NOFOLLOW") and hasattr(os, "getuid")


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


class PrivateLockFile(fasteners.InterProcessReaderWriterLock):
    """fasteners' reader/writer lock on a file of this user in a private directory, opened
    without following links. ``opened`` is the (device, inode) of the file it locks."""

    opened: tuple[int, int] | None = None

    def _do_open(self) -> None:
        if self.lockfile is not None:
            return
        path = Path(os.fsdecode(self.path))
        _private_dir(path.parent)
        try:
            # Read and write: lockf's shared lock needs a readable descriptor, its exclusive one a writable.
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise TimingLockError(f"timing lock: cannot open {path} ({exc.strerror}); "
                                  "is it a symbolic link?") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            os.close(fd)
            raise TimingLockError(f"timing lock: {path} is not a regular file of this user")
        self.lockfile = os.fdopen(fd, "a+b", buffering=0)
        self.opened = (info.st_dev, info.st_ino)

    def still_at(self, path: Path) -> bool:
        """Whether ``path`` still names the file this lock opened (not removed or replaced)."""
        try:
            now = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return (now.st_dev, now.st_ino) == self.opened


def _acquire(path: Path, exclusive: bool) -> PrivateLockFile:
    """Lock the file at ``path``. Retried when the file was removed or replaced while we
    waited: a lock on a removed file excludes nobody."""
    while True:
        lock = PrivateLockFile(path)
        if exclusive:
            lock.acquire_write_lock()
        else:
            lock.acquire_read_lock()
        if lock.still_at(path):
            return lock
        lock.release_write_lock()  # unlocks and closes, whichever kind it holds


def _release(lock: PrivateLockFile, path: Path) -> None:
    """Unlock; the last holder (the one whose lock turns exclusive at once: a record lock
    converts in place) removes the file first, so no lock file outlives the run. One who
    opened it meanwhile then locks a removed file and starts again (``_acquire``)."""
    try:
        if lock.acquire_write_lock(blocking=False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    finally:
        lock.release_write_lock()


@contextlib.contextmanager
def held(config: Any, exclusive: bool) -> Iterator[None]:
    path = lock_path(config)
    if path is None or not supported():
        yield
        return
    lock = _acquire(path, exclusive)
    try:
        yield
    finally:
        _release(lock, path)
