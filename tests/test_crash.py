"""A model that crashes or hangs costs one measurement, never the run (docs/engine.md).

Real processes: the bench suite runs under pytester with planted models that
abort, segfault, hang or raise from C++ on their 50th call in a process, and a
variant builder that aborts; a run killed with SIGKILL leaves a journal that
``qpbench report`` renders as partial.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from qpbench.record import RunRecord
from tests.planted import write_planted
from tests.test_isolation import alive, interruptible
from tests.test_plugin import LONG_RUN, TINY, suite  # noqa: F401  (the bench suite and the tiny model)

pytestmark = pytest.mark.slow  # bench runs of planted models that crash, hang or are killed


def planted_run(suite: pytest.Pytester, factory: str, *args: str) -> pytest.RunResult:
    """A bench run of a planted model; every measurement is asked for (--qp-long-run=all), since
    what is tested is that a crash costs one measurement, not the screen (a crashed variant is
    screened out of the rest otherwise)."""
    write_planted(suite.path)
    return suite.runpytest(*TINY, f"--qp-model-factory=plantedmodels:{factory}", "--qp-long-run=all", *args)


def failures(record: RunRecord) -> list:
    return [r for r in record.results if r.kind == "worker_failure"]


def test_a_model_that_aborts_fails_its_measurements_and_the_run_is_written(suite):
    result = planted_run(suite, "aborts_at_50", "-k", f"not ({LONG_RUN})", "--qp-variants=eager")
    assert result.ret == 1  # pytest's failure code, not a signal
    record = RunRecord.load(suite.path / "results" / "latest.json")  # validated against the schema
    crashed = failures(record)
    assert "latency" in {f.measurement for f in crashed}
    assert all(f.failure == "signal" and "SIGABRT" in f.reason for f in crashed)
    assert any("Fatal Python error: Aborted" in f.detail for f in crashed)  # faulthandler's own words
    # What needs fewer than 50 calls in a process was measured: accuracy, peak memory.
    kinds = {r.kind for r in record.results if r.variant == "eager"}
    assert {"accuracy", "memory", "variant"} <= kinds
    assert any("latency worker for 'eager' was killed by SIGABRT (Fatal Python error: Aborted) at plantedmodels.py:"
               in issue and "in forward" in issue for issue in record.verdict.critical_issues)
    assert (suite.path / "results" / "report.html").is_file()
    assert not list((suite.path / "results" / "journal").glob("*.jsonl"))  # the record holds it all now


@pytest.mark.parametrize(("factory", "failure", "says"), [
    ("segfaults_in_latency", "signal", "SIGSEGV"),
    ("hangs_in_latency", "timeout", "did not finish within 15 s"),
])
def test_a_segfault_or_a_hang_fails_that_test_only(suite, factory, failure, says):
    result = planted_run(suite, factory, "-k", "test_latency or test_accuracy", "--qp-variants=eager",
                         "--qp-worker-timeout=15")
    assert result.ret == 1
    result.assert_outcomes(passed=2, failed=1, skipped=1)  # batch-1 latency fails; fidelity of the reference skips
    record = RunRecord.load(suite.path / "results" / "latest.json")
    crashed = failures(record)
    assert crashed and all(f.measurement == "latency" and f.failure == failure and says in f.reason for f in crashed)


def test_an_error_raised_from_cpp_fails_that_test_with_its_message(suite):
    result = planted_run(suite, "cpp_raises_in_latency", "-k", "test_latency", "--qp-variants=eager")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*RuntimeError*mat1 and mat2 shapes cannot be multiplied*"])
    record = RunRecord.load(suite.path / "results" / "latest.json")
    assert any("RuntimeError" in e for e in record.errors["eager"])


def test_a_builder_that_aborts_fails_its_variant_and_the_others_are_judged(suite):
    write_planted(suite.path)
    suite.makeconftest("""
        from qpbench.variants import VariantSpec

        def pytest_qpbench_register_variants(registry):
            registry.register(VariantSpec("crashy", "its builder aborts", "plantedmodels:build_aborting"))
    """)
    result = suite.runpytest(*TINY, "--qp-variants=eager,crashy", "-k", "test_accuracy or test_latency",
                             "--qp-target", "latency_p95_ms=100000")
    assert result.ret == 1
    record = RunRecord.load(suite.path / "results" / "latest.json")
    (info,) = [r for r in record.results if r.kind == "variant" and r.variant == "crashy"]
    assert "build worker was killed by SIGABRT" in info.error
    assert {r.kind for r in record.results if r.variant == "eager"} >= {"accuracy", "latency"}
    assert record.verdict.recommended == "eager"
    assert any(f.measurement == "build" for f in failures(record))


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_a_killed_run_leaves_a_journal_that_report_renders_as_partial(suite, tiny_files, stop):
    """kill -9 (or Ctrl-C) of pytest mid-run: the results so far are on disk, and no worker outlives it."""
    write_planted(suite.path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(suite.path), *sys.path])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *TINY, "--qp-model-factory=plantedmodels:hangs_in_latency", "--qp-variants=eager",
         "-k", "test_accuracy or test_latency", "--qp-worker-timeout=600"],
        cwd=suite.path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=interruptible)
    journal_dir = suite.path / "results" / "journal"
    deadline = time.monotonic() + 240
    journal = None
    while time.monotonic() < deadline and journal is None:
        time.sleep(0.5)
        for path in journal_dir.glob("*.jsonl"):
            if '"kind": "accuracy"' in path.read_text():
                journal = path
    assert journal is not None, "the run journaled no accuracy result"
    time.sleep(2)  # the latency worker is now hanging
    workers = _children(proc.pid)
    os.kill(proc.pid, stop)
    proc.wait(timeout=120)
    time.sleep(1)
    assert workers and not [pid for pid in workers if alive(pid)], "a worker outlived the killed run"

    out = suite.path / "partial"
    report = subprocess.run([sys.executable, "-m", "qpbench", "report", str(journal), "--out", str(out)],
                            capture_output=True, text=True, env=env, cwd=suite.path)
    assert report.returncode == 0, report.stderr
    html = (out / "report.html").read_text()
    assert "PARTIAL" in html and "the run stopped before its end" in html
    assert "PARTIAL" in (out / "summary.md").read_text()
    record = json.loads((out / "run.json").read_text()) if (out / "run.json").exists() else None
    assert record is None or record["extra"]["partial"]

    again = suite.runpytest(*TINY, "--co")  # the next run says where the stopped run's results are
    again.stdout.fnmatch_lines([f"*an earlier run stopped before its end*{journal.name}*qpbench report*"])


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (the workers run in their own sessions, so not by group)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    parents = {int(c): int(p) for c, p in (line.split() for line in out.splitlines())}
    found, frontier = [], {pid}
    while frontier:
        frontier = {c for c, p in parents.items() if p in frontier}
        found += sorted(frontier)
    return found
