"""Peak memory in a fresh process: the model's increment is seen, the parent's peak is not."""

from __future__ import annotations

import sys

import numpy as np
import psutil
import pytest

from qpbench.measure.memory import MeasurementError, measure_memory
from qpbench.workload import WorkloadSpec, load_workload


@pytest.fixture
def tiny_workload(tiny_files, monkeypatch):
    monkeypatch.syspath_prepend(str(tiny_files["module"].parent))
    sys.modules.pop("tinymodel", None)

    def make(factory: str = "tinymodel:build"):
        return load_workload(WorkloadSpec("tiny", factory, str(tiny_files["checkpoint"]), str(tiny_files["dataset"]), 16))

    return make


def measure(workload, builder="qpbench.variants:build_eager"):
    return measure_memory(workload, "eager", builder, {"threads": 1}, batch_size=1, iterations=3)


@pytest.mark.slow
def test_a_planted_200mb_model_shows_in_the_increment_and_a_clean_one_does_not(tiny_workload):
    clean = measure(tiny_workload())
    fat = measure(tiny_workload("tinymodel:fat"))
    assert clean.increment_mb < 50
    assert fat.increment_mb > clean.increment_mb + 150
    assert abs(fat.baseline_rss_mb - clean.baseline_rss_mb) < 50  # same imports, same baseline
    # the ballast is the process's own (anonymous) memory, not mapped library pages
    assert fat.rss_anon_mb > clean.rss_anon_mb + 150
    assert abs(fat.rss_file_mb - clean.rss_file_mb) < 50
    for r in (clean, fat):
        assert r.rss_anon_mb + r.rss_file_mb <= r.peak_rss_mb + 1  # current RSS, split, within the peak


@pytest.mark.slow
def test_the_parents_peak_does_not_leak_into_the_worker(tiny_workload):
    ballast = np.ones(300 * 2**20 // 8)  # 300 MiB touched in this (parent) process
    parent_rss = psutil.Process().memory_info().rss / 2**20
    result = measure(tiny_workload())
    assert result.peak_rss_mb < parent_rss - 200, (result, parent_rss)
    del ballast


@pytest.mark.slow
def test_a_crashing_worker_is_reported_with_its_reason(tiny_workload):
    with pytest.raises(MeasurementError, match="exited with 1.*factory exploded"):
        measure(tiny_workload("tinymodel:broken"))


@pytest.mark.slow
def test_an_unimportable_builder_is_reported(tiny_workload):
    with pytest.raises(MeasurementError, match="cannot import module 'nowhere'"):
        measure(tiny_workload(), builder="nowhere:build")
