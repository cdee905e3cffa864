"""Entry point of the fresh process that runs one variant for a long time (see stress.py).

Reads a JSON request on stdin, prints one JSON line.
"""

from __future__ import annotations

import json
import sys

from qpbench.measure import startup
from qpbench.measure.parent_watch import die_with_parent
from qpbench.runtime.rss import max_rss_mb


def main() -> int:
    startup.mark("python")
    die_with_parent()
    request = json.loads(sys.stdin.read())
    from qpbench.config import Targets
    from qpbench.measure.stress import confirmed_stress_loop, machine_probe, pool_probe, shown_flat
    from qpbench.runtime.rss import heap_in_use_mb

    targets = Targets(leak_mb_per_1k=request["leak_mb_per_1k"], slowdown_pct=request["slowdown_pct"])
    early = {"targets": targets}
    if request.get("min_iterations"):  # may end once it has shown no leak or slowdown of the targets' size
        early.update(floor=request["min_iterations"], stop=shown_flat(targets, request["iterations"]))

    if request.get("runtime"):  # an ONNX Runtime / OpenVINO artifact: served without torch, as deployed
        from qpbench.measure.runtime_worker import check_no_torch, load_backend, load_inputs

        backend, baseline = load_backend(request)
        (image, params), *_ = load_inputs(request)
        series, extended = confirmed_stress_loop(lambda: backend.run(image, params), request["iterations"],
                                                 request["warmup"], probe=machine_probe(), heap=heap_in_use_mb, **early)
        check_no_torch(request["runtime"])
    else:
        from qpbench.measure.rebuild import load_variant

        workload, variant, baseline = load_variant(request)
        image, params = workload.example_batch(request["batch_size"])
        with variant.runtime():
            series, extended = confirmed_stress_loop(lambda: variant(image, params), request["iterations"],
                                                     request["warmup"], probe=pool_probe(), heap=heap_in_use_mb,
                                                     **early)
    print(json.dumps({"baseline_rss_mb": baseline, "peak_rss_mb": max_rss_mb(), **series._asdict(),
                      "extended": extended,
                      startup.STARTUP_KEY: startup.marks()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
