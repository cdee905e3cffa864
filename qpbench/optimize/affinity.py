"""CPU affinity (Linux): pin this process to chosen cores, restored on exit.

Pinning keeps a model's threads on the same cores (warm caches, no migration);
with fewer threads than cores it also leaves the other cores to the rest of
the service. ``os.sched_setaffinity`` is Linux-only: elsewhere the context
manager does nothing and says so through ``supported()``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator


def supported() -> bool:
    return hasattr(os, "sched_setaffinity")


def allowed_cpus() -> list[int]:
    if supported():
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def first_cpus(n: int) -> list[int]:
    """The first ``n`` CPUs this process may run on."""
    cpus = allowed_cpus()
    if not 1 <= n <= len(cpus):
        raise ValueError(f"cannot pin to {n} CPUs: this process may use {len(cpus)} ({cpus})")
    return cpus[:n]


@contextlib.contextmanager
def cpu_affinity(cpus: Iterable[int] | None) -> Iterator[None]:
    """Run the block on ``cpus`` (None: unchanged) and restore the previous set."""
    if cpus is None or not supported():
        yield
        return
    wanted = set(cpus)
    allowed = set(os.sched_getaffinity(0))
    if not wanted or not wanted <= allowed:
        raise ValueError(f"CPU set {sorted(wanted)} is not within the allowed CPUs {sorted(allowed)}")
    os.sched_setaffinity(0, wanted)
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)
