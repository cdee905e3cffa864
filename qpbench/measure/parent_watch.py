"""A worker dies with the process that started it.

Workers run in their own session (so a kill of the worker takes its children),
which also means a Ctrl-C, a kill -9 or the OOM killer hitting the test process
never reaches them. Each worker calls ``die_with_parent()`` first: on Linux the
kernel sends it SIGKILL when its parent dies (``PR_SET_PDEATHSIG``); elsewhere a
daemon thread checks the parent every second.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PARENT_ENV = "QPBENCH_PARENT_PID"
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    parent = int(os.environ.get(PARENT_ENV, "0") or 0)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            _watch(parent)
    else:
        _watch(parent)
    if parent and os.getppid() != parent:  # it died before the guard was set
        os._exit(1)


def _watch(parent: int) -> None:
    def loop() -> None:
        while os.getppid() == parent or not parent:
            time.sleep(1.0)
        os._exit(1)

    if parent:
        threading.Thread(target=loop, name="qpbench-parent-watch", daemon=True).start()
