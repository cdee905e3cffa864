"""Replay a run's collected results through the finishing step: score, score gate, the record,
the comparison with a baseline and the regression gate, and the lines the terminal prints. The
output (JSON, timestamps dropped, floats to 12 significant digits) pins the finishing step's behaviour across a refactor: the
same input must give the same output before and after.

    python examples/replay.py RECORD.json [BASELINE.json] > out.json
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from qpbench.verdict import scoring
from qpbench.compare.runs import compare_runs, regression_gate
from qpbench.compare.gate import score_gate
from qpbench.record import RunRecord
from qpbench.schema.codec import dump
from qpbench.compare.text import comparison_lines
from qpbench.render.terminal import summary_lines

DROPPED = ("created", "qpbench_version")  # what a replay cannot reproduce
DIGITS = 12  # floats are compared to 12 significant digits: a library's summation order is not behaviour


def rounded(value):
    if isinstance(value, float):
        return float(f"{value:.{DIGITS}g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return value


def finish(collected: RunRecord, baseline: RunRecord | None) -> dict:
    config = collected.verdict.config
    verdict = scoring.score(collected.results, config, collected.verdict.reference, collected.errors,
                            screened_out=dict(collected.verdict.screened_out))
    gate = score_gate(verdict, collected.fail_under)
    record = replace(collected, verdict=verdict, gate=gate, comparison=None)
    out = {"record": {k: v for k, v in dump(record).items() if k not in DROPPED},
           "summary_lines": summary_lines(verdict, None), "score_gate_lines": list(gate.lines)}
    if baseline is not None:
        comparison = compare_runs(baseline, record)
        failed, lines = regression_gate(comparison)
        out["comparison"] = dump(comparison)
        out["comparison_lines"] = comparison_lines(comparison)
        out["regression_gate"] = {"failed": failed, "lines": lines}
    return out


if __name__ == "__main__":
    collected = RunRecord.load(Path(sys.argv[1]))
    baseline = RunRecord.load(Path(sys.argv[2])) if len(sys.argv) > 2 else None
    json.dump(rounded(json.loads(json.dumps(finish(collected, baseline), default=str))), sys.stdout, indent=1,
              sort_keys=True)
    print()
