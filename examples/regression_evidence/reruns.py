"""Summarise the runs of reruns.sh from their records: per run, the leak and slowdown flags, the
recommended variant, each variant's score and readiness, what the regression gate said against the
first run, and where the time went.

    python examples/regression_evidence/reruns.py OUT_DIR
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from qpbench.compare.runs import compare_runs, regression_gate
from qpbench.record import RunRecord
from qpbench.results import StressResult


def record_of(log: Path) -> RunRecord:
    path = re.search(r"^results: (\S+\.json)$", log.read_text(), re.M)
    if path is None:
        raise SystemExit(f"{log}: no 'results: ...json' line (did the run fail?)")
    return RunRecord.load(path[1])


def main(out: Path) -> None:
    logs = sorted((out / "logs").glob("run*.txt"), key=lambda p: int(p.stem[3:]))
    records = [record_of(log) for log in logs]
    first = records[0]
    scores = {}
    for i, record in enumerate(records, 1):
        verdict = record.verdict
        stress = record.results_of(StressResult)
        # As the verdict calls them (criterion_calls.py): a flag is a clear miss; a figure over its
        # target whose interval still holds the target is too close to call.
        calls = {(v.variant, c.name): c for v in verdict.variants for c in v.criteria}
        flags, close = [], []
        for s in stress:
            for name, figure in (("leak_mb_per_1k", f"leak {s.leak_mb_per_1k:.2f} MB/1k"),
                                 ("slowdown_pct", f"slowdown {s.slowdown_pct:.1f}%")):
                call = getattr(calls.get((s.variant, name)), "call", None)
                if call == "missed":
                    flags.append(f"{s.variant} {figure}")
                elif call == "inconclusive":
                    close.append(f"{s.variant} {figure}")
        extended = [s.variant for s in stress if s.extended]
        scores[i] = {v.variant: v.score for v in verdict.variants}
        ready = sorted(v.variant for v in verdict.variants if v.ready)
        print(f"run {i}: {record.created}, recommended {verdict.recommended} ({verdict.recommended_score}), "
              f"ready {', '.join(ready)}")
        print(f"  stress runs {len(stress)}, extended {', '.join(extended) or 'none'}; "
              f"flags: {'; '.join(flags) or 'none'}; too close to call: {'; '.join(close) or 'none'}")
        print("  scores: " + ", ".join(f"{v} {s}" for v, s in scores[i].items()))
        timing = record.timing or {}
        stages = ", ".join(f"{k} {v:.0f} s" for k, v in (timing.get("stages_s") or {}).items())
        print(f"  wall {timing.get('wall_s', 0):.0f} s: {stages}")
        if i > 1:
            comparison = compare_runs(first, record)
            failed, _ = regression_gate(comparison)
            regressed = [f"{c.variant} {c.metric} {c.change:+.1%}" for c in comparison.changes
                         if c.verdict == "regressed"]
            unjudged = sum(c.verdict == "not comparable" for c in comparison.changes)
            print(f"  against run 1: gate {'FAIL' if failed else 'PASS'}; regressed: {'; '.join(regressed) or 'none'}; "
                  f"{unjudged} metrics not comparable")
    spread = {v: max(s[v] for s in scores.values()) - min(s[v] for s in scores.values())
              for v in scores[1] if all(v in s for s in scores.values())}
    print("score spread over the runs: " + ", ".join(f"{v} {d:.2f}" for v, d in spread.items()))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
