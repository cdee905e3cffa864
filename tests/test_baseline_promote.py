"""``qpbench baseline promote RECORD``: a CI run's record becomes its CPU's baseline, which
--qp-compare then loads; an existing baseline is kept unless --force; bad input is refused."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest

from qpbench.compare.baseline import load_baseline
from qpbench.cli import main
from qpbench.compare.regression import RegressionSettings, RegressionStep
from qpbench.results import LatencyResult
from tests.records import FINGERPRINT, make_record

# The CI runner's CPU: not this machine's, so {cpu} must come from the record.
RUNNER = {"brand": "AMD EPYC", "arch": "x86_64", "vendor_id": "AuthenticAMD", "family": 26, "model": 2,
          "stepping": 0, "isa": {"avx512f": True, "avx512_vnni": True, "avx512_bf16": True}}
SLUG = "amd-epyc-f26-m2-avx512-vnni-bf16"


@pytest.fixture
def record_path(tmp_path):
    fingerprint = copy.deepcopy(FINGERPRINT)
    fingerprint["cpu"] = RUNNER
    return make_record([LatencyResult("eager", 1, (0.001, 0.002))], fingerprint).write(tmp_path / "ci-run.json")


def promote(tmp_path, *args: str) -> int:
    return main(["baseline", "promote", *args, "--results-dir", str(tmp_path / "results")])


def test_promote_writes_the_records_cpu_baseline_which_compare_then_loads(tmp_path, record_path, capsys):
    assert promote(tmp_path, str(record_path), "--name", "compact-quick-{cpu}") == 0
    path = tmp_path / "results" / "baselines" / f"compact-quick-{SLUG}.json"
    assert f"baseline compact-quick-{SLUG}: {path}" in capsys.readouterr().out
    loaded = load_baseline(tmp_path / "results", f"compact-quick-{SLUG}")
    assert loaded.record.baseline["name"] == f"compact-quick-{SLUG}" and loaded.record.results
    step = RegressionStep.open(RegressionSettings(compare_with="compact-quick-{cpu}", fail_on_regression=True),
                          str(tmp_path / "results"), str(tmp_path), is_worker=False, cpu=lambda: RUNNER)
    assert step.baseline is not None and step.baseline.path == path and step.no_baseline is None
    assert not list(path.parent.glob(".*tmp"))  # written atomically: no temporary file left


def test_the_default_name_is_the_records_workload_and_profile(tmp_path, record_path):
    assert promote(tmp_path, str(record_path)) == 0
    assert (tmp_path / "results" / "baselines" / f"compact-quick-{SLUG}.json").is_file()


def test_an_existing_baseline_is_kept_unless_forced(tmp_path, record_path, capsys):
    assert promote(tmp_path, str(record_path), "--name", "main") == 0
    path = tmp_path / "results" / "baselines" / "main.json"
    before = path.read_text()
    capsys.readouterr()
    assert promote(tmp_path, str(record_path), "--name", "main") == 2
    err = capsys.readouterr().err
    assert f"baseline main exists ({path}): --force replaces it" in err
    assert path.read_text() == before
    assert promote(tmp_path, str(record_path), "--name", "main", "--force") == 0


@pytest.mark.parametrize("bad, expect", [
    ("missing", "no such file"),
    ("not_json", "not valid JSON"),
    ("not_a_record", "not a qpbench run record"),
    ("journal", "a stopped run's journal"),
    ("partial", "a partial record (the run stopped before its end)"),
    ("bad_name", "baseline name"),
])
def test_bad_input_is_refused_naming_the_problem(tmp_path, record_path, capsys, bad, expect):
    path, name = tmp_path / "bad.json", []
    if bad == "not_json":
        path.write_text(record_path.read_text()[:60])
    elif bad == "not_a_record":
        path.write_text(json.dumps({"schema_version": 1, "hello": "world"}))
    elif bad == "journal":
        path = tmp_path / "run.jsonl"
        path.write_text('{"kind": "header"}\n{"kind": "result"}\n')
    elif bad == "partial":
        partial = replace(make_record([LatencyResult("eager", 1, (0.001, 0.002))]),
                          extra={"partial": {"reason": "the run stopped before its end"}})
        partial.write(path)
    elif bad == "bad_name":
        path, name = record_path, ["--name", "../escape-{cpu}"]
    assert promote(tmp_path, str(path), *name) == 2
    err = capsys.readouterr().err
    assert err.startswith("qpbench baseline promote: error: ") and expect in err
    assert not (tmp_path / "results" / "baselines").exists() or not any((tmp_path / "results" / "baselines").iterdir())


def add(tmp_path, *args: str) -> int:
    return main(["baseline", "add", *args, "--results-dir", str(tmp_path / "results")])


def test_add_puts_a_finished_record_into_its_cpus_baseline_as_one_more_run(tmp_path, record_path, capsys):
    """``qpbench baseline add``: what --qp-add-to-baseline does for the run it ends, for a kept record."""
    assert promote(tmp_path, str(record_path)) == 0
    capsys.readouterr()
    assert add(tmp_path, str(record_path)) == 0
    path = tmp_path / "results" / "baselines" / f"compact-quick-{SLUG}.json"
    assert f"baseline compact-quick-{SLUG}: {path}, 2 runs" in capsys.readouterr().out
    runs = load_baseline(tmp_path / "results", f"compact-quick-{SLUG}").record.baseline["runs"]
    assert len(runs) == 1 and runs[0]["git"]
    assert add(tmp_path, str(record_path)) == 0 and "3 runs" in capsys.readouterr().out


def test_add_refuses_a_record_of_another_cpu_or_no_baseline(tmp_path, record_path, capsys):
    assert add(tmp_path, str(record_path)) == 2
    assert "no baseline named" in capsys.readouterr().err
    assert promote(tmp_path, str(record_path), "--name", "main") == 0
    other = copy.deepcopy(FINGERPRINT)
    other["cpu"] = {**RUNNER, "model": 17}
    elsewhere = make_record([LatencyResult("eager", 1, (0.001, 0.002))], other).write(tmp_path / "other.json")
    before = (tmp_path / "results" / "baselines" / "main.json").read_text()
    capsys.readouterr()
    assert add(tmp_path, str(elsewhere), "--name", "main") == 2
    err = capsys.readouterr().err
    assert "is no rerun of baseline main" in err and "model" in err
    assert (tmp_path / "results" / "baselines" / "main.json").read_text() == before
