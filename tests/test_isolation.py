"""Worker processes' failure paths, with small worker modules (no torch): every way a worker
can end is named, and no worker outlives its caller (qpbench/measure/isolation.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from qpbench.measure.isolation import RequestFailed, ServingWorker, WorkerFailed, run_worker, run_workers

WORKERS = {
    "silent_worker": "import sys\nsys.stdin.read()\nprint('no json here')\n",
    "segfault_worker": "import ctypes, sys\nsys.stdin.read()\n\ndef crash():\n    ctypes.string_at(0)\n\ncrash()\n",
    "import_hang_worker": "import time\ntime.sleep(3600)\n",
    "measure_hang_worker": (
        "import json, os, sys, time\nrequest = json.loads(sys.stdin.read())\n"
        "open(request['pidfile'], 'w').write(str(os.getpid()))\ntime.sleep(3600)\n"),
    "failing_worker": (
        "import json, os, sys, time\nrequest = json.loads(sys.stdin.read())\n"
        "while request.get('wait_for') and not os.path.exists(request['wait_for']):\n    time.sleep(0.05)\n"
        "sys.exit('bad request')\n"),
    "echo_server": textwrap.dedent("""
        import json, os, sys
        from qpbench.measure.variant_worker import private_stdout

        answers = private_stdout()
        for line in sys.stdin:
            request = json.loads(line)
            print("chatter from the model")  # must not garble the answers
            os.write(1, b"and from C\\n")
            if request["op"] == "crash":
                os.abort()
            if request["op"] == "hang":
                import time
                time.sleep(3600)
            ok = request["op"] != "fail"
            answer = {"ok": True, "result": request["x"] * 2} if ok else {"ok": False, "type": "ValueError",
                                                                          "message": "no"}
            answers.write(json.dumps(answer) + "\\n")
            answers.flush()
    """),
    # Makes a file, as an AOTInductor package unpacks itself, and removes it when it exits; "stubborn"
    # never exits when asked.
    "tidy_server": textwrap.dedent("""
        import json, os, sys, time
        from qpbench.measure.variant_worker import private_stdout

        answers = private_stdout()
        made = []
        try:
            for line in sys.stdin:
                request = json.loads(line)
                if request["op"] == "exit":
                    break
                made.append(request["make"])
                open(made[-1], "w").close()
                answers.write(json.dumps({"ok": True, "result": os.getpid()}) + "\\n")
                answers.flush()
            while made and made[-1].endswith("stubborn"):
                time.sleep(1)
        finally:
            for path in made:
                os.remove(path)
    """),
}


@pytest.fixture
def workers(tmp_path, monkeypatch):
    for name, src in WORKERS.items():
        (tmp_path / f"{name}.py").write_text(src)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def test_a_worker_that_prints_no_report_is_named(workers):
    with pytest.raises(WorkerFailed) as exc:
        run_worker("silent_worker", {}, "memory", "v", timeout_s=60)
    assert exc.value.failure.failure == "no_report" and "no json here" in exc.value.failure.reason


def test_a_segfault_is_a_signal_with_its_crash_site(workers):
    with pytest.raises(WorkerFailed) as exc:
        run_worker("segfault_worker", {}, "stress", "v", timeout_s=60)
    failure = exc.value.failure
    assert failure.failure == "signal" and "SIGSEGV" in failure.reason
    assert "at __init__.py:" in failure.reason and "in string_at" in failure.reason  # ctypes' frame, innermost
    assert failure.detail.startswith("Fatal Python error: Segmentation fault")
    assert 'segfault_worker.py", line 5 in crash' in failure.detail


@pytest.mark.parametrize("module", ["import_hang_worker", "measure_hang_worker"])
def test_a_hang_is_killed_while_importing_or_while_measuring(workers, tmp_path, module):
    pidfile = tmp_path / "pid"
    with pytest.raises(WorkerFailed) as exc:
        run_worker(module, {"pidfile": str(pidfile)}, "memory", "v", timeout_s=3)
    assert exc.value.failure.failure == "timeout" and "killed" in exc.value.failure.reason
    if pidfile.exists():
        assert not alive(int(pidfile.read_text()))


def test_when_one_sibling_fails_the_others_are_killed(workers, tmp_path):
    pidfile = tmp_path / "pid"
    requests = [{"pidfile": str(pidfile)}, {"wait_for": str(pidfile)}]  # it fails once its sibling runs
    # run_workers takes one module: one that hangs or fails by its request.
    (workers / "either_worker.py").write_text(
        "import json, sys, runpy\nrequest = json.loads(sys.stdin.read())\n"
        "sys.stdin = __import__('io').StringIO(json.dumps(request))\n"
        "runpy.run_module('measure_hang_worker' if 'pidfile' in request else 'failing_worker', run_name='__main__')\n")
    with pytest.raises(WorkerFailed) as exc:
        run_workers("either_worker", requests, "concurrency", "v", timeout_s=600)
    # Told when the sibling failed, not at the time limit, and the hanging one is gone.
    assert exc.value.failure.failure == "exit" and "bad request" in exc.value.failure.reason
    assert not alive(int(pidfile.read_text()))


def test_a_serving_worker_answers_and_survives_an_error(workers):
    worker = ServingWorker("echo_server", "v")
    try:
        assert worker.request({"op": "double", "x": 21}, "latency", 60) == 42
        with pytest.raises(RequestFailed, match="ValueError: no"):
            worker.request({"op": "fail", "x": 0}, "latency", 60)
        assert worker.request({"op": "double", "x": 2}, "latency", 60) == 4  # still alive
    finally:
        worker.close()


def test_a_serving_worker_asked_to_close_exits_and_undoes_what_it_made(workers, tmp_path):
    made = tmp_path / "unpacked"
    worker = ServingWorker("tidy_server", "v")
    worker.request({"op": "make", "make": str(made)}, "latency", 60)
    assert made.exists()
    worker.close()
    assert worker.proc.returncode == 0 and not made.exists()  # it exited: not killed


def test_a_serving_worker_that_will_not_exit_is_killed_after_its_grace(workers, tmp_path):
    made = tmp_path / "stubborn"
    worker = ServingWorker("tidy_server", "v")
    pid = worker.request({"op": "make", "make": str(made)}, "latency", 60)
    worker.close(grace_s=0.5)
    assert worker.proc.returncode == -signal.SIGKILL and not alive(pid)
    assert made.exists()  # killed: nothing of its own ran


@pytest.mark.parametrize(("op", "failure"), [("crash", "signal"), ("hang", "timeout")])
def test_a_serving_worker_that_dies_or_hangs_fails_that_request(workers, op, failure):
    worker = ServingWorker("echo_server", "v")
    try:
        with pytest.raises(WorkerFailed) as exc:
            worker.request({"op": op, "x": 0}, "throughput", 3)
        assert exc.value.failure.failure == failure and exc.value.failure.measurement == "throughput"
        assert not worker.alive
    finally:
        worker.close()


def interruptible() -> None:
    """In the child before exec: Ctrl-C's default back, which a harness that started this run in
    the background (SIGINT ignored, and inherited) took away; Python then turns it into
    KeyboardInterrupt as it does for a person's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_an_interrupted_run_leaves_no_worker(workers, tmp_path):
    """Ctrl-C of the process that started a worker: the worker (in its own session, so the
    interrupt never reaches it) is killed with it."""
    pidfile = tmp_path / "pid"
    script = tmp_path / "caller.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(workers)!r})
        from qpbench.measure.isolation import run_worker
        run_worker("measure_hang_worker", {{"pidfile": {str(pidfile)!r}}}, "stress", "v", timeout_s=3600)
    """))
    caller = subprocess.Popen([sys.executable, str(script)], stderr=subprocess.PIPE, preexec_fn=interruptible)
    deadline = time.monotonic() + 60
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)
    worker_pid = int(pidfile.read_text())
    caller.send_signal(signal.SIGINT)
    caller.wait(timeout=60)
    deadline = time.monotonic() + 10
    while alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(worker_pid), "the worker outlived the interrupted caller"
