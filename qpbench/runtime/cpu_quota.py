"""The CPUs this process may really use: its affinity, capped by a cgroup CPU quota.

``docker --cpus=2`` on a 64-core host leaves all 64 cores in the affinity mask but
throttles the container to 2 CPUs' worth of time per period: torch, ONNX Runtime and
OpenVINO size their thread pools from the cores they see, spread over 64 threads and
spend most of each period throttled. The quota is read from cgroup v2 ``cpu.max`` or
cgroup v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``, from this process's cgroup up to
the hierarchy's root (a parent's limit applies to its children too), smallest wins.

Standard library only: copied into deployment packages as ``qpdeploy/cpu_quota.py``.
Never raises: an unreadable or garbled file means "no quota known".
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

V2 = "cgroup v2 cpu.max"
V1 = "cgroup v1 cfs"
# Where cgroupfs usually is, for when /proc/self/mountinfo cannot be read.
V2_FALLBACK = "sys/fs/cgroup"
V1_FALLBACKS = ("sys/fs/cgroup/cpu,cpuacct", "sys/fs/cgroup/cpu")


@dataclass(frozen=True)
class CpuQuota:
    """A CPU time limit: ``quota_us`` of CPU time every ``period_us``, from ``source``."""

    source: str
    quota_us: int
    period_us: int

    @property
    def cpus(self) -> float:
        return self.quota_us / self.period_us

    @property
    def threads(self) -> int:
        """Whole CPUs, rounded up: 1.5 CPUs of time keep two threads busy part of the time, never 0."""
        return max(1, -(-self.quota_us // self.period_us))


@dataclass(frozen=True)
class Mount:
    point: Path  # where the hierarchy is mounted
    root: PurePosixPath  # the cgroup the mount shows at its top (not "/" in some containers)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, ValueError):  # ValueError: undecodable bytes
        return None


def affinity_count() -> int:
    """CPUs in this process's affinity mask (all CPUs where the OS has no affinity call)."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except OSError:
            pass
    return os.cpu_count() or 1


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash in paths as octal escapes (\040).
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def cgroup_mounts(root: Path) -> tuple[Mount | None, dict[str, Mount]]:
    """The cgroup2 mount and the v1 mounts by controller name, from /proc/self/mountinfo."""
    v2: Mount | None = None
    v1: dict[str, Mount] = {}
    for line in (_read(root / "proc/self/mountinfo") or "").splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        if len(fields) < sep + 4:
            continue
        mount = Mount(root / _unescape(fields[4]).lstrip("/"), PurePosixPath(_unescape(fields[3])))
        if fields[sep + 1] == "cgroup2" and v2 is None:
            v2 = mount
        elif fields[sep + 1] == "cgroup":
            for option in fields[sep + 3].split(","):
                v1.setdefault(option, mount)
    return v2, v1


def cgroup_paths(root: Path) -> tuple[PurePosixPath | None, dict[str, PurePosixPath]]:
    """This process's cgroup v2 path (the ``0::`` line) and v1 paths by controller, from /proc/self/cgroup."""
    v2: PurePosixPath | None = None
    v1: dict[str, PurePosixPath] = {}
    for line in (_read(root / "proc/self/cgroup") or "").splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3 or not parts[2].startswith("/"):
            continue
        path = PurePosixPath(parts[2])
        if parts[0] == "0" and parts[1] == "":
            v2 = path
        else:
            for controller in parts[1].split(","):
                v1[controller] = path
    return v2, v1


def cgroup_dirs(mount: Mount, path: PurePosixPath | None) -> list[Path]:
    """This process's cgroup directory under ``mount`` and each parent up to the mount's top."""
    relative = PurePosixPath("/")
    if path is not None:
        try:
            relative = PurePosixPath("/") / path.relative_to(mount.root)
        except ValueError:  # the mount shows a cgroup the path is not under: only its top is known
            pass
    # ".." in a path read from a file must not walk out of the mount.
    parts = [p for p in relative.parts[1:] if p not in ("", ".", "..")]
    return [mount.point.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _v2_limit(directory: Path) -> CpuQuota | None:
    fields = (_read(directory / "cpu.max") or "").split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    return _quota(V2, fields[0], fields[1])


def _v1_limit(directory: Path) -> CpuQuota | None:
    quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
    if quota is None or period is None:
        return None
    return _quota(V1, quota.strip(), period.strip())


def _quota(source: str, quota: str, period: str) -> CpuQuota | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    return CpuQuota(source, q, p) if q > 0 and p > 0 else None  # v1 writes -1 for "no limit"


def _smallest(found: list[CpuQuota | None]) -> CpuQuota | None:
    limits = [q for q in found if q is not None]
    return min(limits, key=lambda q: q.cpus) if limits else None


def read_quota(root: Path = Path("/")) -> CpuQuota | None:
    """The tightest CPU quota on this process's cgroup or its parents, v2 or v1; None when none is set or known."""
    try:
        return _read_quota(root)
    except Exception:  # a probe: a layout this code did not expect must not break a run or a deployment
        return None


def _read_quota(root: Path) -> CpuQuota | None:
    v2_mount, v1_mounts = cgroup_mounts(root)
    v2_path, v1_paths = cgroup_paths(root)
    found: list[CpuQuota | None] = []
    if v2_mount is None and v2_path is not None:
        v2_mount = Mount(root / V2_FALLBACK, PurePosixPath("/"))
    if v2_mount is not None:
        found += [_v2_limit(d) for d in cgroup_dirs(v2_mount, v2_path)]
    v1_mount = v1_mounts.get("cpu")
    v1_candidates = [v1_mount] if v1_mount else [Mount(root / d, PurePosixPath("/")) for d in V1_FALLBACKS]
    for mount in v1_candidates:
        found += [_v1_limit(d) for d in cgroup_dirs(mount, v1_paths.get("cpu"))]
    return _smallest(found)


def usable_cpus(root: Path = Path("/"), affinity: int | None = None) -> int:
    """CPUs this process may really use: ``min(affinity, ceil(quota / period))``, the affinity when no quota."""
    return _capped(affinity_count() if affinity is None else max(1, affinity), read_quota(root))


def _capped(cpus: int, quota: CpuQuota | None) -> int:
    return min(cpus, quota.threads) if quota is not None else cpus


def quota_threads(root: Path = Path("/")) -> int | None:
    """The thread count a quota imposes when it is below the affinity; None when nothing caps the affinity,
    so callers keep their runtime's own default there."""
    cpus = affinity_count()
    usable = usable_cpus(root, cpus)
    return usable if usable < cpus else None


def quota_summary(root: Path = Path("/")) -> dict[str, Any]:
    """For the machine fingerprint: where the quota comes from, how many CPUs it allows, what is usable."""
    quota = read_quota(root)
    return {
        "source": quota.source if quota else None,
        "cpus": round(quota.cpus, 3) if quota else None,
        "usable_cpus": _capped(affinity_count(), quota),
    }
