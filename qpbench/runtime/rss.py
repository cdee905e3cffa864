"""This process's memory: peak and current RSS, and RSS split by page kind.

Standard library at module level (copied into deployment packages with the
rest of the runtime layer). Linux reads /proc; elsewhere (macOS, where a
package of an ONNX Runtime or OpenVINO variant runs too) the peak comes from
``getrusage`` and the current RSS from psutil when it is installed; a figure
that cannot be read is None, never a guess.
"""

from __future__ import annotations

import functools
import os
import sys

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
