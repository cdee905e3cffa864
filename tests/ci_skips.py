"""Skips in qpbench's own test run: every skip is reported with its reason, and under CI a skip
that hides a whole test module (``pytest.importorskip`` at module level when an extra is missing,
a module-level ``pytest.skip``, or a module whose every test skipped) fails the run.

A skipped test is a test that did not guard anything; in CI, where every extra is installed,
a whole module skipping means a group of checks silently stopped running."""

from __future__ import annotations

import os
from collections import defaultdict

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


class SkipLedger:
    """A plugin that keeps the outcomes per test module and reports the skips."""

    def __init__(self) -> None:
        self.module_skips: dict[str, str] = {}  # module -> reason, skipped at collection
        self.skipped: dict[str, list[str]] = defaultdict(list)
        self.ran: set[str] = set()

    def hidden_groups(self) -> dict[str, str]:
        """Modules no test of which ran, with why."""
        groups = dict(self.module_skips)
        for module, reasons in self.skipped.items():
            if module not in self.ran:
                groups[module] = "every test skipped: " + "; ".join(sorted(set(reasons)))
        return groups

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped and report.nodeid.endswith(".py"):
            self.module_skips[report.nodeid] = skip_reason(report)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        module = report.nodeid.split("::")[0]
        if report.skipped:
            self.skipped[module].append(skip_reason(report))
        elif report.when == "call" or report.failed:
            self.ran.add(module)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        total = sum(len(r) for r in self.skipped.values()) + len(self.module_skips)
        groups = self.hidden_groups()
        terminalreporter.section("skips")
        terminalreporter.write_line(f"{total} skipped, {len(groups)} whole module(s) skipped")
        verdict = "FAIL under CI" if under_ci() else "skipped"
        for module, reason in sorted(groups.items()):
            terminalreporter.write_line(f"{verdict}: {module}: {reason}")

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if under_ci() and self.hidden_groups() and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SkipLedger(), "qpbench-test-skips")
