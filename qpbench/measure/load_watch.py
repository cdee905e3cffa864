"""The noise guard: how busy the machine was, apart from the measurement, while it ran.

A timing measurement is wrapped in ``LoadWatch``; it reads the kernel's CPU
accounting (``/proc/stat``) and this process's own CPU time before and after,
and gives the CPU other processes used meanwhile (in CPUs: 1.0 is one vCPU kept
busy) and the share of time the hypervisor stole. A figure taken while others
used more than ``MEASURE.load_others_cpu`` CPUs, or with more than
``MEASURE.load_steal_pct`` % stolen, is measured again (``MEASURE.load_repeats``
times at most) and, if still under load, kept with its load so the verdict can
say which figures were taken under load. Where ``/proc/stat`` is missing (not
Linux) nothing is read and nothing is marked.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from qpbench.measure.defaults import MEASURE

T = TypeVar("T")
PROC_STAT = Path("/proc/stat")


@dataclass(frozen=True)
class CpuTimes:
    """Seconds of CPU since boot, over all CPUs (busy, stolen, all) and of this process, at ``wall``."""

    busy_s: float
    steal_s: float
    total_s: float
    own_s: float
    wall: float


def read_cpu_times(stat: Path = PROC_STAT) -> CpuTimes | None:
    try:
        fields = stat.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) / tick for x in fields[1:9])
    own = os.times()
    return CpuTimes(user + nice + system + irq + softirq, steal, user + nice + system + idle + iowait + irq + softirq
                    + steal, own.user + own.system, time.monotonic())


def load_between(before: CpuTimes, after: CpuTimes) -> dict[str, float]:
    """{"others_cpu": CPUs other processes used, "steal_pct": % of all CPU time stolen}."""
    wall = max(after.wall - before.wall, 1e-9)
    others = (after.busy_s - before.busy_s) - (after.own_s - before.own_s)
    total = max(after.total_s - before.total_s, 1e-9)
    return {"others_cpu": round(max(0.0, others) / wall, 3),
            "steal_pct": round(100.0 * (after.steal_s - before.steal_s) / total, 2)}


def under_load(load: dict[str, float] | None) -> bool:
    return bool(load) and (load["others_cpu"] > MEASURE.load_others_cpu or load["steal_pct"] > MEASURE.load_steal_pct)


class LoadWatch:
    """``with LoadWatch() as w: ...`` then ``w.load`` (None where the accounting cannot be read)."""

    def __init__(self, reader: Callable[[], CpuTimes | None] = read_cpu_times) -> None:
        self.reader = reader
        self.load: dict[str, float] | None = None

    def __enter__(self) -> LoadWatch:
        self._before = self.reader()
        return self

    def __exit__(self, *exc: object) -> None:
        after = self.reader()
        if self._before is not None and after is not None:
            self.load = load_between(self._before, after)


def measured_quietly(measure: Callable[[], T], reader: Callable[[], CpuTimes | None] = read_cpu_times,
                     repeats: int | None = None) -> tuple[T, dict[str, float] | None]:
    """``measure()`` and the load it ran under, measured again (bounded) while the machine was busy."""
    attempts = 1 + (MEASURE.load_repeats if repeats is None else repeats)
    for _ in range(attempts):
        watch = LoadWatch(reader)
        with watch:
            result = measure()
        if not under_load(watch.load):
            break
    return result, watch.load
