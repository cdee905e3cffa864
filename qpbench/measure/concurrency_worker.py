"""Entry point of a fresh process that serves one variant from several threads (see concurrency.py).

Reads a JSON request on stdin, prints one JSON line. With a "barrier" in the
request, it waits after building until that many workers are ready, so the
processes of one measurement send their requests at the same time.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

BARRIER_TIMEOUT_S = 300.0

from qpbench.measure.parent_watch import die_with_parent


def wait_for_peers(folder: str, parties: int) -> None:
    Path(folder, f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT_S
    while len(list(Path(folder).glob("ready-*"))) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(Path(folder).glob('ready-*')))} of {parties} workers got ready")
        time.sleep(0.005)


def main() -> int:
    die_with_parent()
    request = json.loads(sys.stdin.read())
    import numpy as np

    from qpbench.config import MEASURE
    from qpbench.measure.concurrency import serve_threads
    from qpbench.measure.worker_variant import load_variant

    workload, variant, _ = load_variant(request)
    batch = request["batch_size"]
    available = workload.data.n_samples // batch
    inputs = [workload.inputs(np.arange(k * batch, (k + 1) * batch)) for k in range(max(1, min(MEASURE.concurrency_inputs, available)))]
    runs = []
    with variant.runtime():
        expected = [variant(*x).numpy() for x in inputs]  # serial outputs, also the warm-up
        if "barrier" in request:
            wait_for_peers(request["barrier"]["dir"], request["barrier"]["parties"])
        for threads in request["thread_counts"]:
            run = serve_threads(lambda i: variant(*inputs[i]).numpy(), expected, threads, request["duration_s"])
            runs.append(asdict(run))
    print(json.dumps({"runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
