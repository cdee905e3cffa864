"""What starting worker processes costs a run: how many start, and how long each takes to be
ready (docs/engine.md, "How long": worker start-ups counted).

The parent stamps every worker with the wall-clock time it started it (``SPAWNED_ENV``; the
parent and its workers read the same clock). The worker marks the moments it reaches: its
entry point (``python``: the interpreter and the worker's own module), the end of its imports
(``imports``: torch, or the runtime for a torch-free worker) and the model ready to measure
(``ready``: built, or loaded from the build cache). It sends the marks with its first answer (a
serving worker) or in its report (a one-shot worker), and the parent adds them to ``LEDGER``,
which the run record keeps (``timing.workers``). Light on purpose: the plugin reads it.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SPAWNED_ENV = "QPBENCH_SPAWNED_AT"
PHASES = ("python", "imports", "ready")  # in the order a worker reaches them
STARTUP_KEY = "startup"  # of a worker's first answer or its report

_marks: dict[str, float] = {}


def mark(phase: str) -> None:
    """In a worker: seconds since the parent started it, the first time ``phase`` is reached."""
    spawned = os.environ.get(SPAWNED_ENV)
    if phase in _marks or not spawned:
        return
    try:
        _marks[phase] = max(0.0, time.time() - float(spawned))
    except ValueError:
        pass  # not a stamp of ours: no marks


def marks() -> dict[str, float]:
    return dict(_marks)


def spawn_stamp() -> str:
    return repr(time.time())


def kind_of(module: str) -> str:
    """'variant' for qpbench.measure.variant_worker, the script's name for a path."""
    return os.path.basename(module).removesuffix(".py").rsplit(".", 1)[-1].removesuffix("_worker")


def durations(marks: Mapping[str, float]) -> dict[str, float]:
    """{start, imports, load: seconds} from a worker's marks: a phase it did not mark takes no time."""
    python = float(marks.get("python", 0.0))
    imports = max(python, float(marks.get("imports", python)))
    ready = max(imports, float(marks.get("ready", imports)))
    return {"start": python, "imports": imports - python, "load": ready - imports}


@dataclass
class Ledger:
    """The run's worker starts by kind, and the seconds their starts, imports and loads took."""

    starts: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, dict[str, float]] = field(default_factory=dict)  # kind -> phase -> seconds
    reported: Counter[str] = field(default_factory=Counter)  # starts whose marks came back

    def started(self, module: str) -> None:
        self.starts[kind_of(module)] += 1

    def ready(self, module: str, worker_marks: Mapping[str, Any] | None) -> None:
        if not isinstance(worker_marks, Mapping):
            return
        kind = kind_of(module)
        self.reported[kind] += 1
        phases = self.seconds.setdefault(kind, {"start": 0.0, "imports": 0.0, "load": 0.0})
        for phase, seconds in durations(worker_marks).items():
            phases[phase] += seconds

    def clear(self) -> None:
        self.starts.clear()
        self.seconds.clear()
        self.reported.clear()

    def summary(self) -> dict[str, Any]:
        """For the run record: starts and seconds by kind, and the totals."""
        kinds = {kind: {"starts": n, "reported": self.reported[kind],
                        **{f"{p}_s": round(s, 2) for p, s in self.seconds.get(kind, {}).items()}}
                 for kind, n in sorted(self.starts.items())}
        totals = {f"{p}_s": round(sum(s.get(p, 0.0) for s in self.seconds.values()), 2)
                  for p in ("start", "imports", "load")}
        return {"starts": sum(self.starts.values()), **totals, "by_kind": kinds}


LEDGER = Ledger()  # the test process's: every worker it starts (isolation.start_worker)

