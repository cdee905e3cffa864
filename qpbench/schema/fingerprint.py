"""The machine fingerprint a run record carries (``system.fingerprint()``), typed. Each part is a
TypedDict: a plain dict to the hooks that extend it (``pytest_qpbench_update_fingerprint``), and
to pydantic a typed object whose every known key is checked, with the keys a hook or a newer probe
adds allowed beside them (``extra_items``: the fingerprint's extra map). Every key is optional: a
user's ``pytest_qpbench_generate_fingerprint`` may return fewer, and older records have fewer."""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Ge, Gt
from typing_extensions import TypedDict


class CpuFingerprint(TypedDict, total=False, extra_items=Any):
    brand: str | None
    arch: str | None
    hz_advertised: str | None
    vendor_id: str | None
    family: int | None
    model: int | None
    stepping: int | None
    isa: dict[str, bool]  # the ISA flags the variants depend on (avx512_vnni, amx_tile, ...)


class CacheLevel(TypedDict, total=False, extra_items=Any):
    level: int | None
    type: str | None
    size: str | None
    shared_cpu_list: str | None


class CpuQuota(TypedDict, total=False, extra_items=Any):
    source: str | None  # where a container's quota was read, or None without one
    cpus: Annotated[float, Gt(0)] | None  # the quota in CPUs of time
    usable_cpus: Annotated[int, Ge(1)] | None  # what a run may use: the affinity, capped by the quota


class Fingerprint(TypedDict, total=False, extra_items=Any):
    cpu: CpuFingerprint
    caches: list[CacheLevel]
    cores_physical: int | None
    cores_logical: int | None
    cpu_affinity: list[int] | None
    cpu_quota: CpuQuota
    memory_total_mb: int
    memory_available_mb: int
    python: str
    platform: str
    thread_env: dict[str, str | None]  # OMP_NUM_THREADS and the like, None when unset
    torch: str | None
    cuda_build: str | None
    build: str | None
    num_threads: int
    num_interop_threads: int
    mkldnn: bool
    cpu_capability: str | None
    mkl: bool
    libraries: dict[str, str | None]
    torchvision: str | None
    runtimes: dict[str, str | None]  # each runtime package's version, None when not installed


# Checked as strictly as every record type, the extra keys allowed (pydantic reads this attribute,
# as its ``with_config`` sets it).
for _part in (CpuFingerprint, CacheLevel, CpuQuota, Fingerprint):
    _part.__pydantic_config__ = {"extra": "allow", "strict": True}  # type: ignore[attr-defined]
