"""Where a run's time goes, what the next run should expect, and the time budget
(docs/engine.md, "How long").

Every qpbench test's wall time is booked to a stage (builds are booked apart: the engine
times them), and the run record keeps the breakdown (``timing``). The per-test times are kept
between runs in a small history file per workload, profile and CPU, in the build cache's
``history/`` folder (variants/build_cache.py: ``$QPBENCH_CACHE_DIR/builds`` by default);
the next run's plan and its ETA come from it. Without a history there is no estimate, and the
run says so rather than guess. A build taken from the build cache, and the predictions the
accuracy tests reuse from it, take a fraction of their first time: such times are kept apart
(``CACHED`` after the test id), and a run with the cache on expects them where they are known.

``--qp-budget`` fits a run to a number of minutes: with a history, the profile's time
ceilings (and its stress run) are scaled down by the share of the measuring time that fits
beside the builds (``budget_scale``); whatever the estimate, a measurement after the screen
that would end past the budget is skipped with that reason. The screen itself always runs:
the verdict needs it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qpbench.files import write_json

# The stage each suite test's time is booked to, by test function name.
STAGES: dict[str, str] = {
    "test_accuracy": "accuracy", "test_fidelity": "accuracy", "test_whole_set": "accuracy",
    "test_latency": "latency/throughput", "test_speed_ratio": "latency/throughput",
    "test_throughput": "latency/throughput",
    "test_peak_memory": "memory",
    "test_stress": "long runs", "test_concurrency": "long runs", "test_loadgen_scenarios": "long runs",
    "test_kernels": "kernels", "test_tool_agreement": "kernels", "test_head_to_head": "latency/throughput",
}
BUILDS = "builds"
OTHER = "other"
HISTORY_VERSION = 1
# The time ceilings of the measurements after the screen are never scaled below this share:
# under it a figure is no longer worth its time (the budget's deadline skips instead).
MIN_SCALE = 0.2
CACHED = "@cached"  # after a test id: its time when the build cache served it
CACHE_STAGES = frozenset({"accuracy"})  # the stages whose time the cache cuts (predictions reused)


def measurement_id(variant: str, test_name: str) -> str:
    return f"{variant}::{test_name}"


def build_id(variant: str) -> str:
    return f"build:{variant}"


def stage_of(test_name: str) -> str:
    return STAGES.get(test_name.split("[")[0], OTHER)


def cached_id(test_id: str) -> str:
    return test_id + CACHED


def past_time(test_id: str, history: Mapping[str, float], cache_on: bool) -> float | None:
    """The last time of a test (or build) here: with the cache on, its cached time where known."""
    if cache_on and cached_id(test_id) in history:
        return history[cached_id(test_id)]
    return history.get(test_id)


def history_key(workload: Mapping[str, Any], profile: str, cpu: str) -> str:
    """The file a run's times are kept in: one per workload, profile and CPU model."""
    text = json.dumps({"workload": dict(workload), "profile": profile, "cpu": cpu}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_history(path: Path) -> dict[str, float]:
    """{test id: seconds} of the last run, or {} when there is none (or it cannot be read)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != HISTORY_VERSION:
        return {}
    times = data.get("seconds", {})
    return {str(k): float(v) for k, v in times.items() if isinstance(v, (int, float)) and v >= 0}


def save_history(path: Path, seconds: Mapping[str, float]) -> None:
    write_json({"version": HISTORY_VERSION, "seconds": {k: round(v, 3) for k, v in seconds.items()}}, path)


def fmt_s(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


@dataclass
class RunClock:
    """The run's wall time, booked by stage, and the per-test times for the next run's plan."""

    timer: Callable[[], float] = time.monotonic  # injectable: tests of the budget run on a fake clock
    start: float | None = None  # the timer's reading at the start (None: now)
    stages: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    tests: dict[str, float] = field(default_factory=dict)  # test id -> seconds (builds apart)
    screen_s: float | None = None  # when the screen ended (None: nothing after it ran)

    def __post_init__(self) -> None:
        if self.start is None:
            self.start = self.timer()

    def book(self, variant: str, test_name: str, seconds: float, build_s: float, cached: bool = False) -> None:
        """One test's wall time, of which ``build_s`` went to building variants; ``cached``: the
        variant's build came from the build cache (its times are kept apart, ``CACHED``)."""
        measured = max(0.0, seconds - build_s)
        stage = stage_of(test_name)
        self.stages[BUILDS] += build_s
        self.stages[stage] += measured
        test_id = measurement_id(variant, test_name)
        self.tests[cached_id(test_id) if cached and stage in CACHE_STAGES else test_id] = measured
        if build_s:
            build = cached_id(build_id(variant)) if cached else build_id(variant)
            self.tests[build] = self.tests.get(build, 0.0) + build_s

    def elapsed(self) -> float:
        return self.timer() - self.start

    def screen_ended(self) -> None:
        if self.screen_s is None:
            self.screen_s = self.elapsed()

    def to_dict(self, budget_s: float | None = None, scale: float = 1.0) -> dict[str, Any]:
        return {"wall_s": round(self.elapsed(), 1),
                "stages_s": {k: round(v, 1) for k, v in sorted(self.stages.items(), key=lambda kv: -kv[1])},
                "budget_s": budget_s, "scale": round(scale, 3),
                "screen_s": None if self.screen_s is None else round(self.screen_s, 1)}


def timing_line(timing: Mapping[str, Any]) -> str:
    """'run time 9 min 41 s: builds 1 min 40 s, accuracy 2 min 10 s, ...' from a record's timing."""
    stages = ", ".join(f"{name} {fmt_s(s)}" for name, s in timing["stages_s"].items() if s >= 0.5)
    budget = f" (budget {fmt_s(timing['budget_s'])}, time ceilings at {timing['scale']:.0%})" if timing.get("budget_s") else ""
    return f"run time {fmt_s(timing['wall_s'])}{budget}: {stages}" + workers_line(timing.get("workers"))


def workers_line(workers: Mapping[str, Any] | None) -> str:
    """'; 31 worker processes took 40 s to start, 1 min 10 s to import, 3 min 05 s to build or load'
    (the seconds inside the stages above: startup.py)."""
    if not workers or not workers.get("starts"):
        return ""
    return (f"; {workers['starts']} worker processes took {fmt_s(workers['start_s'])} to start, "
            f"{fmt_s(workers['imports_s'])} to import, {fmt_s(workers['load_s'])} to build or load")


def expected(test_ids: Iterable[str], history: Mapping[str, float], cache_on: bool = False) -> tuple[float, int]:
    """(seconds the tests took last time, how many of them have no past time)."""
    total, unknown = 0.0, 0
    for test_id in test_ids:
        seconds = past_time(test_id, history, cache_on)
        if seconds is None:
            unknown += 1
        else:
            total += seconds
    return total, unknown


def builds_expected(variants: Iterable[str], history: Mapping[str, float], cache_on: bool = False) -> float:
    return sum(past_time(build_id(v), history, cache_on) or 0.0 for v in variants)


def budget_scale(budget_s: float, fixed_s: float, scalable_s: float) -> float:
    """The share of the profile's time ceilings that fits ``budget_s``: the screen and the builds
    (``fixed_s``) are not scaled, the measurements after the screen (``scalable_s``) are."""
    if scalable_s <= 0 or fixed_s + scalable_s <= budget_s:
        return 1.0
    return max(MIN_SCALE, min(1.0, (budget_s - fixed_s) / scalable_s))
