"""The stress, concurrency and LoadGen bench tests end to end, with pytester and the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .planted import write_planted

pytestmark = pytest.mark.slow  # the stress, concurrency and LoadGen runs of the tiny model

TINY = ["--qp-model-factory=tinymodel:build", "--qp-checkpoint=tiny.pt", "--qp-dataset=tiny.npz",
        "--qp-input-size=16", "--qp-profile=quick", "-p", "no:cacheprovider",
        # a Server latency bound no loaded machine misses: the QPS search must find a valid rate
        "--qp-target=server_p99_ms=100000"]
LONG_RUN = "test_stress or test_concurrency or test_loadgen"


@pytest.fixture
def suite(tiny_suite: pytest.Pytester) -> pytest.Pytester:
    pytester = tiny_suite
    write_planted(pytester.path)
    pytester.makepyfile(plantedvariants="""
        import plantedmodels
        from qpbench.variants import build_eager

        def build_aborting(ctx):
            variant = build_eager(ctx)
            variant.name = "aborting"
            variant.module = plantedmodels.aborting()  # calls os.abort() on its first inference
            return variant
    """)
    pytester.makeconftest("""
        from plantedvariants import build_aborting
        from qpbench.variants import VariantSpec

        def pytest_qpbench_register_variants(registry):
            registry.register(VariantSpec("aborting", "aborts the process", build_aborting))
    """)
    pytester.syspathinsert()
    return pytester


def latest(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "results" / "latest.json").read_text())


def ran_as_planned(stress):
    """The quick profile's stress run: 800 inferences planned, ended from 400 on at a look (every
    100) once flat, or all 800; when a trend appeared, extended by up to 800 more, ended the same
    way from 400 on once the trend was dismissed."""
    n, extended = len(stress["latencies_s"]), stress["extended"]
    if stress["planned"] != 800 or extended not in (0, *range(400, 801, 100)):
        return False
    return n == 800 + extended if extended else (400 <= n <= 800 and n % 100 == 0)


def test_long_run_tests_record_their_results_and_the_verdict_scores_them(suite):
    result = suite.runpytest(*TINY, "-k", LONG_RUN, "--qp-variants=eager")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["variant*leak MB/1k*slowdown %*conc. faults*server QPS*score*ready*"])
    record = latest(suite)
    kinds = {r["kind"] for r in record["results"]}
    assert kinds >= {"stress", "concurrency", "loadgen", "server_search"}
    stress = next(r for r in record["results"] if r["kind"] == "stress")
    assert ran_as_planned(stress)
    assert stress["summary"]["leak_mb_per_1k"] <= 0.25  # not flagged (a trend under the target may be reported)
    conc = [(r["processes"], r["threads"]) for r in record["results"] if r["kind"] == "concurrency"]
    assert conc == [(1, 1), (1, 2), (1, 4), (2, 4)]
    scenarios = [r["scenario"] for r in record["results"] if r["kind"] == "loadgen"]
    assert scenarios[:2] == ["SingleStream", "Offline"] and set(scenarios[2:]) == {"Server"}
    assert all(Path(r["log_dir"]).is_relative_to(suite.path / "results" / "loadgen")
               for r in record["results"] if r["kind"] == "loadgen")
    assert not list(suite.path.glob("mlperf_log_*"))  # LoadGen wrote nothing into the working directory
    eager = record["verdict"]["variants"][0]
    names = {c["name"]: c for c in eager["criteria"]}
    assert names["concurrency_faults"]["value"] == 0 and names["leak_mb_per_1k"]["passed"] is True
    assert names["server_qps"]["value"] > 0


def test_a_variant_that_aborts_is_a_critical_issue_and_the_others_are_intact(suite):
    """Under pytest-xdist too: the failure record travels to the controller like any result."""
    result = suite.runpytest(*TINY, "-n", "2", "-k", "test_stress", "--qp-variants=eager,aborting")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*critical issues:*", "*aborting: *stress worker for 'aborting' was killed by SIGABRT*"])
    record = latest(suite)
    failure = next(r for r in record["results"] if r["kind"] == "worker_failure")
    assert (failure["variant"], failure["failure"], failure["returncode"]) == ("aborting", "signal", -6)
    eager = next(r for r in record["results"] if r["kind"] == "stress")
    assert eager["variant"] == "eager" and ran_as_planned(eager)
    verdict = {v["variant"]: v for v in record["verdict"]["variants"]}
    assert verdict["aborting"]["ready"] is False
    assert any("SIGABRT" in r for r in verdict["aborting"]["reasons"])
    assert not any("worker" in r for r in verdict["eager"]["reasons"])  # only the gates this run did not measure
    assert verdict["eager"]["criteria"][5]["name"] == "leak_mb_per_1k" and verdict["eager"]["criteria"][5]["passed"]
    assert sum("SIGABRT" in msg for msg in record["verdict"]["critical_issues"]) == 1
