"""This process's memory: peak and current RSS, and RSS split by page kind.

Standard library at module level (copied into deployment packages with the
rest of the runtime layer). Linux reads /proc; elsewhere (macOS, where a
package of an ONNX Runtime or OpenVINO variant runs too) the peak comes from
``getrusage`` and the current RSS from psutil when it is installed; a figure
that cannot be read is None, never a guess.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from typing import Any

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

PROC_STATUS = "/proc/self/status"
PROC_STATM = "/proc/self/statm"


def _status_kib(*keys: str) -> dict[str, int]:
    """Fields of /proc/self/status in KiB ({} where there is no /proc)."""
    found: dict[str, int] = {}
    try:
        with open(PROC_STATUS) as fh:
            for line in fh:
                key = line.split(":", 1)[0]
                if key in keys:
                    found[key] = int(line.split()[1])  # kB
    except (OSError, ValueError, IndexError):
        return {}
    return found


def ru_maxrss_mb(ru_maxrss: int, platform: str | None = None) -> float:
    """``ru_maxrss`` in MiB: the unit is KiB on Linux and the BSDs but bytes on macOS."""
    platform = sys.platform if platform is None else platform
    return ru_maxrss / 2**20 if platform == "darwin" else ru_maxrss / 1024.0


def max_rss_mb() -> float | None:
    """This process's peak RSS in MiB (None where neither /proc nor getrusage exists).

    Linux: VmHWM from /proc/self/status, the high-water mark of this process's
    own address space. Not ru_maxrss: it survives fork and exec, so a worker
    started by a 1.5 GB pytest process would report the parent's peak.
    """
    hwm = _status_kib("VmHWM").get("VmHWM")
    if hwm is not None:
        return hwm / 1024.0
    if resource is None:
        return None
    return ru_maxrss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def rss_split_mb() -> dict[str, float | None]:
    """This process's current RSS split into anonymous and file-backed pages (MiB); None off Linux."""
    found = _status_kib("RssAnon", "RssFile")
    return {"rss_anon_mb": found["RssAnon"] / 1024.0 if "RssAnon" in found else None,
            "rss_file_mb": found["RssFile"] / 1024.0 if "RssFile" in found else None}


def current_rss_mb() -> float | None:
    """This process's resident set size now, in MiB (/proc/self/statm; psutil elsewhere; None without it).

    Read with os.open/os.read: the wrapper calls this after every prediction, and a
    buffered text open costs four times as much (about 50 us against 13 us).
    """
    try:
        fd = os.open(PROC_STATM, os.O_RDONLY)
        try:
            data = os.read(fd, 256)
        finally:
            os.close(fd)
        return int(data.split()[1]) * _page_size() / 2**20
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil
    except ImportError:  # a deployment process need not have it
        return None
    return psutil.Process().memory_info().rss / 2**20


@functools.cache
def _page_size() -> int:
    return os.sysconf("SC_PAGE_SIZE")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


@functools.cache
def _mallinfo2() -> Any:
    """glibc's mallinfo2 (2.33 and later), or None (musl, macOS, Windows, older glibc)."""
    try:
        libc = ctypes.CDLL(None)
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _MallInfo2
    fn.argtypes = []
    return fn


def heap_in_use_mb() -> float | None:
    """The memory malloc has handed out and not had back, in MiB (glibc's mallinfo2: ``uordblks``
    of every arena plus ``hblkhd``, its mmapped blocks); None without glibc.

    A leak of malloc'd memory (tensors, a runtime's buffers, C++ objects) grows it at once, by the
    leak's size. RSS can lag for a long time: a small leak first fills the holes that freed
    temporaries (activations) left in the heap, so RSS stays flat while the leak goes on. Python's
    small objects live in pymalloc arenas outside malloc: RSS still sees those.
    """
    fn = _mallinfo2()
    if fn is None:
        return None
    info = fn()
    return (info.uordblks + info.hblkhd) / 2**20
