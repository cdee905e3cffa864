"""Saving, listing and loading named baselines; bad baselines give clear errors."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from qpbench.compare.baseline import (
    BaselineError, check_name, git_info, list_baselines, load_baseline, load_run, save_baseline,
)
from qpbench.files import write_json
from qpbench.record import SCHEMA_VERSION
from qpbench.results import LatencyResult
from qpbench.schema.codec import dump
from tests.records import make_record

RECORD = make_record([LatencyResult("eager", 1, (0.001, 0.002))])


def test_save_then_load_by_name_and_latest(tmp_path):
    save_baseline(RECORD, tmp_path, "first", tmp_path)
    path = save_baseline(RECORD, tmp_path, "second", tmp_path)
    assert path == tmp_path / "baselines" / "second.json"
    assert [n for n, _ in list_baselines(tmp_path)] == ["first", "second"]
    loaded = load_baseline(tmp_path, "latest")
    assert loaded.name == "second" and loaded.record.results == RECORD.results
    assert loaded.record.baseline["name"] == "second" and "saved" in loaded.record.baseline
    assert load_baseline(tmp_path, "first").name == "first"
    assert load_run(str(path), tmp_path).name == "second"
    assert not list(tmp_path.glob("baselines/.*tmp"))  # no temporary file left behind


def test_git_info_without_git_is_none(tmp_path):
    assert git_info(tmp_path) is None  # not a repository: no failure
    save_baseline(RECORD, tmp_path, "nogit", tmp_path)
    assert load_baseline(tmp_path, "nogit").record.baseline["git"] is None


def test_git_info_in_a_repository():
    info = git_info(Path(__file__).parent)
    if info is None:
        pytest.skip("git unavailable here")
    assert len(info["commit"]) == 40 and isinstance(info["dirty"], bool)


def test_missing_baseline_names_what_exists(tmp_path):
    with pytest.raises(BaselineError, match="no baseline saved under .*--qp-save-baseline"):
        load_baseline(tmp_path, "latest")
    save_baseline(RECORD, tmp_path, "main", tmp_path)
    with pytest.raises(BaselineError, match=r"no baseline named 'nope' .*\(saved: main\)"):
        load_baseline(tmp_path, "nope")


def test_truncated_baseline_is_a_clear_error(tmp_path):
    path = save_baseline(RECORD, tmp_path, "cut", tmp_path)
    path.write_text(path.read_text()[:40])
    with pytest.raises(BaselineError, match="corrupt or truncated JSON"):
        load_baseline(tmp_path, "cut")


def test_other_schema_version_and_incomplete_records_are_refused(tmp_path):
    write_json({**dump(RECORD), "schema_version": SCHEMA_VERSION + 1}, tmp_path / "baselines" / "future.json")
    with pytest.raises(BaselineError, match=f"schema version {SCHEMA_VERSION + 1}, this qpbench reads version"):
        load_baseline(tmp_path, "future")
    write_json({"schema_version": SCHEMA_VERSION, "results": []}, tmp_path / "baselines" / "partial.json")
    with pytest.raises(BaselineError, match="incomplete run record, missing"):
        load_baseline(tmp_path, "partial")
    write_json({"hello": 1}, tmp_path / "baselines" / "other.json")
    with pytest.raises(BaselineError, match="no schema_version"):
        load_baseline(tmp_path, "other")


@pytest.mark.parametrize("name", ["latest", "", "../up", "a/b", "-x"])
def test_bad_names(name):
    with pytest.raises(BaselineError):
        check_name(name)


def test_a_write_killed_midway_leaves_the_old_file(tmp_path, monkeypatch):
    path = save_baseline(RECORD, tmp_path, "keep", tmp_path)
    before = path.read_text()

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        save_baseline(replace(RECORD, errors={"eager": ["x"]}), tmp_path, "keep", tmp_path)
    assert path.read_text() == before
    assert [p.name for p in (tmp_path / "baselines").iterdir()] == ["keep.json"]
    assert json.loads(before)["baseline"]["name"] == "keep"


def test_cli_compare_and_list(tmp_path, capsys):
    import numpy as np

    from qpbench.cli import main
    from tests.test_compare import run_record

    rng = np.random.default_rng(0)
    save_baseline(run_record(rng), tmp_path, "main", tmp_path)
    run_record(rng, slow=1.2).write(tmp_path / "slow.json")
    run_record(rng).write(tmp_path / "same.json")
    args = ["--results-dir", str(tmp_path)]
    assert main(["compare", "main", str(tmp_path / "same.json"), "--fail-on-regression", *args]) == 0
    assert "PASS qpbench regression gate" in capsys.readouterr().out
    assert main(["compare", "main", str(tmp_path / "slow.json"), *args]) == 0  # reported, not gating
    out = capsys.readouterr().out
    assert "regressions: 1 significant regression(s)" in out and "fast     speed_ratio_b1" in out
    assert "not gated (latency is not in the gate's metrics): fast latency_b1_p10_ms" in out
    md = tmp_path / "cmp.md"
    assert main(["compare", "latest", str(tmp_path / "slow.json"), "--fail-on-regression", "--markdown", str(md),
                 *args]) == 1
    assert "| fast | speed\\_ratio\\_b1 |" in md.read_text()  # Markdown-escaped
    assert main(["compare", "main", str(tmp_path / "slow.json"), "--fail-on-regression", "--gate-on", "pearson",
                 *args]) == 0
    assert "not gated (speed_ratio is not in the gate's metrics)" in capsys.readouterr().out
    assert main(["compare", "nope", "main", *args]) == 2
    assert "no baseline named 'nope'" in capsys.readouterr().err
    assert main(["baselines", *args]) == 0
    assert capsys.readouterr().out.startswith("main  ")


XEON = {"brand": "Intel(R) Xeon(R) Processor @ 2.80GHz",
        "isa": {"avx2": True, "avx512f": True, "avx512_vnni": True, "amx_int8": False}}
EPYC_AVX2 = {"brand": "AMD EPYC 7B13", "isa": {"avx2": True, "avx512f": False}}
EPYC_AVX512 = {"brand": "AMD EPYC 7B13", "isa": {"avx2": True, "avx512f": True, "avx512vnni": True}}


def test_cpu_slugs_name_the_model_and_its_widest_isa():
    from qpbench.compare.baseline import cpu_slug, for_cpu

    assert cpu_slug(XEON) == "intel-xeon-processor-2-80ghz-avx512-vnni"
    assert cpu_slug({**XEON, "isa": {**XEON["isa"], "amx_int8": True}}).endswith("-amx")
    # One brand string, two ISAs: two baselines.
    assert cpu_slug(EPYC_AVX2) == "amd-epyc-7b13-avx2" and cpu_slug(EPYC_AVX512) == "amd-epyc-7b13-avx512-vnni"
    assert cpu_slug({}) == "unknown-base"
    assert for_cpu("compact-quick-{cpu}", EPYC_AVX2) == "compact-quick-amd-epyc-7b13-avx2"
    assert for_cpu("main", EPYC_AVX2) == "main"
    check_name(for_cpu("compact-quick-{cpu}", XEON))  # a valid file name


def test_a_cpu_named_baseline_is_this_cpus_and_none_for_this_cpu_compares_with_nothing(tmp_path):
    from qpbench.compare.regression import RegressionSettings, RegressionStep

    save_baseline(RECORD, tmp_path, "ci-intel-xeon-processor-2-80ghz-avx512-vnni", tmp_path)
    settings = RegressionSettings(compare_with="ci-{cpu}", fail_on_regression=True)
    on_xeon = RegressionStep.open(settings, str(tmp_path), str(tmp_path), is_worker=False, cpu=lambda: XEON)
    assert on_xeon.baseline is not None and on_xeon.baseline.name == "ci-intel-xeon-processor-2-80ghz-avx512-vnni"
    assert on_xeon.settings.fail_on_regression and on_xeon.no_baseline is None
    on_epyc = RegressionStep.open(settings, str(tmp_path), str(tmp_path), is_worker=False, cpu=lambda: EPYC_AVX2)
    assert on_epyc.baseline is None and on_epyc.compare(RECORD) is None and not on_epyc.gate.failed
    expected = tmp_path / "baselines" / "ci-amd-epyc-7b13-avx2.json"
    assert on_epyc.active and on_epyc.report_lines() == []  # the gate's lines say it (the default: warn)
    assert on_epyc.gate.lines[0] == (
        f"WARN qpbench regression gate: no baseline ci-amd-epyc-7b13-avx2 for this CPU (AMD EPYC 7B13): expected "
        f"{expected}; nothing compared, the gate passes (--qp-missing-baseline=fail fails it)")
    assert "--qp-save-baseline='ci-{cpu}'" in on_epyc.gate.lines[1]
    saving = RegressionStep.open(RegressionSettings(save_as="ci-{cpu}"), str(tmp_path), str(tmp_path), False,
                            cpu=lambda: EPYC_AVX2)
    assert saving.settings.save_as == "ci-amd-epyc-7b13-avx2"
    # A plain name that does not exist is still a usage error.
    with pytest.raises(BaselineError, match="no baseline named 'ci'"):
        RegressionStep.open(RegressionSettings(compare_with="ci"), str(tmp_path), str(tmp_path), False, cpu=lambda: XEON)
