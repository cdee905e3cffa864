"""Where each extended stress run of saved run records would have ended its extension by the
extension's stopping rule (``qpbench.measure.stress.dismissed``), and what it would then have said.

    .venv/bin/python examples/stress_replay.py results/runs/*.json

A run record keeps every sample of a stress run, so the rule can be asked at every look (every
100 inferences from the floor on) as the worker would have asked it. For each extended run it
prints the inferences the extension took and would have taken, and the leak, slowdown and
warm-up growth of the run as recorded and as cut there. The records must come from one machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from qpbench.config import Targets, get_profile
from qpbench.measure.stress import CHECK_EVERY, StressSeries, dismissed
from qpbench.results import StressResult

FIELDS = ("latencies_s", "rss_mb", "probe_s", "heap_mb")


def as_result(record: dict, end: int, extended: int) -> StressResult:
    return StressResult(record["variant"], record["batch_size"], record["warmup"], record["baseline_rss_mb"],
                        record["peak_rss_mb"], *(tuple(record[k][:end]) for k in FIELDS[:2]), extended=extended,
                        probe_s=tuple(record["probe_s"][:end]), heap_mb=tuple(record["heap_mb"][:end]),
                        planned=record.get("planned", 0))


def replay(record: dict, floor: int, targets: Targets) -> int | None:
    """The inferences the extension would have taken (None: all of them)."""
    first_n = len(record["latencies_s"]) - record["extended"]
    column = lambda key, a, b: np.array([np.nan if v is None else v for v in record[key][a:b]], dtype=float)  # noqa: E731
    quiet = dismissed(StressSeries(*(list(record[k][:first_n]) for k in FIELDS)), targets, 2 * first_n)
    for added in range(min(floor, record["extended"]), record["extended"], CHECK_EVERY):
        if quiet(StressSeries(*(column(k, first_n, first_n + added) for k in FIELDS))):
            return added
    return None


def describe(r: StressResult) -> str:
    return f"leak {r.leak_mb_per_1k:.3g} MB/1k, slowdown {r.slowdown_pct:.3g}%, warm-up growth {r.warmup_growth_mb:.3g} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("records", nargs="+", type=Path, help="run records (results/runs/*.json)")
    args = parser.parse_args()
    for path in args.records:
        run = json.loads(path.read_text())
        floor = get_profile(run["profile"]).stress_min_iterations
        targets = Targets(**{k: v for k, v in run["verdict"]["targets"].items() if k in Targets.__dataclass_fields__})
        for record in run["results"]:
            if record.get("kind") != "stress" or not record.get("extended"):
                continue
            whole = len(record["latencies_s"])
            added = replay(record, floor, targets)
            recorded = as_result(record, whole, record["extended"])
            line = f"{path.name} {record['variant']}: extended by {record['extended']}"
            if added is None:
                print(f"{line}, would have run all of it; {describe(recorded)}")
                continue
            cut = as_result(record, whole - record["extended"] + added, added)
            print(f"{line}, would have ended at {added}; recorded: {describe(recorded)}; cut: {describe(cut)}")


if __name__ == "__main__":
    main()
