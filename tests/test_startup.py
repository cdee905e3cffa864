"""Worker start-ups counted: every worker start is in the run's ledger, and its marks (entry point,
imports, ready) come back with its first answer or its report (qpbench/measure/startup.py)."""

from __future__ import annotations

import textwrap

import pytest

from qpbench.measure import startup
from qpbench.measure.isolation import ServingWorker, run_worker
from qpbench.run.clock import timing_line

WORKERS = {
    # A one-shot worker that imports something slowly and loads slowly, as stress_worker does.
    "slow_worker": textwrap.dedent("""
        import json, sys, time
        from qpbench.measure import startup

        startup.mark("python")
        request = json.loads(sys.stdin.read())
        time.sleep(request["imports_s"])
        startup.mark("imports")
        time.sleep(request["load_s"])
        startup.mark("ready")
        print(json.dumps({"value": 1, startup.STARTUP_KEY: startup.marks()}))
    """),
    # A serving worker on the real serve(): its first answer carries the marks, the later ones do not.
    "slow_server": textwrap.dedent("""
        import sys, time
        from qpbench.measure import startup
        from qpbench.measure.variant_worker import private_stdout, serve

        class Slow:
            def handle(self, request):
                if request["op"] == "load":
                    startup.mark("imports")
                    time.sleep(request["load_s"])
                return request["op"]

        startup.mark("python")
        serve(sys.stdin, private_stdout(), Slow())
    """),
}


@pytest.fixture
def workers(tmp_path, monkeypatch):
    for name, src in WORKERS.items():
        (tmp_path / f"{name}.py").write_text(src)
    monkeypatch.syspath_prepend(str(tmp_path))
    startup.LEDGER.clear()
    yield tmp_path
    startup.LEDGER.clear()


def test_a_one_shot_workers_marks_are_taken_from_its_report(workers):
    report = run_worker("slow_worker", {"imports_s": 0.3, "load_s": 0.5}, "stress", "v", timeout_s=60)
    assert report == {"value": 1}  # the marks are the ledger's, not the measurement's
    summary = startup.LEDGER.summary()
    assert summary["starts"] == 1 and summary["by_kind"]["slow"]["reported"] == 1
    assert summary["imports_s"] >= 0.3 and summary["load_s"] >= 0.5 and summary["start_s"] >= 0


def test_a_serving_workers_first_answer_carries_its_marks(workers):
    worker = ServingWorker("slow_server", "v")
    try:
        assert worker.request({"op": "load", "load_s": 0.4}, "build", 60) == "load"
        assert worker.request({"op": "latency"}, "latency", 60) == "latency"
    finally:
        worker.close()
    kind = startup.LEDGER.summary()["by_kind"]["slow_server"]
    assert kind["starts"] == 1 and kind["reported"] == 1 and kind["load_s"] >= 0.4


def test_a_worker_that_reports_no_marks_still_counts_as_a_start(workers):
    startup.LEDGER.started("qpbench.measure.memory_worker")
    startup.LEDGER.ready("qpbench.measure.memory_worker", None)
    summary = startup.LEDGER.summary()
    assert summary["starts"] == 1 and summary["by_kind"]["memory"] == {"starts": 1, "reported": 0}
    assert summary["load_s"] == 0.0


@pytest.mark.parametrize("marks, expected", [
    ({"python": 1.0, "imports": 3.0, "ready": 4.5}, {"start": 1.0, "imports": 2.0, "load": 1.5}),
    ({"python": 1.0, "ready": 4.5}, {"start": 1.0, "imports": 0.0, "load": 3.5}),  # no imports of its own
    ({}, {"start": 0.0, "imports": 0.0, "load": 0.0}),
])
def test_durations_from_marks(marks, expected):
    assert startup.durations(marks) == expected


def test_a_mark_without_the_parents_stamp_is_not_made(monkeypatch):
    monkeypatch.delenv(startup.SPAWNED_ENV, raising=False)
    monkeypatch.setattr(startup, "_marks", {})
    startup.mark("python")
    assert startup.marks() == {}
    monkeypatch.setenv(startup.SPAWNED_ENV, "not a time")
    startup.mark("python")
    assert startup.marks() == {}


def test_the_timing_line_says_what_the_starts_cost():
    line = timing_line({"wall_s": 95.0, "stages_s": {"builds": 61.0},
                        "workers": {"starts": 31, "start_s": 40.0, "imports_s": 70.0, "load_s": 185.0}})
    assert line.endswith("; 31 worker processes took 40 s to start, 1 min 10 s to import, 3 min 05 s to build or load")
    assert "worker" not in timing_line({"wall_s": 5.0, "stages_s": {}})
