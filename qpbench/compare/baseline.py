"""Named baselines: save a run record under ``<results>/baselines/NAME.json``, list, load, validate.

A baseline is a run record (``RunRecord``: raw samples, fingerprint, verdict) plus
a ``baseline`` block: its name, when it was saved,
the git commit it was measured at (when git is available) and where
pytest-benchmark stored its own part of the run. Written atomically.

It holds what a comparison reads (``compared_part``): every field of the record, and of its
results the kinds in ``COMPARED``. The long runs' samples (stress, concurrency, loadgen) and the
other results are the run's own; no comparison reads them, and they were nine tenths of a
baseline's bytes (a compact quick run: 3.0 MB, of it 2.0 MB concurrency latencies). A baseline
written before keeps them and compares the same.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from qpbench.errors import QPBenchError, RecordError
from qpbench.files import SAFE_NAME_RULE, is_safe_name
from qpbench.record import SCHEMA_VERSION, RunRecord
from qpbench.results import AccuracyResult, FidelityResult, LatencyResult, MemoryResult, PairedResult, Result
from qpbench.system import cpu_identity

LATEST = "latest"
CPU_FIELD = "{cpu}"  # in a baseline's name: this machine's CPU (cpu_slug), so each CPU has its own
# The widest vector ISA a CPU has, as a name's suffix: two processors with one brand string (an AMD
# EPYC with AVX2 only and one with AVX-512) are different machines for a baseline. AVX512_BF16
# without AMX is a tier of its own: OpenVINO runs bf16 natively there and emulates it in fp32 below.
ISA_TIERS: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = (
    ("amx", (("amx_int8",), ("amx_tile",))),
    ("avx512-vnni-bf16", (("avx512f", "avx512_vnni", "avx512_bf16"), ("avx512f", "avx512vnni", "avx512_bf16"))),
    ("avx512-vnni", (("avx512f", "avx512_vnni"), ("avx512f", "avx512vnni"))),
    ("avx512", (("avx512f",),)),
    ("avx2", (("avx2",),)),
)
# CPUID vendor strings as a name's first word (another vendor: its own string, lower case).
VENDORS = {"GenuineIntel": "intel", "AuthenticAMD": "amd", "HygonGenuine": "hygon", "CentaurHauls": "centaur"}
# The results a comparison reads from a baseline (compare.runs.compare_runs; the speed figures also
# in RegressionStep.out_of_line and run_statistics): the interleaved A/B pairs, the latency samples,
# peak memory, accuracy and fidelity. tests/test_baseline_slim.py fails when one more is read.
COMPARED: tuple[type, ...] = (PairedResult, LatencyResult, MemoryResult, AccuracyResult, FidelityResult)


class BaselineError(QPBenchError):
    """A baseline is missing, corrupt, truncated or from another schema version."""


def baselines_dir(results_dir: str | Path) -> Path:
    return Path(results_dir) / "baselines"


def _words(text: str) -> str:
    """``text`` in lower case and dashes, without (R) and (TM): a safe part of a file name."""
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"\((r|tm)\)", "", text.lower())).strip("-")


def isa_tier(isa: Mapping[str, Any]) -> str:
    """The first of ISA_TIERS whose flags ``isa`` has, else ``base``."""
    return next((name for name, any_of in ISA_TIERS if any(all(isa.get(f) for f in flags) for flags in any_of)),
                "base")


def cpu_slug(cpu: Mapping[str, Any]) -> str:
    """A CPU (the fingerprint's ``cpu``) as part of a baseline name: its vendor (unless the brand
    starts with it), brand string, family and model, then its widest vector ISA, e.g.
    ``amd-epyc-f25-m17-avx512-vnni-bf16``. In a VM the brand string can be as bare as "AMD EPYC",
    which a Zen 4 and a Zen 5 share; family and model tell them apart. A fingerprint from before
    family and model were probed gives brand and ISA alone, as names were made then."""
    brand = _words(str(cpu.get("brand") or "unknown"))[:70].strip("-") or "unknown"
    vendor_id = str(cpu.get("vendor_id") or "")
    vendor = VENDORS.get(vendor_id) or _words(vendor_id)[:20].strip("-")
    parts = [vendor] if vendor and not f"{brand}-".startswith(f"{vendor}-") else []
    parts.append(brand)
    identity = cpu_identity(cpu)
    if identity is not None:
        parts.append(f"f{identity[1]}-m{identity[2]}")
    return "-".join([*parts, isa_tier(cpu.get("isa") or {})])


def for_cpu(name: str, cpu: Mapping[str, Any]) -> str:
    """``name`` with ``{cpu}`` replaced by this CPU's slug (unchanged without it)."""
    return name.replace(CPU_FIELD, cpu_slug(cpu)) if CPU_FIELD in name else name


def check_name(name: str) -> str:
    if name == LATEST:
        raise BaselineError(f"{LATEST!r} is reserved (it means the newest baseline): choose another name")
    if not is_safe_name(name):
        raise BaselineError(f"baseline name {name!r} must be {SAFE_NAME_RULE}")
    return name


def git_info(cwd: str | Path) -> dict[str, Any] | None:
    """Commit, branch and whether the tree had changes; None without git (never fails)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        branch = git("rev-parse", "--abbrev-ref", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "branch": branch, "dirty": dirty}


def compared(results: tuple[Result, ...]) -> tuple[Result, ...]:
    return tuple(r for r in results if isinstance(r, COMPARED))


def compared_part(record: RunRecord) -> RunRecord:
    """``record`` as a baseline keeps it: every field, and of its results (and each host's) those
    a comparison reads (``COMPARED``)."""
    hosts = None if record.hosts is None else {h: replace(run, results=compared(run.results))
                                               for h, run in record.hosts.items()}
    return replace(record, results=compared(record.results), hosts=hosts)


def write_baseline(record: RunRecord, path: Path) -> Path:
    """Write baseline ``record`` (its ``baseline`` block set) at ``path``, atomically: what a
    comparison reads of it."""
    return compared_part(record).write(path)


def save_baseline(record: RunRecord, results_dir: str | Path, name: str, repo_dir: str | Path,
                  benchmark_storage: str | None = None) -> Path:
    """Write ``record`` as baseline NAME (replacing an older one of that name)."""
    check_name(name)
    block = {
        "name": name,
        "saved": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
        "git": git_info(repo_dir),
        "pytest_benchmark": {"save": name, "storage": benchmark_storage} if benchmark_storage else None,
    }
    return write_baseline(replace(record, baseline=block), baselines_dir(results_dir) / f"{name}.json")


def slim_baseline(path: str | Path) -> Path:
    """Rewrite the baseline at ``path`` as one is saved now (``compared_part``), its ``baseline``
    block (name, save time, commit, added runs) as it was: for baselines saved before."""
    record = read_record(path)
    if not record.baseline:
        raise BaselineError(f"{path} is a run record, not a baseline: promote it (qpbench baseline promote)")
    return write_baseline(record, Path(path))


def finished_record(path: str | Path) -> RunRecord:
    """A finished run's record at ``path``, validated by the one loader; a journal, a partial record
    or one without results is a BaselineError saying so: a baseline must hold a whole run."""
    path = Path(path)
    if path.suffix == ".jsonl":
        raise BaselineError(f"{path}: a stopped run's journal (its partial results), not a finished run record: "
                            "only a whole run can become a baseline")
    try:
        record = RunRecord.load(path)
    except RecordError as exc:
        raise BaselineError(str(exc)) from None
    partial = record.extra.get("partial")
    if partial:
        why = partial.get("reason") if isinstance(partial, Mapping) else partial
        raise BaselineError(f"{path}: a partial record ({why}): only a whole run can become a baseline")
    if not record.results:
        raise BaselineError(f"{path}: the run measured nothing (no results): nothing to compare later runs with")
    return record


def name_for_record(record: RunRecord, name: str | None, path: str | Path) -> tuple[str, str]:
    """(the name as given, as resolved) of the baseline a finished record is saved as or added to:
    ``{cpu}`` is the record's own CPU; no name is WORKLOAD-PROFILE-{cpu}."""
    name = name or f"{record.workload.name}-{record.profile.get('name', 'run')}-{CPU_FIELD}"
    cpu = (record.fingerprint or {}).get("cpu")
    if CPU_FIELD in name and not cpu:
        raise BaselineError(f"{path}: its fingerprint names no CPU, so {CPU_FIELD} cannot be resolved: "
                            "give a name without it")
    return name, check_name(for_cpu(name, cpu or {}))


def promote(path: str | Path, results_dir: str | Path, name: str | None, repo_dir: str | Path,
            force: bool = False) -> tuple[str, str, Path]:
    """Save the run record at ``path`` (a CI run's, say) as baseline ``name``, ``{cpu}`` being the
    record's own CPU (not this machine's: the record may come from another runner); no name is
    WORKLOAD-PROFILE-{cpu} (the self-gate's compact-quick-{cpu}). Refuses to replace a baseline
    unless ``force``. Returns (the name as given, as resolved, the path written)."""
    record = finished_record(path)
    name, resolved = name_for_record(record, name, path)
    target = baselines_dir(results_dir) / f"{resolved}.json"
    if target.exists() and not force:
        raise BaselineError(f"baseline {resolved} exists ({target}): --force replaces it")
    return name, resolved, save_baseline(record, results_dir, resolved, repo_dir)


def add_run(target: Loaded, statistics: dict[str, float], repo_dir: str | Path) -> Path:
    """Add one more independent run's statistics to a saved baseline (``runs`` in its block): the
    comparison judges later runs against the spread of all of them. Written atomically."""
    block = dict(target.record.baseline or {})
    if not block:
        raise BaselineError(f"{target.path} is a run record, not a baseline: save one with --qp-save-baseline")
    run = {"saved": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"), "git": git_info(repo_dir),
           "statistics": statistics}
    block["runs"] = [*block.get("runs", []), run]
    return write_baseline(replace(target.record, baseline=block), target.path)


def read_record(path: str | Path) -> RunRecord:
    """The run record or baseline at ``path``; a bad one is a BaselineError that says what to do."""
    try:
        return RunRecord.load(path)
    except RecordError as exc:
        if exc.problem == "not_json":
            message = f"{path}: corrupt or truncated JSON ({exc.detail}): delete it and save the baseline again"
        elif exc.problem == "other_version":
            message = (f"{path}: schema version {exc.detail}, this qpbench reads version {SCHEMA_VERSION}: "
                       "measure the baseline again with this version and save it")
        else:
            message = str(exc)
        raise BaselineError(message) from None


def list_baselines(results_dir: str | Path) -> list[tuple[str, Path]]:
    """(name, path) of the saved baselines, oldest first (by their save time, else file time)."""
    root = baselines_dir(results_dir)
    if not root.is_dir():
        return []

    def saved(path: Path) -> str:
        try:
            return json.loads(path.read_text())["baseline"]["saved"]
        except Exception:  # an unreadable one sorts by file time; loading it gives the error
            return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).isoformat(timespec="microseconds")

    paths = sorted(root.glob("*.json"), key=lambda p: (saved(p), p.name))
    return [(p.stem, p) for p in paths]


@dataclass(frozen=True)
class Loaded:
    name: str
    path: Path
    record: RunRecord

    @property
    def label(self) -> str:
        git = (self.record.baseline or {}).get("git") or {}
        commit = f" @ {git['commit'][:10]}{'+dirty' if git.get('dirty') else ''}" if git.get("commit") else ""
        what = "baseline" if self.record.baseline else "run"
        return f"{what} {self.name}{commit}"


def load_baseline(results_dir: str | Path, name: str) -> Loaded:
    """Baseline NAME, or the newest one for 'latest'; errors name what is wrong and what exists."""
    saved = list_baselines(results_dir)
    where = baselines_dir(results_dir)
    if name == LATEST:
        if not saved:
            raise BaselineError(f"no baseline saved under {where}: save one with --qp-save-baseline=NAME")
        name, path = saved[-1]
    else:
        check_name(name)
        path = where / f"{name}.json"
        if not path.exists():
            known = ", ".join(n for n, _ in saved) or "none"
            raise BaselineError(f"no baseline named {name!r} under {where} (saved: {known})")
    return Loaded(name, path, read_record(path))


def load_run(ref: str, results_dir: str | Path) -> Loaded:
    """A path to a run record or baseline JSON, or a baseline name (or 'latest')."""
    path = Path(ref)
    if ref.endswith(".json") or path.is_file():
        record = read_record(path)
        name = (record.baseline or {}).get("name") or path.stem
        return Loaded(name, path, record)
    return load_baseline(results_dir, ref)
