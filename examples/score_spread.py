"""Each variant's score over several records of the same workload, as the recorded verdict gave it
and as this checkout's scoring gives it from the same results (the spread is the most minus the
least): how much a score moves between unchanged runs; and each record's ready set, recorded and
rescored, with the variants not ready only for a hard gate too close to call ("at gate").

    python examples/score_spread.py RECORD.json [RECORD.json ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from qpbench.record import RunRecord
from qpbench.verdict import Verdict, scoring


def ready_set(verdict: Verdict) -> str:
    return ", ".join(sorted(v.variant for v in verdict.variants if v.ready)) or "none"


def main(paths: list[str]) -> None:
    before: dict[str, list[float]] = {}
    after: dict[str, list[float]] = {}
    for path in paths:
        record = RunRecord.load(Path(path))
        screened = dict(record.verdict.screened_out)
        verdict = scoring.score(record.results, record.verdict.config, record.verdict.reference, record.errors,
                                screened_out=screened)
        for v in record.verdict.variants:
            before.setdefault(v.variant, []).append(v.score)
        for v in verdict.variants:
            after.setdefault(v.variant, []).append(v.score)
        print(f"{Path(path).name}: recommended {verdict.recommended} (recorded {record.verdict.recommended}); "
              f"screened out {', '.join(screened) or 'none'}; score basis {', '.join(verdict.score_basis) or 'all'}")
        print(f"  ready: {ready_set(verdict)} (recorded {ready_set(record.verdict)}); at gate: "
              + (", ".join(v.variant for v in verdict.variants if v.at_gate) or "none"))
    print(f"{'variant':16s} {'recorded scores':40s} spread  {'rescored':40s} spread")
    for name in before:
        b, a = before[name], after.get(name, [])
        fmt = lambda xs: " ".join(f"{x:.0f}" for x in xs)  # noqa: E731
        print(f"{name:16s} {fmt(b):40s} {max(b) - min(b):5.1f}   {fmt(a):40s} {max(a) - min(a) if a else 0:5.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
