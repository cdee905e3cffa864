"""Names that become paths are validated with a full match, and run files never collide."""

from __future__ import annotations

import threading
from unittest import mock

import pytest

from qpbench.compare.baseline import BaselineError, check_name
from qpbench.deploy.record import PackageError, resolve_variant
from qpbench.errors import VariantError
from qpbench.files import is_safe_name
from qpbench.record import RunRecord
from qpbench.results import LatencyResult
from qpbench.run.output import write_record
from qpbench.variants import VariantRegistry
from qpbench.variants.base import VariantSpec
from tests.records import make_record

BAD_NAMES = ["fast\n", "a/b", "..", ".", "../x", "", " x", "x y", "a\\b", "x\x00", "\nfast", "-x", "é"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_name_used_in_a_path_must_match_in_full(name):
    assert not is_safe_name(name)
    with pytest.raises(BaselineError, match="must be 1-100 letters"):
        check_name(name)
    with pytest.raises(VariantError, match="variant name .* must be 1-100 letters"):
        VariantRegistry(()).register(VariantSpec(name, "hostile", lambda ctx: None))


def test_a_record_naming_a_hostile_variant_is_not_packaged():
    record = make_record([LatencyResult("eager", 1, (1e-3,) * 5), LatencyResult("x/../../y", 1, (1e-3,) * 5)])
    with pytest.raises(PackageError, match="variant name 'x/../../y' must be"):
        resolve_variant(record, "x/../../y")


@pytest.mark.parametrize("name", ["eager", "pt2e-int8", "openvino-fp32-tput", "v1.2_b", "A" * 100])
def test_good_names_pass(name):
    assert is_safe_name(name) and check_name(name) == name
    VariantRegistry(()).register(VariantSpec(name, "fine", lambda ctx: None))


def test_two_runs_in_the_same_second_keep_both_files(tmp_path):
    first = make_record([LatencyResult("eager", 1, (1e-3,) * 5)])
    second = make_record([LatencyResult("eager", 1, (2e-3,) * 5)])
    with mock.patch("qpbench.run.output.dt") as clock:  # one frozen second for both runs
        clock.datetime.now.return_value.strftime.return_value = "20260101-120000"
        paths = [write_record(first, tmp_path), write_record(second, tmp_path)]
    assert [p.name for p in paths] == ["20260101-120000-compact.json", "20260101-120000-compact-2.json"]
    assert [RunRecord.load(p).results[0].samples_s[0] for p in paths] == [1e-3, 2e-3]
    assert RunRecord.load(tmp_path / "latest.json").results[0].samples_s[0] == 2e-3
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(p.name for p in paths)  # no temp left


def test_concurrent_runs_in_the_same_second_never_overwrite(tmp_path):
    records = [make_record([LatencyResult("eager", 1, ((i + 1) * 1e-3,) * 5)]) for i in range(8)]
    paths: list = []
    with mock.patch("qpbench.run.output.dt") as clock:
        clock.datetime.now.return_value.strftime.return_value = "20260101-120000"
        threads = [threading.Thread(target=lambda r=r: paths.append(write_record(r, tmp_path))) for r in records]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(set(paths)) == 8 == len(list((tmp_path / "runs").glob("*.json")))
    assert sorted(RunRecord.load(p).results[0].samples_s[0] for p in paths) == [(i + 1) * 1e-3 for i in range(8)]
