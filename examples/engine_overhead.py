"""What measuring in a variant worker adds to a batch-1 latency, against timing the same call
in this process, in the same run.

    .venv/bin/python examples/engine_overhead.py --workload compact --rounds 6
    .venv/bin/python examples/engine_overhead.py --workload default --rounds 4

Both sides run the same handler (``qpbench.measure.handlers.latency``, the one the bench
suite's latency test asks the worker for) on the same eager model, alternating A B A B so
drift of the machine hits both; the figure is the median of each side's per-round medians.
The allowance is 2% or 50 microseconds, whichever is larger.
"""

from __future__ import annotations

import argparse
import statistics

from qpbench.measure import handlers
from qpbench.measure.engine import WORKER_MODULE, spec_dict
from qpbench.measure.isolation import ServingWorker
from qpbench.results import Result
from qpbench.schema.codec import load
from qpbench.system import fingerprint
from qpbench.variants import VariantRegistry
from qpbench.workload import WorkloadChoice, load_workload, resolve_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", default="compact", help="built-in workload: compact or default")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds of each side")
    parser.add_argument("--profile", default="default", help="profile whose latency budget each round uses")
    args = parser.parse_args()

    workload = load_workload(resolve_spec(WorkloadChoice(name=args.workload)))
    spec = VariantRegistry().get("eager")
    here = handlers.Loaded(workload, handlers.build(spec, workload, None, 1, 1, None))
    worker = ServingWorker(WORKER_MODULE, "eager")
    worker.request({"op": "build", "workload": workload.spec.to_dict(), "spec": spec_dict(spec),
                    "options": here.variant.rebuild_options(), "sweep_rounds": 1, "calibration_batches": 1,
                    "artifact_dir": None}, "build", 600)
    inproc, isolated = [], []
    try:
        for _ in range(args.rounds):
            inproc.append(handlers.latency(here, args.profile, 1).per_batch_ms["p50"])
            answer = worker.request({"op": "latency", "profile": args.profile, "batch_size": 1}, "latency", 600)
            isolated.append(load(Result, answer).per_batch_ms["p50"])
    finally:
        worker.close()
    a, b = statistics.median(inproc), statistics.median(isolated)
    allowance = max(0.02 * a, 0.050)
    print(f"CPU: {fingerprint()['cpu']['brand']}")
    print(f"workload {args.workload}, eager, batch 1, {args.rounds} alternating rounds ({args.profile} profile budget)")
    print(f"  in this process : median {a:.3f} ms  (rounds: {', '.join(f'{x:.3f}' for x in inproc)})")
    print(f"  in a worker     : median {b:.3f} ms  (rounds: {', '.join(f'{x:.3f}' for x in isolated)})")
    print(f"  worker - here   : {b - a:+.3f} ms ({(b - a) / a:+.1%}); allowance {allowance:.3f} ms: "
          f"{'within' if b - a <= allowance else 'OVER'}")


if __name__ == "__main__":
    main()
