"""A baseline holds what a comparison reads: saved from a full run record, it compares exactly as
that record would (the same rows, the same gate), and it leaves out the results nobody compares."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import numpy as np
import pytest

from qpbench.compare.baseline import (
    COMPARED, BaselineError, add_run, compared_part, load_baseline, save_baseline, slim_baseline,
)
from qpbench.compare.regression import RegressionSettings, RegressionStep
from qpbench.compare.speed import run_statistics
from qpbench.record import HostRun, RunRecord
from qpbench.results import (
    RESULT_TYPES, BatchSizeResult, LoadGenResult, PairedResult, ThroughputResult, WorkerFailure,
)
from tests.records import make_record
from tests.test_compare import FP, noisy, run_record
from tests.test_decision import agreement, h2h, info
from tests.test_kernels import kernels
from tests.test_long_run_scoring import concurrency, server, stress

NAME = "main"


def full_record(seed: int, slow: float = 1.0) -> RunRecord:
    """A run with a result of every kind: the compared ones (test_compare's run: eager and 'fast',
    ``slow`` times slower, plus eager against the machine-speed probe) and every other kind."""
    rng = np.random.default_rng(seed)
    compared = run_record(rng, slow=slow)
    drift = np.exp(rng.normal(0, 0.05, 60))
    probe = PairedResult("eager", "probe-v1", 1, tuple(np.asarray(noisy(rng, 2e-3, spread=0.02)) * drift),
                         tuple(np.asarray(noisy(rng, 1e-3, spread=0.02)) * drift))
    others = [
        info("eager"), info("fast"), ThroughputResult("fast", 8, images=1000, duration_s=10.0),
        BatchSizeResult("fast", 2.0, 300.0, 8000.0, 0.5, 64, (1, 8)),
        stress("fast"), concurrency("fast"), server("fast", 40.0),
        LoadGenResult("fast", "Server", True, 24.3, {"p50": 6.0, "p99": 13.6}, 64, 25.0, 100.0, "/tmp/x", (), True),
        WorkerFailure("fast", "stress", "signal", "was killed by SIGABRT", -6),
        kernels({"int8": 53}, variant="fast"), agreement("fast", 1.0, 1.02), replace(h2h("fast", "eager", 0.5, 0.45, 0.55), precision=None),
    ]
    results = [*compared.results, probe, *others]
    assert {r.kind for r in results} == set(RESULT_TYPES)  # a new kind: add one here
    return make_record(results, copy.deepcopy(FP), eval_set=compared.eval_set)


def gate_of(results_dir, current: RunRecord) -> tuple:
    """What --qp-compare=main --qp-fail-on-regression (every family gated) gives for ``current``:
    the comparison's rows and notes, the gate's outcome and lines, and the speed re-check."""
    step = RegressionStep.open(RegressionSettings(compare_with=NAME, fail_on_regression=True, gate_on=("all",)),
                          str(results_dir), str(results_dir), is_worker=False, cpu=lambda: FP["cpu"])
    comparison = step.compare(current)
    rechecks = [step.out_of_line(r) for r in current.results_of(PairedResult)]
    return comparison.changes, comparison.notes, comparison.same_machine, step.gate, rechecks


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    """Baseline 'main' twice: the full record as it was saved before, and as it is saved now."""
    record = full_record(1)
    full, slim = tmp_path_factory.mktemp("full"), tmp_path_factory.mktemp("slim")
    path = save_baseline(record, slim, NAME, slim)
    block = json.loads(path.read_text())["baseline"]
    replace(record, baseline=block).write(full / "baselines" / f"{NAME}.json")  # every result, the same block
    return full, slim


@pytest.mark.parametrize("slow, verdict", [(1.0, "PASS"), (1.3, "FAIL")])
def test_a_saved_baseline_compares_as_the_full_record(baselines, slow, verdict):
    full, slim = baselines
    current = full_record(2, slow)
    assert gate_of(slim, current) == gate_of(full, current)
    changes, _, same_machine, gate, rechecks = gate_of(slim, current)
    assert same_machine and gate.lines[0].startswith(f"{verdict} qpbench regression gate")
    assert {c.metric for c in changes} >= {"speed_ratio_b1", "time_vs_probe_b1", "latency_b1_p10_ms",
                                           "peak_rss_mb", "pearson", "fidelity_loss"}
    assert rechecks == ([False, False] if slow == 1.0 else [True, False])  # fast slowed, eager against the probe not
    assert load_baseline(slim, NAME).record.baseline == load_baseline(full, NAME).record.baseline


def test_a_baseline_leaves_out_the_results_no_comparison_reads(baselines):
    full, slim = baselines
    a, b = (load_baseline(d, NAME).record for d in (full, slim))
    assert {type(r) for r in b.results} == set(COMPARED)
    assert b.results == tuple(r for r in a.results if isinstance(r, COMPARED))
    assert replace(b, results=a.results) == a  # every other field kept
    assert run_statistics(b) == run_statistics(a)
    sizes = [(d / "baselines" / f"{NAME}.json").stat().st_size for d in (full, slim)]
    assert sizes[1] < sizes[0]


def test_each_hosts_results_are_left_out_alike():
    record = full_record(1)
    hosts = {"gw0": HostRun(record.fingerprint, record.results, {}, record.verdict)}
    slim = compared_part(replace(record, hosts=hosts))
    assert slim.hosts["gw0"].results == slim.results and {type(r) for r in slim.results} == set(COMPARED)
    assert compared_part(record).hosts is None


def test_an_older_full_baseline_is_slimmed_in_place_keeping_its_block_and_its_comparison(tmp_path, baselines):
    """As the committed baselines were: saved whole, with runs added (--qp-add-to-baseline)."""
    full, _ = baselines
    record = load_baseline(full, NAME).record
    runs = [{"saved": "2026-01-02T00:00:00+00:00", "git": None, "statistics": run_statistics(full_record(seed))}
            for seed in (4, 5)]
    before = replace(record, baseline={**record.baseline, "runs": runs})
    old, new = tmp_path / "old", tmp_path / "new"
    for root in (old, new):
        before.write(root / "baselines" / f"{NAME}.json")
    assert slim_baseline(new / "baselines" / f"{NAME}.json") == new / "baselines" / f"{NAME}.json"
    after = load_baseline(new, NAME).record
    assert after.baseline == before.baseline and after == compared_part(before)
    for slow in (1.0, 1.3):
        current = full_record(2, slow)
        assert gate_of(new, current) == gate_of(old, current)
    with pytest.raises(BaselineError, match="a run record, not a baseline"):
        slim_baseline(full_record(3).write(tmp_path / "run.json"))


def test_adding_a_run_to_an_older_full_baseline_writes_it_slim(tmp_path, baselines):
    full, _ = baselines
    old = tmp_path / "baselines" / f"{NAME}.json"
    old.parent.mkdir()
    old.write_bytes((full / "baselines" / f"{NAME}.json").read_bytes())
    add_run(load_baseline(tmp_path, NAME), {"fast speed_ratio_b1": 0.5}, tmp_path)
    after = load_baseline(tmp_path, NAME).record
    assert {type(r) for r in after.results} == set(COMPARED) and len(after.baseline["runs"]) == 1
