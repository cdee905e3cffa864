"""The skip report of qpbench's own test run, and the CI rule: a skip that hides a whole module fails."""

from __future__ import annotations

import pytest

HOOKS = "from tests.ci_skips import pytest_configure  # noqa: F401\n"

MODULES = {
    "test_missing_extra": """
        import pytest
        pytest.importorskip("no_such_extra_qpbench")

        def test_hidden():
            pass
    """,
    "test_all_marked": """
        import pytest
        pytestmark = pytest.mark.skipif(True, reason="needs a runtime")

        def test_a():
            pass
    """,
    "test_one_skip": """
        import pytest

        def test_runs():
            pass

        def test_needs_a_browser():
            pytest.skip("no browser")
    """,
}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(HOOKS)
    return pytester


@pytest.mark.parametrize("ci", ["", "false"])
def test_outside_ci_skips_are_reported_with_their_reasons_and_pass(project, monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    project.makepyfile(**MODULES)
    result = project.runpytest("-p", "no:cacheprovider")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "*skips*",
        "3 skipped, 2 whole module(s) skipped",
        "skipped: test_all_marked.py: every test skipped: needs a runtime",
        "skipped: test_missing_extra.py: could not import 'no_such_extra_qpbench'*",
    ])


@pytest.mark.parametrize("module", ["test_missing_extra", "test_all_marked"])
def test_under_ci_a_skip_that_hides_a_whole_module_fails_the_run(project, monkeypatch, module):
    monkeypatch.setenv("CI", "true")
    project.makepyfile(**{module: MODULES[module], "test_one_skip": MODULES["test_one_skip"]})
    result = project.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"FAIL under CI: {module}.py: *"])


def test_under_ci_a_single_skipped_test_beside_others_does_not_fail(project, monkeypatch):
    monkeypatch.setenv("CI", "true")
    project.makepyfile(test_one_skip=MODULES["test_one_skip"])
    result = project.runpytest("-p", "no:cacheprovider", "-rs")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["1 skipped, 0 whole module(s) skipped", "SKIPPED *no browser"])


def test_under_ci_a_failing_run_keeps_its_own_exit_status(project, monkeypatch):
    monkeypatch.setenv("CI", "true")
    project.makepyfile(test_missing_extra=MODULES["test_missing_extra"], test_bad="def test_bad():\n    assert False\n")
    assert project.runpytest("-p", "no:cacheprovider").ret == pytest.ExitCode.TESTS_FAILED
