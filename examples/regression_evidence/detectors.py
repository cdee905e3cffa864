"""Rerun evidence for the long-run detectors (leak, slowdown): planted faults caught, clean models
not flagged. Each run is the stress measurement of `pytest bench/` (``measure_stress``: a fresh
worker, eager at batch 1, the default profile's 1000 inferences after 100, ended from 400 on once
it has shown no trend of the targets' size, extended once when a trend appears), judged by the criteria's own targets (leak <= 0.25 MB/1k, slowdown <= 10%).

    python examples/regression_evidence/detectors.py [RUNS] [OUT_DIR]     (RUNS=10 by default;
        CASES=compact+leak,tiny to run some cases only; about 6 minutes for 10 runs of each)
    python examples/regression_evidence/detectors.py --judge OUT_DIR      (judge a saved series again
        with the code of today: the runs' lengths and extensions stay those of the code that ran them)

A flag is what the verdict calls it (``criteria.call``): a figure over its target whose 95%
interval lies above it ("missed"); one whose interval still holds the target is counted apart, as
too close to call, as the verdict shows it ("?").

Cases (planted.py):
  compact           the shipped compact CNN and checkpoint, unchanged        (a flag is a false alarm)
  compact+leak      the compact CNN keeping 0.5 MiB per 1000 calls           (a leak flag is a catch)
  compact+slowing   the compact CNN ending a 1000-call run 15% slower        (a slowdown flag is a catch)
  tiny              the tests' tiny Conv+BN model                            (a flag is a false alarm)
  torchvision       an untrained torchvision mobilenet_v3_small              (a flag is a false alarm)
  torchvision+leak, torchvision+slowing: the same faults planted in it
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE)]

from conftest import write_tiny_files  # noqa: E402  (the tests' tiny model and data)

from qpbench.config import PROFILES, Targets  # noqa: E402
from qpbench.criteria import INCONCLUSIVE, MISSED, call  # noqa: E402
from qpbench.measure.isolation import WorkerFailed  # noqa: E402
from qpbench.measure.stress import measure_stress  # noqa: E402
from qpbench.results import StressResult  # noqa: E402
from qpbench.workload import WorkloadSpec, builtin_spec, load_workload  # noqa: E402

EAGER = "qpbench.variants:build_eager"


def cases(tiny: dict[str, Path]) -> dict[str, tuple[WorkloadSpec, str]]:
    """name -> (workload, what a flag of it is: 'leak', 'slowdown' or 'false alarm')."""
    compact = builtin_spec("compact")

    def user(factory: str, checkpoint: str | None = compact.checkpoint) -> WorkloadSpec:
        return WorkloadSpec("compact", factory, checkpoint, compact.dataset, compact.input_size)

    return {
        "compact": (compact, "false alarm"),
        "compact+leak": (user("planted:leaky_compact"), "leak"),
        "compact+slowing": (user("planted:slowing_compact"), "slowdown"),
        "tiny": (WorkloadSpec("tiny", "tinymodel:build", str(tiny["checkpoint"]), str(tiny["dataset"]), 16), "false alarm"),
        "torchvision": (user("planted:torchvision_model", None), "false alarm"),
        "torchvision+leak": (user("planted:leaky_torchvision", None), "leak"),
        "torchvision+slowing": (user("planted:slowing_torchvision", None), "slowdown"),
    }


def judged(name: str, run: int, expected: str, r: StressResult, targets: Targets) -> dict:
    """One run's row: its figures, and whether each is a flag or too close to call, as the verdict
    calls them."""
    heap = r.heap_trend
    leak = call(r.leak_mb_per_1k, r.leak_interval_mb_per_1k, targets.leak_mb_per_1k, False)
    slow = call(r.slowdown_pct, r.slowdown_interval_pct, targets.slowdown_pct, False)
    return {"case": name, "run": run, "expected": expected, "leak_mb_per_1k": r.leak_mb_per_1k,
            "rss_mb_per_1k": r.rss_trend.slope * 1000, "heap_mb_per_1k": None if heap is None else heap.slope * 1000,
            "slowdown_pct": r.slowdown_pct, "warmup_growth_mb": r.warmup_growth_mb, "extended": r.extended,
            "iterations": r.iterations, "leak_flag": leak == MISSED, "leak_close": leak == INCONCLUSIVE,
            "slowdown_flag": slow == MISSED, "slowdown_close": slow == INCONCLUSIVE,
            "median_ms": 1e3 * sorted(r.latencies_s)[len(r.latencies_s) // 2]}


def judge_again(out: Path) -> None:
    """Judge the series a run of this script saved in ``out`` with today's code."""
    profile, targets = PROFILES["default"], Targets()
    saved = json.loads((out / "detectors.json").read_text())
    series = np.load(out / "series.npz")
    rows = []
    for old in saved:
        if "failed" in old:
            continue
        lat, probe, rss, heap = series[f"{old['case']}-{old['run']}"]
        r = StressResult("eager", 1, profile.stress_warmup, 0.0, 0.0, tuple(lat), tuple(rss), extended=old["extended"],
                         probe_s=tuple(None if np.isnan(v) else float(v) for v in probe),
                         heap_mb=() if np.isnan(heap).all() else tuple(heap), planned=profile.stress_iterations)
        rows.append(judged(old["case"], old["run"], old["expected"], r, targets))
    summary(rows, list(dict.fromkeys(row["case"] for row in rows)))


def summary(rows: list[dict], names: list[str]) -> None:
    print("\ncase                 runs  leak flags (too close)  slowdown flags (too close)  leak MB/1k  slowdown %")
    for name in names:
        done = [r for r in rows if r["case"] == name and "failed" not in r]
        if not done:
            print(f"{name:<20} 0 (all failed)")
            continue
        leaks, slows = [r["leak_mb_per_1k"] for r in done], [r["slowdown_pct"] for r in done]
        flags = (f"{sum(r['leak_flag'] for r in done)} ({sum(r['leak_close'] for r in done)})",
                 f"{sum(r['slowdown_flag'] for r in done)} ({sum(r['slowdown_close'] for r in done)})")
        print(f"{name:<20} {len(done):<5} {flags[0]:<23} {flags[1]:<27} {min(leaks):.2f}-{max(leaks):.2f}"
              f"  {min(slows):.1f}-{max(slows):.1f}")


def main(runs: int, out: Path) -> None:
    profile, targets = PROFILES["default"], Targets()
    out.mkdir(parents=True, exist_ok=True)
    tiny = write_tiny_files(Path(tempfile.mkdtemp(prefix="qp-tiny-")))
    sys.path.insert(0, str(tiny["module"].parent))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), str(HERE), str(tiny["module"].parent)])  # the workers'
    rows, series = [], {}
    only = [c for c in os.environ.get("CASES", "").split(",") if c]
    chosen = {name: case for name, case in cases(tiny).items() if not only or name in only}
    for name, (spec, expected) in chosen.items():
        workload = load_workload(spec)
        for i in range(runs):
            start = time.monotonic()
            try:
                r = measure_stress(workload, "eager", EAGER, {}, batch_size=1, iterations=profile.stress_iterations,
                                   warmup=profile.stress_warmup, min_iterations=profile.stress_min_iterations,
                                   targets=targets)
            except WorkerFailed as exc:
                rows.append({"case": name, "run": i + 1, "failed": str(exc)})
                print(f"{name} {i + 1}: failed: {exc}", flush=True)
                continue
            row = judged(name, i + 1, expected, r, targets)
            row["wall_s"] = time.monotonic() - start
            rows.append(row)
            series[f"{name}-{i + 1}"] = np.array([r.latencies_s, [np.nan if v is None else v for v in r.probe_s]
                                                  or [np.nan] * r.iterations, r.rss_mb,
                                                  r.heap_mb or [np.nan] * r.iterations])
            print(f"{name} {i + 1}: leak {row['leak_mb_per_1k']:.2f} MB/1k (RSS {row['rss_mb_per_1k']:.2f}, "
                  f"heap {row['heap_mb_per_1k'] or 0:.2f}), slowdown {row['slowdown_pct']:.1f}%, "
                  f"warm-up growth {row['warmup_growth_mb']:.2f} MB, {r.iterations} calls (extended {row['extended']}), "
                  f"median {row['median_ms']:.2f} ms", flush=True)
    (out / "detectors.json").write_text(json.dumps(rows, indent=1))
    np.savez_compressed(out / "series.npz", **series)  # per run: latencies, probe times, RSS, heap
    summary(rows, list(chosen))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--judge"]:
        judge_again(Path(sys.argv[2]))
        sys.exit(0)
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10, Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/qp-detectors"))
