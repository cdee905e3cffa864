"""This process's memory: peak and current RSS, and RSS split by page kind.

Standard library at module level (copied into deployment packages with the
rest of the runtime layer); psutil is imported only where /proc is missing.
"""

from __future__ import annotations

import os
import resource


def max_rss_mb() -> float:
    """This process's peak RSS in MiB.

    Linux: VmHWM from /proc/self/status, the high-water mark of this process's
    own address space. Not ru_maxrss: it survives fork and exec, so a worker
    started by a 1.5 GB pytest process would report the parent's peak.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux, bytes on macOS


def rss_split_mb() -> dict[str, float | None]:
    """This process's current RSS split into anonymous and file-backed pages (MiB); None off Linux."""
    out: dict[str, float | None] = {"rss_anon_mb": None, "rss_file_mb": None}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(("RssAnon:", "RssFile:")):
                    key = "rss_anon_mb" if line.startswith("RssAnon") else "rss_file_mb"
                    out[key] = int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return out


def current_rss_mb() -> float:
    """This process's resident set size now, in MiB (/proc/self/statm; psutil elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import psutil

        return psutil.Process().memory_info().rss / 2**20
