"""One launcher starts every worker (isolation.start_worker): the measurements' and the deployment
package's re-validation, which runs isolated (``-I -B``, in its own folder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qpbench.deploy import revalidate
from qpbench.measure import isolation
from qpbench.results import WorkerFailure

SCRIPT = """
import json, os, sys
request = json.loads(sys.stdin.read())
print(json.dumps({"isolated": sys.flags.isolated, "no_bytecode": sys.flags.dont_write_bytecode,
                  "faulthandler": sys.flags.dev_mode or __import__("faulthandler").is_enabled(),
                  "cwd": os.getcwd(), "pythonpath": os.environ.get("PYTHONPATH"), "echo": request["echo"],
                  "own_group": os.getpgrp() == os.getpid()}))
"""


def test_an_isolated_worker_runs_with_no_path_settings_in_its_own_folder(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(SCRIPT)
    folder = tmp_path / "private"
    folder.mkdir()
    report = isolation.run_worker(str(script), {"echo": 7}, "check", "none", 60, isolated_in=str(folder))
    assert report["isolated"] == 1 and report["no_bytecode"] == 1 and report["faulthandler"]
    assert report["cwd"] == str(folder) and report["pythonpath"] is None and report["own_group"]
    assert report["echo"] == 7


def test_a_worker_that_fails_is_named_the_same_way_isolated_or_not(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text("import sys\nsys.exit('boom')\n")
    with pytest.raises(isolation.WorkerFailed, match="exited with 1: boom"):
        isolation.run_worker(str(script), {}, "check", "none", 60, isolated_in=str(tmp_path))


def test_the_revalidation_starts_its_worker_through_the_launcher(monkeypatch, tmp_path: Path) -> None:
    calls = []

    def fake_run_worker(module, request, measurement, variant, timeout_s, isolated_in=None):
        calls.append((module, request, measurement, isolated_in))
        raise isolation.WorkerFailed(WorkerFailure(variant, measurement, "timeout",
                                                   "did not finish within 5 s and was killed"))

    monkeypatch.setattr(isolation, "run_worker", fake_run_worker)
    with pytest.raises(revalidate.RevalidationError, match="re-validation process did not finish within 5 s"):
        revalidate.run_worker(tmp_path / "pkg", tmp_path / "samples.npz", 3, 5)
    (module, request, measurement, isolated_in), = calls
    assert module == str(revalidate.WORKER) and measurement == "re-validation" and isolated_in
    assert json.loads(json.dumps(request)) == {"package": str(tmp_path / "pkg"), "samples": str(tmp_path / "samples.npz"),
                                               "latency_calls": 3, "batch_size": 16}
