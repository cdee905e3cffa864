"""Machine probe and fingerprint: what the measurements were taken on."""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from importlib import metadata
import platform
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

import psutil

from qpbench.runtime.cpu_quota import quota_summary

ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512vnni",
             "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")
THREAD_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "KMP_AFFINITY", "GOMP_CPU_AFFINITY")


# The CPU's identity beside its brand string: (key in cpu_info, py-cpuinfo's key, /proc/cpuinfo's key).
# A brand string alone can name two generations: a Zen 4 and a Zen 5 EPYC in a VM both read "AMD EPYC".
CPU_ID_FIELDS = (("vendor_id", "vendor_id_raw", "vendor_id"), ("family", "family", "cpu family"),
                 ("model", "model", "model"), ("stepping", "stepping", "stepping"))


def cpu_info() -> dict[str, Any]:
    """The CPU's brand, vendor, family, model, stepping and ISA flags, probed once per process
    (py-cpuinfo takes 0.2-0.3 s a call, and the fingerprint, the build cache's key, the kernels'
    peak and baseline names all ask)."""
    return copy.deepcopy(_probe_cpu())


def cpu_identity(cpu: Mapping[str, Any]) -> tuple[str, int, int] | None:
    """(vendor, family, model) of a fingerprint's ``cpu``; None when it does not say (a record made
    before they were probed), so that such a record is still judged by brand and ISA alone."""
    family, model = cpu.get("family"), cpu.get("model")
    if not isinstance(family, int) or not isinstance(model, int):
        return None
    return str(cpu.get("vendor_id") or ""), family, model


def cpu_model_label(cpu: Mapping[str, Any]) -> str | None:
    """'AuthenticAMD family 25 model 17', or None when the fingerprint does not say."""
    identity = cpu_identity(cpu)
    if identity is None:
        return None
    vendor, family, model = identity
    return f"{vendor} family {family} model {model}".strip()


def describe_cpu(cpu: Mapping[str, Any]) -> str:
    """A CPU for a message: its brand, and its vendor, family and model when known."""
    label = cpu_model_label(cpu)
    return str(cpu.get("brand") or "unknown") + (f", {label}" if label else "")


def parse_proc_cpuinfo(text: str) -> dict[str, str]:
    """The first processor's ``key: value`` lines of /proc/cpuinfo (they repeat per logical CPU)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if out:
                break
            continue
        key, sep, value = line.partition(":")
        if sep:
            out.setdefault(key.strip(), value.strip())
    return out


def _proc_cpuinfo() -> dict[str, str]:
    try:
        return parse_proc_cpuinfo(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace"))
    except OSError:  # not Linux: py-cpuinfo's answer, or None
        return {}


def _as_int(value: Any) -> int | None:
    try:
        return int(str(value).strip())  # /proc/cpuinfo and py-cpuinfo both give decimal
    except ValueError:
        return None


def identity_fields(info: Mapping[str, Any], proc: Callable[[], Mapping[str, str]] = _proc_cpuinfo) -> dict[str, Any]:
    """Vendor id, family, model and stepping from py-cpuinfo's ``info``, each read from /proc/cpuinfo
    where py-cpuinfo left it out; None where neither says. Never fails."""
    out: dict[str, Any] = {}
    read: Mapping[str, str] | None = None
    for key, ours, procs in CPU_ID_FIELDS:
        value = info.get(ours)
        if value in (None, ""):
            read = proc() if read is None else read
            value = read.get(procs)
        if value in (None, ""):
            out[key] = None
        else:
            out[key] = str(value).strip() if key == "vendor_id" else _as_int(value)
    return out


@functools.cache
def _probe_cpu() -> dict[str, Any]:
    try:
        import cpuinfo

        info = cpuinfo.get_cpu_info()
    except Exception as exc:  # py-cpuinfo shells out; never let the probe break a run
        info = {"brand_raw": platform.processor() or "unknown", "flags": [], "error": repr(exc)}
    flags = set(info.get("flags", []))
    return {
        "brand": info.get("brand_raw", "unknown"),
        "arch": info.get("arch", platform.machine()),
        "hz_advertised": info.get("hz_advertised_friendly"),
        **identity_fields(info),
        "isa": {f: (f in flags) for f in ISA_FLAGS},
    }


def cache_sizes() -> list[dict[str, Any]]:
    """CPU caches from sysfs (Linux): level, type, size, which CPUs share it."""
    root = Path("/sys/devices/system/cpu/cpu0/cache")
    caches = []
    for index in sorted(root.glob("index*")):
        try:
            caches.append({
                "level": int((index / "level").read_text()),
                "type": (index / "type").read_text().strip(),
                "size": (index / "size").read_text().strip(),
                "shared_cpu_list": (index / "shared_cpu_list").read_text().strip(),
            })
        except (OSError, ValueError):
            continue
    return caches


def torch_build_libraries() -> dict[str, str | None]:
    """oneDNN, MKL and OpenMP versions from torch's build configuration."""
    import torch

    found: dict[str, str | None] = {"onednn": None, "mkl": None, "openmp": None}
    for line in torch.__config__.show().splitlines():
        line = line.strip(" -")
        if line.startswith("Intel(R) MKL-DNN"):
            found["onednn"] = line.split()[2]
        elif "Math Kernel Library Version" in line:
            found["mkl"] = line.split("Version")[1].split()[0]
        elif line.startswith("OpenMP"):
            found["openmp"] = line
    return found


MIN_TORCH = (2, 6)  # torch.load(weights_only=True) can be bypassed before 2.6 (CVE-2025-32434)


def torch_version_problem(version: str) -> str | None:
    """Why ``version`` of torch is outside the supported range, or None when it is within."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None or (int(match[1]), int(match[2])) >= MIN_TORCH:
        return None
    return (f"torch {version} is older than {'.'.join(map(str, MIN_TORCH))}: torch.load(weights_only=True) can be "
            "bypassed there (CVE-2025-32434), so a checkpoint from elsewhere may run code; "
            "install torch>=2.6 (pip install -U 'torch>=2.6')")


def torch_info() -> dict[str, Any]:
    import torch

    out: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda_build": torch.version.cuda,
        "build": "CUDA build" if torch.version.cuda else "CPU-only build",
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkl": torch.backends.mkl.is_available(),
        "libraries": torch_build_libraries(),
    }
    # Read the installed version without importing torchvision (600 ms, and
    # re-importing it in one process after a module-cache reset fails).
    try:
        out["torchvision"] = metadata.version("torchvision")
    except metadata.PackageNotFoundError:
        out["torchvision"] = None
    return out


RUNTIME_PACKAGES = ("torchao", "onnx", "onnxscript", "onnxruntime", "openvino", "nncf")


def runtime_versions() -> dict[str, str | None]:
    """Installed versions of the optional inference packages (read from metadata, not imported)."""
    out: dict[str, str | None] = {}
    for name in RUNTIME_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def fingerprint() -> dict[str, Any]:
    """Everything that changes a timing: CPU, ISA, cores, memory, builds, thread settings."""
    mem = psutil.virtual_memory()
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": cpu_info(),
        "caches": cache_sizes(),
        "cores_physical": psutil.cpu_count(logical=False),
        "cores_logical": psutil.cpu_count(logical=True),
        "cpu_affinity": affinity,
        # A container's CPU quota caps what the affinity shows: 2 CPUs of time on a 64-core host.
        "cpu_quota": quota_summary(),
        "memory_total_mb": round(mem.total / 2**20),
        "memory_available_mb": round(mem.available / 2**20),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "thread_env": {k: os.environ.get(k) for k in THREAD_ENV},
        **torch_info(),
        "runtimes": runtime_versions(),
    }
