"""Hooks for qpbench's own test run (the fixtures live in the repository's conftest.py).

scipy.stats is imported here, before any test: qpbench imports it when it first computes a
statistic (its plugin loads no scipy), and a pytester run in this process restores sys.modules
after it, which would drop scipy's extension modules, that cannot be loaded twice in a process.
"""

import pytest
import scipy.stats  # noqa: F401

from tests.ci_skips import pytest_configure  # noqa: F401  (skip report; module-wide skips fail under CI)


# Session-scoped runs of the bench suite that many tests read (tests/test_reports.py's ``tiny_run``):
# a test that reads one is in the run's tier, `slow`, wherever it is written.
SHARED_RUNS = frozenset({"tiny_run"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SHARED_RUNS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _own_build_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test (and the workers it starts) keeps built variants in a fresh folder of its own:
    never the user's ~/.cache/qpbench/builds, never another test's builds."""
    monkeypatch.setenv("QPBENCH_BUILD_CACHE_DIR", str(tmp_path_factory.mktemp("builds")))
