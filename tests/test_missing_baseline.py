"""--qp-missing-baseline: a {cpu} baseline this CPU has none of warns (the default) or fails the
regression gate, naming the file it looked for and how to make one."""

from __future__ import annotations

from pathlib import Path

import pytest

from qpbench.compare.baseline import BaselineError, save_baseline
from qpbench.config import ConfigError, parse_missing_baseline
from qpbench.compare.gate import GateSummary, exit_status
from qpbench.options.pytest_options import read_regression_settings
from qpbench.compare.regression import RegressionSettings, RegressionStep
from qpbench.results import LatencyResult
from tests.records import make_record

RECORD = make_record([LatencyResult("eager", 1, (0.001, 0.002))])
ZEN5 = {"brand": "AMD EPYC", "vendor_id": "AuthenticAMD", "family": 26, "model": 2,
        "isa": {"avx512f": True, "avx512_vnni": True, "avx512_bf16": True}}
EXPECTED_NAME = "compact-quick-amd-epyc-f26-m2-avx512-vnni-bf16"


def step(tmp_path: Path, **settings) -> RegressionStep:
    return RegressionStep.open(RegressionSettings(compare_with="compact-quick-{cpu}", **settings), str(tmp_path),
                          str(tmp_path), is_worker=False, cpu=lambda: ZEN5)


def test_the_mode_is_warn_or_fail():
    assert parse_missing_baseline(None) == parse_missing_baseline("") == "warn"
    assert parse_missing_baseline("FAIL") == "fail"
    with pytest.raises(ConfigError, match="missing-baseline must be one of warn, fail, got 'maybe'"):
        parse_missing_baseline("maybe")
    with pytest.raises(ConfigError, match="missing-baseline"):
        RegressionSettings(missing_baseline="maybe")


def test_warn_names_the_expected_file_and_how_to_make_one_and_passes(tmp_path):
    warned = step(tmp_path, fail_on_regression=True)
    expected = tmp_path / "baselines" / f"{EXPECTED_NAME}.json"
    assert warned.baseline is None and warned.compare(RECORD) is None
    assert not warned.gate.failed and not GateSummary(regression=warned.gate).failed
    first, make = warned.gate.lines
    assert first.startswith(f"WARN qpbench regression gate: no baseline {EXPECTED_NAME} for this CPU "
                            f"(AMD EPYC, AuthenticAMD family 26 model 2): expected {expected}")
    assert "--qp-save-baseline='compact-quick-{cpu}'" in make and "qpbench baseline promote" in make
    assert exit_status(GateSummary(regression=warned.gate), 0) == 0


def test_fail_fails_the_regression_gate_saying_so(tmp_path):
    failed = step(tmp_path, fail_on_regression=True, missing_baseline="fail")
    assert failed.gate.failed and GateSummary(regression=failed.gate).failed
    assert failed.gate.lines[0].startswith(f"FAIL qpbench regression gate: no baseline {EXPECTED_NAME} for this CPU")
    assert failed.gate.lines[0].endswith("(--qp-missing-baseline=fail)")
    assert failed.report_lines() == []  # said once, by the gate's lines


def test_without_the_gate_either_mode_only_notes_it(tmp_path):
    for mode in ("warn", "fail"):
        noted = step(tmp_path, missing_baseline=mode)
        assert not noted.gate.failed and noted.active
        assert noted.gate.lines[0].endswith("; compared with nothing")


def test_an_existing_baseline_is_compared_and_the_mode_does_not_matter(tmp_path):
    save_baseline(RECORD, tmp_path, EXPECTED_NAME, tmp_path)
    found = step(tmp_path, fail_on_regression=True, missing_baseline="fail")
    assert found.baseline is not None and found.no_baseline is None and not found.gate.failed


def test_a_corrupt_cpu_baseline_and_a_missing_plain_name_are_still_usage_errors(tmp_path):
    path = save_baseline(RECORD, tmp_path, EXPECTED_NAME, tmp_path)
    path.write_text(path.read_text()[:40])
    with pytest.raises(BaselineError, match="corrupt or truncated JSON"):
        step(tmp_path, fail_on_regression=True, missing_baseline="warn")
    with pytest.raises(BaselineError, match="no baseline named 'main'"):
        RegressionStep.open(RegressionSettings(compare_with="main", missing_baseline="warn"), str(tmp_path),
                       str(tmp_path), False, cpu=lambda: ZEN5)


def test_the_markdown_summary_says_it_too(tmp_path):
    warned = step(tmp_path, fail_on_regression=True, markdown_path=str(tmp_path / "cmp.md"))
    warned.after_write(RECORD)
    text = (tmp_path / "cmp.md").read_text()
    assert "WARN qpbench regression gate: no baseline" in text and "qpbench baseline promote" in text


def test_option_and_ini_key(pytester: pytest.Pytester):
    assert read_regression_settings(pytester.parseconfig()).missing_baseline == "warn"
    assert read_regression_settings(pytester.parseconfig("--qp-missing-baseline=fail")).missing_baseline == "fail"
    pytester.makeini("[pytest]\nqp_missing_baseline = fail\n")
    assert read_regression_settings(pytester.parseconfig()).missing_baseline == "fail"
    assert read_regression_settings(pytester.parseconfig("--qp-missing-baseline=warn")).missing_baseline == "warn"


@pytest.mark.parametrize("where", ["option", "ini"])
def test_a_bad_value_is_a_usage_error(pytester: pytest.Pytester, where: str):
    if where == "ini":
        pytester.makeini("[pytest]\nqp_missing_baseline = maybe\n")
    result = pytester.runpytest(*(["--qp-missing-baseline=maybe"] if where == "option" else []))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*missing-baseline must be one of warn, fail, got 'maybe'*"])
