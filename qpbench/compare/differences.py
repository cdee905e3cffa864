"""What differs between a baseline and a run in what makes their figures comparable: the
machine's fingerprint (another processor's speed is no baseline), the workload, the
evaluation set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from qpbench.record import RunRecord
from qpbench.system import cpu_model_label


# The differences that make another processor (fingerprint_differences' keys): speed figures from
# it are no baseline. Family and model count where both fingerprints have them; a record from
# before they were probed is judged by brand and ISA, as it was.
CPU_DIFFERENCES = ("CPU:", "CPU model:", "ISA:", "a fingerprint")


def cpu_differences(differences: Sequence[str]) -> list[str]:
    """Those of ``differences`` (fingerprint_differences') that make another processor."""
    return [d for d in differences if d.startswith(CPU_DIFFERENCES)]


def fingerprint_differences(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> list[str]:
    """What differs between two fingerprints in what changes a timing; [] when they match."""
    if not a or not b:
        return ["a fingerprint is missing"]
    known = all(cpu_model_label(fp.get("cpu") or {}) for fp in (a, b))

    def parts(fp: Mapping[str, Any]) -> dict[str, Any]:
        cpu = fp.get("cpu") or {}
        return {
            "CPU": cpu.get("brand"),
            "CPU model": cpu_model_label(cpu) if known else None,
            "ISA": tuple(sorted(k for k, v in (cpu.get("isa") or {}).items() if v)),
            "logical cores": fp.get("cores_logical"),
            "CPU affinity": len(fp["cpu_affinity"]) if fp.get("cpu_affinity") else None,
            "torch": fp.get("torch"),
            "torch build": fp.get("build"),
            "intra-op threads": fp.get("num_threads"),
            "thread environment": tuple(sorted((k, v) for k, v in (fp.get("thread_env") or {}).items() if v)),
        }

    pa, pb = parts(a), parts(b)
    return [f"{k}: {pa[k]!r} vs {pb[k]!r}" for k in pa if pa[k] != pb[k]]


def workload_differences(a: RunRecord, b: RunRecord) -> list[str]:
    out = []
    for key in ("name", "model_factory", "input_size"):
        if getattr(a.workload, key) != getattr(b.workload, key):
            out.append(f"workload {key}: {getattr(a.workload, key)!r} vs {getattr(b.workload, key)!r}")
    return out


def eval_set_differences(a: RunRecord, b: RunRecord) -> list[str]:
    """How two runs' evaluation sets differ: the dataset file's name and which samples, and how
    many. The folder it was read from is left out: a baseline made in one clone of a project is
    compared with runs in another (CI's), and the shipped file is the same file there."""
    ea, eb = a.eval_set, b.eval_set
    if not ea or not eb:  # under pytest-xdist the controller does not load the data, so it is not recorded
        return []
    out = []
    if eval_source(ea.get("source")) != eval_source(eb.get("source")):
        out.append(f"evaluation set source: {ea.get('source')!r} vs {eb.get('source')!r}")
    if ea.get("n_samples") != eb.get("n_samples"):
        out.append(f"evaluation set n_samples: {ea.get('n_samples')!r} vs {eb.get('n_samples')!r}")
    return out


def eval_source(source: object) -> str:
    """An evaluation set's source without the folders of its path: 'x.npz (first 25 images)'."""
    text = str(source)
    path, sep, rest = text.partition(" (")
    return Path(path).name + sep + rest
