"""The machine's peak operations per second for a precision, from the probe's ISA flags.

peak = cores x frequency x operations per cycle of the widest unit the CPU has for that
precision. An operation is one multiply or one add (a multiply-add counts 2), the unit
``torch.utils.flop_counter`` counts a model in, so achieved / peak is a plain share.

Per core and cycle, assuming two 512-bit FMA ports (server Xeons since Skylake-SP; a part
with one port reaches half) and Intel's published AMX rate:

| precision | unit | ops/cycle |
|---|---|---|
| fp32 | AVX-512 FMA (2 x 16 lanes x 2) | 64 |
| fp32 | AVX2 FMA (2 x 8 x 2) | 32 |
| bf16 | AMX-BF16 (1024 MACs) | 2048 |
| bf16 | AVX512-BF16 vdpbf16ps (2 x 32 x 2) | 128 |
| int8 | AMX-INT8 (2048 MACs) | 4096 |
| int8 | AVX-512 VNNI vpdpbusd (2 x 64 x 2) | 256 |
| int8 | AVX-512 without VNNI (three instructions per vpdpbusd) | 85 |
| int8 | AVX2 (+VNNI: 128; without: 43) | |

A bf16 variant on a CPU without native bf16 is emulated in fp32: its peak is fp32's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# precision -> (ISA flags all required, unit name, ops per cycle per core), widest first
UNITS: dict[str, tuple[tuple[tuple[str, ...], str, int], ...]] = {
    "int8": ((("amx_int8",), "AMX-INT8", 4096), (("avx512_vnni",), "AVX-512 VNNI", 256),
             (("avx512vnni",), "AVX-512 VNNI", 256), (("avx512bw",), "AVX-512", 85),
             (("avx_vnni",), "AVX-VNNI", 128), (("avx2",), "AVX2", 43)),
    "bf16": ((("amx_bf16",), "AMX-BF16", 2048), (("avx512_bf16",), "AVX512-BF16", 128)),
    "fp32": ((("avx512f",), "AVX-512 FMA", 64), (("avx2", "fma"), "AVX2 FMA", 32), ((), "SSE", 8)),
}
UNITS["fp16"] = UNITS["fp32"]  # no fp16 compute units assumed: converted to fp32


@dataclass(frozen=True)
class Peak:
    precision: str
    unit: str  # e.g. "AVX-512 VNNI"
    ops_per_cycle: int  # per core
    cores: int
    hz: float

    @property
    def ops_per_s(self) -> float:
        return self.cores * self.hz * self.ops_per_cycle


def native_bf16(isa: Mapping[str, bool]) -> bool:
    """Whether the CPU computes bf16 natively (AMX-BF16 or AVX512-BF16), not by emulation."""
    return bool(isa.get("amx_bf16") or isa.get("avx512_bf16"))


def peak_for(precision: str, isa: Mapping[str, bool], cores: int, hz: float) -> Peak:
    """The widest unit the flags offer for ``precision`` (bf16 without one: fp32's)."""
    if precision not in UNITS:
        raise ValueError(f"no peak known for precision {precision!r}: choose from {sorted(UNITS)}")
    if cores < 1 or hz <= 0:
        raise ValueError(f"a peak needs cores >= 1 and a frequency > 0, got {cores} cores at {hz} Hz")
    for needs, unit, ops in UNITS[precision]:
        if all(isa.get(flag) for flag in needs):
            return Peak(precision, unit, ops, cores, hz)
    return peak_for("fp32", isa, cores, hz)


def cpu_hz(cpuinfo_path: Path = Path("/proc/cpuinfo")) -> float | None:
    """The nominal frequency: the "@ 2.80GHz" of the model name, else the first "cpu MHz" line."""
    try:
        text = cpuinfo_path.read_text()
    except OSError:
        return None
    mhz = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model name" and "@" in value and value.endswith("GHz"):
            try:
                return float(value.rsplit("@", 1)[1].strip()[:-3]) * 1e9
            except ValueError:
                pass
        if key == "cpu MHz" and mhz is None:
            try:
                mhz = float(value) * 1e6
            except ValueError:
                pass
    return mhz
