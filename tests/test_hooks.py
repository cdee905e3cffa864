"""qpbench's own hooks end to end, with pytester and the tiny model: the fingerprint and
record hooks, and the verdict hook seeing the record as written."""

from __future__ import annotations

import json
import textwrap

import pytest

from qpbench.record import RunRecord
from tests.test_bad_input import suite  # noqa: F401  (the accuracy test and the tiny model in a pytester dir)
from tests.test_plugin import TINY

pytestmark = pytest.mark.slow  # every test starts a bench run on the tiny model

ACCURACY = ["-k", "accuracy", "--qp-variants=eager,optimized"]


def latest(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "results" / "latest.json").read_text())


def test_the_verdict_hook_sees_the_record_as_written_with_the_comparison(suite):
    assert suite.runpytest(*TINY, *ACCURACY, "--qp-save-baseline=main").ret == 0
    suite.makeconftest("""
        import json
        from pathlib import Path

        from qpbench.schema.codec import dump

        def pytest_qpbench_verdict(config, verdict, record):
            written = json.loads((Path(config.rootpath) / "results" / "latest.json").read_text())
            Path("seen.json").write_text(json.dumps({
                "recommended": verdict.recommended,
                "keys": sorted(dump(record)),
                "baseline": dump(record.comparison)["baseline"],
                "written": written == dump(record),
            }))
    """)
    result = suite.runpytest(*TINY, *ACCURACY, "--qp-compare=main")
    assert result.ret == 0, result.stdout.str()
    seen = json.loads((suite.path / "seen.json").read_text())
    assert "comparison" in seen["keys"] and seen["written"] is True
    assert seen["recommended"] == latest(suite)["verdict"]["recommended"]
    assert latest(suite)["comparison"]["baseline"] == seen["baseline"]


def test_update_record_additions_land_in_every_written_record(suite):
    suite.makeconftest("""
        def pytest_qpbench_update_record(config, record):
            assert record.verdict.variants and record.gate is not None
            record.extra["team"] = {"name": "vision", "ticket": 42}
    """)
    result = suite.runpytest(*TINY, *ACCURACY, "--qp-save-baseline=main")
    assert result.ret == 0, result.stdout.str()
    assert latest(suite)["extra"]["team"] == {"name": "vision", "ticket": 42}
    run_file = next((suite.path / "results" / "runs").glob("*.json"))
    assert json.loads(run_file.read_text())["extra"]["team"]["name"] == "vision"
    baseline = suite.path / "results" / "baselines" / "main.json"
    assert json.loads(baseline.read_text())["extra"]["team"]["ticket"] == 42
    assert RunRecord.load(baseline).extra["team"]["ticket"] == 42  # still a valid record


def test_generate_record_replaces_the_record(suite):
    suite.makeconftest("""
        from dataclasses import replace

        from qpbench.plugin import qp_session_of

        def pytest_qpbench_generate_record(config, verdict, results, fingerprint, errors):
            record = qp_session_of(config).build_record(verdict, results, fingerprint, errors)
            return replace(record, results=tuple(r for r in record.results if r.kind != "accuracy"),
                           extra={"made_by": "conftest"})
    """)
    result = suite.runpytest(*TINY, *ACCURACY)
    assert result.ret == 0, result.stdout.str()
    written = latest(suite)
    assert written["extra"] == {"made_by": "conftest"}
    assert written["results"] and not [r for r in written["results"] if r["kind"] == "accuracy"]


FINGERPRINT_HOOKS = """
    from qpbench.system import fingerprint

    def pytest_qpbench_generate_fingerprint(config):
        return {**fingerprint(), "made_by": "conftest"}

    def pytest_qpbench_update_fingerprint(config, fingerprint):
        fingerprint["rack"] = "r7"
"""


def test_fingerprint_generate_and_update_hooks(suite):
    suite.makeconftest(FINGERPRINT_HOOKS)
    result = suite.runpytest(*TINY, *ACCURACY)
    assert result.ret == 0, result.stdout.str()
    fp = latest(suite)["fingerprint"]
    assert fp["made_by"] == "conftest" and fp["rack"] == "r7" and fp["cores_logical"] >= 1


def test_fingerprint_update_alone_extends_qpbench_s_own(suite):
    suite.makeconftest("""
        def pytest_qpbench_update_fingerprint(config, fingerprint):
            fingerprint["rack"] = "r7"
    """)
    assert suite.runpytest(*TINY, *ACCURACY).ret == 0
    fp = latest(suite)["fingerprint"]
    assert fp["rack"] == "r7" and "made_by" not in fp and fp["cores_logical"] >= 1


def test_fingerprint_hooks_run_on_each_host(suite):
    """Under ``--dist each`` every host's fingerprint is its worker's, made by the same hooks."""
    suite.makeconftest(FINGERPRINT_HOOKS)
    result = suite.runpytest(*TINY, *ACCURACY, "--dist", "each", "--tx", "popen//id=hostA", "--tx", "popen//id=hostB")
    assert result.ret == 0, result.stdout.str()
    record = latest(suite)
    for host in ("hostA", "hostB"):
        fp = record["hosts"][host]["fingerprint"]
        assert fp["made_by"] == "conftest" and fp["rack"] == "r7"
    assert record["fingerprint"]["rack"] == "r7"


@pytest.mark.parametrize("where", ["conftest", "module"])
def test_a_user_s_qp_workload_fixture_skips_the_early_check_of_the_option_given_workload(suite, where):
    """The options name a checkpoint that does not exist: a usage error, unless the user's own
    ``qp_workload`` fixture (here under another function name) supplies the workload."""
    fixture = """
        import pytest
        from qpbench.workload import WorkloadSpec, load_workload

        @pytest.fixture(scope="session", name="qp_workload")
        def my_workload():
            return load_workload(WorkloadSpec(name="mine", model_factory="tinymodel:build",
                                              checkpoint="tiny.pt", dataset="tiny.npz", input_size=16))
    """
    if where == "conftest":
        suite.makeconftest(fixture)
    else:
        suite.makepyfile(test_accuracy=textwrap.dedent(fixture) + "from qpbench.suite.accuracy import test_accuracy\n")
    args = [a for a in TINY if not a.startswith("--qp-checkpoint=")]
    result = suite.runpytest(*args, "--qp-checkpoint=nope.pt", "-k", "accuracy", "--qp-variants=eager")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    assert latest(suite)["workload"]["name"] == "mine"
