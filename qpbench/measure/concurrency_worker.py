"""Entry point of a fresh process that serves one variant from several threads (see concurrency.py).

Reads a JSON request on stdin, prints one JSON line. With a "barrier" in the
request, it waits after building until that many workers are ready, so the
processes of one measurement send their requests at the same time.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

BARRIER_TIMEOUT_S = 300.0

from qpbench.measure import startup
from qpbench.measure.parent_watch import die_with_parent


def wait_for_peers(folder: str, parties: int) -> None:
    Path(folder, f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT_S
    while len(list(Path(folder).glob("ready-*"))) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(Path(folder).glob('ready-*')))} of {parties} workers got ready")
        time.sleep(0.005)


def main() -> int:
    startup.mark("python")
    die_with_parent()
    request = json.loads(sys.stdin.read())
    if request.get("runtime"):  # an ONNX Runtime / OpenVINO artifact: served without torch, as deployed
        from qpbench.measure.runtime_worker import check_no_torch, load_backend, load_inputs

        backend, _ = load_backend(request)
        runs = serve(request, backend.run, load_inputs(request), contextlib.nullcontext())
        check_no_torch(request["runtime"])
    else:
        import numpy as np

        from qpbench.measure.defaults import MEASURE
        from qpbench.measure.rebuild import load_variant

        workload, variant, _ = load_variant(request)
        batch = request["batch_size"]
        available = workload.data.n_samples // batch
        inputs = [workload.inputs(np.arange(k * batch, (k + 1) * batch))
                  for k in range(max(1, min(MEASURE.concurrency_inputs, available)))]
        runs = serve(request, lambda image, params: variant(image, params).numpy(), inputs, variant.runtime())
    print(json.dumps({"runs": runs, startup.STARTUP_KEY: startup.marks()}))
    return 0


def serve(request: dict[str, Any], run: Callable[[Any, Any], Any], inputs: list[Any],
          runtime: contextlib.AbstractContextManager) -> list[dict[str, Any]]:
    """Serial outputs first (also the warm-up), then each thread count's concurrent run against them."""
    from qpbench.measure.concurrency import serve_threads

    runs = []
    with runtime:
        expected = [run(*x) for x in inputs]
        if "barrier" in request:
            wait_for_peers(request["barrier"]["dir"], request["barrier"]["parties"])
        for threads in request["thread_counts"]:
            runs.append(asdict(serve_threads(lambda i: run(*inputs[i]), expected, threads, request["duration_s"])))
    return runs


if __name__ == "__main__":
    sys.exit(main())
