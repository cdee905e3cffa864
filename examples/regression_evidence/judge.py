"""Judge the runs of run.sh again from their records: every candidate against the baseline of R runs
and against its first run alone, with this qpbench's comparison and default gate, plus what
pytest-benchmark's median:5% said in the run's own log. The measurements are the records';
only the judgement is made here, so a change to the comparison can be judged on the same runs.

    python examples/regression_evidence/judge.py OUT_DIR
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path

from qpbench.compare.runs import compare_runs, regression_gate
from qpbench.compare.speed import run_statistics, speed_metric
from qpbench.record import RunRecord
from qpbench.results import PairedResult

KINDS = ("clean", "model", "variant", "hog")


def record_of(log: Path) -> RunRecord:
    path = re.search(r"^results: (\S+\.json)$", log.read_text(), re.M)
    if path is None:
        raise SystemExit(f"{log}: no 'results: ...json' line (did the run fail?)")
    return RunRecord.load(path[1])


def flagged(baseline: RunRecord, current: RunRecord) -> tuple[bool, str]:
    """Whether the default gate fails, the speed metrics it flags, and those it did not judge."""
    comparison = compare_runs(baseline, current)
    failed, _ = regression_gate(comparison)
    speed = [c for c in comparison.changes if c.family == "speed_ratio"]
    hits = [f"{c.variant} {c.metric} {c.change:+.1%}" for c in speed if c.verdict == "regressed"]
    unjudged = [f"{c.variant} {c.metric} ({c.reason.split(':')[0].split(' (')[0]})" for c in speed
                if c.verdict == "not comparable"]
    return failed, "; ".join(hits) + (f" not judged: {'; '.join(unjudged)}" if unjudged else "")


def measured_again(record: RunRecord) -> str:
    """The speed figures the run measured again in fresh processes (out of line with the baseline)."""
    return "; ".join(f"{r.variant} {speed_metric(r)} x{len(r.reruns)}" for r in record.results_of(PairedResult)
                     if r.reruns)


def main(out: Path) -> None:
    logs = out / "logs"
    bases = sorted(logs.glob("base*.txt"), key=lambda p: int(p.stem[4:]))
    single = record_of(bases[0])
    runs = [{"saved": "", "git": None, "statistics": run_statistics(record_of(p))} for p in bases[1:]]
    several = replace(single, baseline={**(single.baseline or {}), "runs": runs})
    counts = {k: [0, 0, 0, 0, 0] for k in KINDS}  # runs, several, single, pytest-benchmark, measured again
    for kind in KINDS:
        for log in sorted(logs.glob(f"{kind}*.txt"), key=lambda p: int(p.stem[len(kind):])):
            current = record_of(log)
            f_several, what_several = flagged(several, current)
            f_single, what_single = flagged(single, current)
            pb = "Performance has regressed" in log.read_text()
            again = measured_again(current)
            for i, hit in enumerate((True, f_several, f_single, pb, bool(again))):
                counts[kind][i] += hit
            print(f"{log.stem:9s} {len(bases)}-run baseline: {'FAIL' if f_several else 'pass'} {what_several}   "
                  f"single-run baseline: {'FAIL' if f_single else 'pass'} {what_single}   "
                  f"pytest-benchmark median:5%: {'FAIL' if pb else 'pass'}"
                  + (f"   measured again: {again}" if again else ""))
    print()
    for kind, (n, a, s, p, m) in counts.items():
        print(f"{kind:8s} runs {n:3d}   gate failed: {len(bases)}-run baseline {a:3d}, single-run baseline {s:3d}, "
              f"pytest-benchmark {p:3d}; runs that measured a figure again in fresh processes {m:3d}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
