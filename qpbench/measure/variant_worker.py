"""Entry point of the long-lived process that builds one variant and measures it on request.

Reads JSON requests a line each on stdin and answers each with one JSON line,
``{"ok": true, "result": ...}`` or ``{"ok": false, "type": ..., "message": ...}``
(see engine.py for the requests). The answers go to a private copy of the
original stdout; fd 1 then points at stderr, so whatever the model prints (from
Python or from C) cannot garble them.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any, TextIO

from qpbench.measure import startup
from qpbench.measure.parent_watch import die_with_parent


def private_stdout() -> TextIO:
    """A copy of fd 1 for the answers; fd 1 and ``sys.stdout`` then go to stderr."""
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return answers


def serve(requests: TextIO, answers: TextIO, worker: Any = None) -> None:
    """Answer ``requests`` a line each with ``worker.handle`` (a variant ``Worker`` by default).
    The first answer carries the worker's start-up marks (startup.py)."""
    if worker is None:
        from qpbench.measure.worker_requests import Worker

        worker = Worker()
        startup.mark("imports")
    first = True
    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("op") == "exit":
            return
        try:
            reply: dict[str, Any] = {"ok": True, "result": worker.handle(request)}
        except Exception as exc:  # the request failed, the process is fine: say why and go on
            traceback.print_exc()
            reply = {"ok": False, "type": type(exc).__name__, "message": str(exc)[:2000]}
        if first:
            startup.mark("ready")
            reply[startup.STARTUP_KEY] = startup.marks()
            first = False
        answers.write(json.dumps(reply) + "\n")
        answers.flush()


def main() -> int:
    startup.mark("python")
    die_with_parent()
    answers = private_stdout()
    serve(sys.stdin, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
