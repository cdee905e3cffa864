"""The run's plan: what it will measure and how long that takes, its clock, and its budget.

Before the first test the plan line says how many variants and measurements the run holds and,
from the second run of a workload and profile on this CPU, the time to expect (the last run's
per-test times, ``clock.py``); with ``--qp-budget`` the profile's time ceilings are scaled to
fit it. During the run the clock books each test, a measurement after the screen that would
end past the budget is skipped, and the progress line shows the ETA. At the end this run's
times replace the last run's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from qpbench.config import Profile, scaled
from qpbench.measure import startup
from qpbench.run import clock as run_clock


def history_path(cache_dir: Path, workload: dict[str, Any], profile: str, cpu: str) -> Path:
    """Where the last run's per-test times of this workload and profile on this CPU are kept."""
    return cache_dir / "history" / f"{run_clock.history_key(workload, profile, cpu)}.json"


class Planner:
    """The plan, the clock and the budget of one run (``budget_min``: --qp-budget, or None)."""

    def __init__(self, history_path: Callable[[], Path], cache_on: bool, budget_min: float | None,
                 timer: Callable[[], float] = time.monotonic) -> None:
        self._history_path = history_path  # called when the history is first read: it needs the fingerprint
        self.cache_on = cache_on  # builds go through the build cache, so past cached times apply
        self.budget_min = budget_min
        self.clock = run_clock.RunClock(timer)
        self.budget_share = 1.0  # of the profile's time ceilings, to fit the budget
        self._history: dict[str, float] | None = None
        startup.LEDGER.clear()  # this run's worker starts, from here

    def history(self) -> dict[str, float]:
        """Per-test seconds of the last run of this workload and profile on this CPU ({} if none)."""
        if self._history is None:
            self._history = run_clock.load_history(self._history_path())
        return self._history

    def plan(self, tests: list[tuple[str, str]], profile: Profile, reference: str) -> tuple[list[str], Profile]:
        """The plan's lines, from the run's (variant, test name) pairs and the last run's times, and
        the profile to measure with: with a budget, its time ceilings scaled to fit it (before any
        worker starts)."""
        variants = [v for v in dict.fromkeys(v for v, _ in tests) if v]  # "": a test of the whole run
        names = {n.split("[")[0] for _, n in tests}
        known, unknown = run_clock.expected((run_clock.measurement_id(v, n) for v, n in tests), self.history(),
                                            self.cache_on)
        builds = run_clock.builds_expected([reference, *variants], self.history(), self.cache_on)
        line = (f"qpbench plan: {len(variants)} variants x {len(names)} measurements ({len(tests)} tests), "
                f"profile {profile.name}")
        if unknown:
            line += f"; no estimate yet ({unknown} of them not timed on this machine before)"
        else:
            line += f"; expected {run_clock.fmt_s(builds + known)} from the last run here (builds {run_clock.fmt_s(builds)})"
        lines = [line]
        if self.budget_min is not None:
            budget_s = 60.0 * self.budget_min
            if not unknown:
                self.budget_share = run_clock.budget_scale(budget_s, builds, known)
                profile = scaled(profile, self.budget_share)
            lines.append(f"qpbench budget: {run_clock.fmt_s(budget_s)}; "
                         + (f"time ceilings at {self.budget_share:.0%} of the profile's; " if self.budget_share < 1 else "")
                         + "measurements after the screen that would end past it are skipped")
        return lines, profile

    def over_budget(self, variant: str, test_name: str) -> str | None:
        """Why a measurement after the screen is skipped for the budget (None: it fits)."""
        if self.budget_min is None:
            return None
        budget_s = 60.0 * self.budget_min
        ends = self.clock.elapsed() + (run_clock.past_time(run_clock.measurement_id(variant, test_name),
                                                           self.history(), self.cache_on) or 0.0)
        if ends <= budget_s:
            return None
        return f"over the --qp-budget of {self.budget_min:g} min ({run_clock.fmt_s(self.clock.elapsed())} spent)"

    def book(self, variant: str, test_name: str, seconds: float, build_s: float, cached: bool) -> None:
        self.clock.book(variant, test_name, seconds, build_s, cached)

    def eta(self, remaining: Iterable[tuple[str, str]]) -> str:
        """Elapsed time and the expected time of the ``remaining`` tests (from the last run here)."""
        left, unknown = run_clock.expected((run_clock.measurement_id(v, n) for v, n in remaining), self.history(),
                                           self.cache_on)
        eta = "ETA unknown (not timed here before)" if unknown else f"ETA {run_clock.fmt_s(left * self.pace())}"
        return f"elapsed {run_clock.fmt_s(self.clock.elapsed())}, {eta}"

    def pace(self) -> float:
        """How this run's tests compare with the last run's so far (1: as fast)."""
        both = [k for k in self.clock.tests if k in self.history() and not k.startswith("build:")]
        past = sum(self.history()[k] for k in both)
        now = sum(self.clock.tests[k] for k in both)
        return now / past if past > 1.0 and now > 1.0 else 1.0

    def timing(self) -> dict[str, Any]:
        """Where the run's time went, for the record (clock.py), with its worker starts (startup.py)."""
        return {**self.clock.to_dict(None if self.budget_min is None else 60.0 * self.budget_min, self.budget_share),
                "workers": startup.LEDGER.summary()}

    def save_history(self) -> None:
        """This run's per-test times over the last run's (a -k run updates only what it ran)."""
        if not self.clock.tests:
            return
        try:
            run_clock.save_history(self._history_path(), {**self.history(), **self.clock.tests})
        except OSError:
            pass  # a read-only cache costs the next run its estimate, nothing else

