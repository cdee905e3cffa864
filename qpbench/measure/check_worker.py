"""Entry point of the fresh process that checks the model before the run measures anything
(``check.check_model``): it builds the model and runs a batch of 2, so a model that aborts or
segfaults on its first call kills this process, not pytest.

Reads a JSON request on stdin (the workload), prints one JSON line: ``{"error": null}``, or the
message of the ``WorkloadError`` that names what is wrong with the model.
"""

from __future__ import annotations

import json
import sys

from qpbench.measure import startup
from qpbench.measure.parent_watch import die_with_parent


def main() -> int:
    startup.mark("python")
    die_with_parent()
    request = json.loads(sys.stdin.read())
    from qpbench.errors import WorkloadError
    from qpbench.workload import WorkloadSpec, load_workload

    startup.mark("imports")
    try:
        load_workload(WorkloadSpec.from_dict(request["workload"]), max_images=2).check_model()
        error = None
    except WorkloadError as exc:
        error = str(exc)
    startup.mark("ready")
    print(json.dumps({"error": error, startup.STARTUP_KEY: startup.marks()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
