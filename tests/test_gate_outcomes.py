"""A regression gate that could not judge (every gated figure taken under load) ends the run with
its own exit status and an INCONCLUSIVE line, told apart from a regression (exit 1)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from qpbench.compare.runs import compare_runs, regression_gate
from qpbench.compare.gate import INCONCLUSIVE_EXIT, GateResult, GateSummary, could_not_judge, exit_status
from qpbench.compare.regression import RegressionSettings, RegressionStep
from qpbench.results import PairedResult
from tests.records import make_record
from tests.test_compare import noisy

HOG = {"others_cpu": 0.98, "steal_pct": 0.0}  # a busy loop on one of two vCPUs


def speed_run(rng: np.random.Generator, slow: float = 1.0, load: dict | None = None):
    """A speed-only run (no accuracy, no memory): one variant against eager, in pairs."""
    pairs = PairedResult("fast", "eager", 1, tuple(noisy(rng, 1e-3 * slow, spread=0.02)),
                         tuple(noisy(rng, 2e-3, spread=0.02)), load=load)
    return make_record([pairs])


def test_every_gated_figure_under_load_is_inconclusive_not_a_regression():
    rng = np.random.default_rng(1)
    comparison = compare_runs(speed_run(rng), speed_run(rng, slow=1.5, load=HOG))
    assert not comparison.comparable and could_not_judge(comparison, {"speed_ratio"})
    failed, lines = regression_gate(comparison)
    assert failed and lines[0].startswith("INCONCLUSIVE qpbench regression gate: nothing could be compared with ")
    assert "retry" in lines[0]


def test_nothing_comparable_for_a_reason_a_retry_does_not_cure_still_fails():
    rng = np.random.default_rng(2)
    base, other = speed_run(rng), speed_run(rng, load=HOG)
    other = replace(other, workload=replace(other.workload, name="default"))
    comparison = compare_runs(base, other)
    assert not could_not_judge(comparison, {"speed_ratio"})
    assert regression_gate(comparison)[1][0].startswith("FAIL qpbench regression gate: nothing could be compared")


def step_against(tmp_path, baseline, gating: bool = True) -> RegressionStep:
    from qpbench.compare.baseline import save_baseline

    save_baseline(baseline, tmp_path, "main", tmp_path)
    return RegressionStep.open(RegressionSettings(compare_with="main", fail_on_regression=gating), str(tmp_path),
                          str(tmp_path), is_worker=False)


def test_the_run_step_marks_the_gate_inconclusive_and_the_exit_status_follows(tmp_path):
    rng = np.random.default_rng(3)
    regression = step_against(tmp_path, speed_run(rng))
    comparison = regression.compare(speed_run(rng, load=HOG))
    gate = GateSummary(GateResult(), regression.gate)
    assert regression.gate.inconclusive and not regression.gate.failed and gate.inconclusive and not gate.failed
    assert comparison.gate["inconclusive"] and not comparison.gate["failed"]
    assert exit_status(gate, pytest.ExitCode.OK) == INCONCLUSIVE_EXIT
    # A test that failed, or a score gate that failed, is still a failure.
    assert exit_status(gate, pytest.ExitCode.TESTS_FAILED) == pytest.ExitCode.TESTS_FAILED
    assert exit_status(GateSummary(GateResult(True), regression.gate), 1) == 1


def test_a_real_regression_keeps_its_failure_status(tmp_path):
    rng = np.random.default_rng(4)
    regression = step_against(tmp_path, speed_run(rng))
    regression.compare(speed_run(rng, slow=1.5))
    gate = GateSummary(GateResult(), regression.gate)
    assert gate.failed and not gate.inconclusive
    assert regression.gate.lines[0].startswith("FAIL qpbench regression gate: 1 significant regression")
    assert exit_status(gate, pytest.ExitCode.TESTS_FAILED) == pytest.ExitCode.TESTS_FAILED != INCONCLUSIVE_EXIT


def test_without_the_gate_it_is_a_note(tmp_path):
    rng = np.random.default_rng(5)
    regression = step_against(tmp_path, speed_run(rng), gating=False)
    regression.compare(speed_run(rng, load=HOG))
    assert not regression.gate.inconclusive and not regression.gate.failed
    assert regression.gate.lines[0].startswith("qpbench regression check (not gating): nothing could be compared")


def test_inconclusive_exit_is_none_of_pytests():
    assert INCONCLUSIVE_EXIT not in {int(code) for code in pytest.ExitCode}


PLANT = """
from qpbench.compare.gate import GateResult, GateSummary
from qpbench.plugin import qp_session_of
from qpbench.verdict.scoring import score
from qpbench.config import ScoringConfig


def pytest_collection_finish(session):
    qp = qp_session_of(session.config)
    qp.verdict = score([], ScoringConfig(), "eager")  # the summary prints with a verdict
    qp.regression.no_baseline = "planted"  # the comparison section prints
    line = "INCONCLUSIVE qpbench regression gate: nothing could be compared with baseline main: planted"
    qp.regression.gate = GateResult(False, (line,), inconclusive=True)
    qp.gate = GateSummary(regression=qp.regression.gate)
"""


@pytest.mark.parametrize("outcome", ["passed", "failed"])
def test_the_pytest_run_ends_with_the_inconclusive_status(pytester: pytest.Pytester, outcome: str):
    pytester.makeconftest(PLANT)
    pytester.makepyfile(test_one=f"def test_one():\n    assert {outcome == 'passed'}\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*INCONCLUSIVE qpbench regression gate: nothing could be compared*"])
    assert result.ret == (INCONCLUSIVE_EXIT if outcome == "passed" else pytest.ExitCode.TESTS_FAILED)
