"""The timing lock: an exclusive holder excludes shared holders across processes."""

from __future__ import annotations

import multiprocessing as mp
import shutil
import time
from types import SimpleNamespace

import pytest

from qpbench.run import timing_lock

pytestmark = pytest.mark.skipif(not timing_lock.supported(), reason="needs fcntl")


def worker_config(uid: str) -> SimpleNamespace:
    return SimpleNamespace(workerinput={"testrunuid": uid, "workerid": "gw0"},
                           getoption=lambda name, default=None: default)


def hold(uid: str, exclusive: bool, state, start, overlap) -> None:
    """Hold the lock and record who else is inside; no clock is read. ``overlap`` (a barrier of
    the shared holders) only passes when all of them are inside at once."""
    start.wait()
    with timing_lock.held(worker_config(uid), exclusive):
        with state.get_lock():
            state[0] += 1  # holders inside
            state[1] += exclusive  # exclusive holders inside
            if state[0] > 1 and state[1] > 0:
                state[2] += 1  # somebody shared the lock with an exclusive holder
        if overlap is not None and not exclusive:
            overlap.wait(timeout=60)  # raises (non-zero exit) if the others cannot get in
        else:
            time.sleep(0.05)  # a chance for others to get in wrongly: nothing is timed
        with state.get_lock():
            state[0] -= 1
            state[1] -= exclusive


def run(uid: str, kinds: list[bool], overlap: bool) -> list[int]:
    """Start one holder per kind (True: exclusive) at once; the exit codes and the violations."""
    ctx = mp.get_context("fork")
    state, start = ctx.Array("i", 3), ctx.Event()
    barrier = ctx.Barrier(kinds.count(False)) if overlap else None
    procs = [ctx.Process(target=hold, args=(uid, k, state, start, barrier)) for k in kinds]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
    return [p.exitcode for p in procs] + [state[2]]


def test_shared_holders_overlap_and_an_exclusive_one_runs_alone(tmp_path):
    uid = f"test-{time.monotonic_ns()}"
    assert run(uid, [False, False], overlap=True) == [0, 0, 0]  # both shared holders were inside at once
    for _ in range(3):
        assert run(uid, [True, False, False, True], overlap=False) == [0, 0, 0, 0, 0]  # nobody beside an exclusive


def test_outside_xdist_there_is_no_lock():
    config = SimpleNamespace(getoption=lambda name, default=None: default)
    assert timing_lock.lock_path(config) is None and not timing_lock.times_itself(config)
    with timing_lock.held(config, exclusive=True):
        pass


def test_an_explicit_benchmark_disable_is_respected():
    config = worker_config("x")
    config.getoption = lambda name, default=None: True if name == "benchmark_disable" else default
    assert not timing_lock.times_itself(config)


def test_the_lock_file_is_gone_after_its_holders_leave():
    uid = f"gone-{time.monotonic_ns()}"
    path = timing_lock.lock_path(worker_config(uid))
    run(uid, [False, False], overlap=True)
    run(uid, [True, False], overlap=False)
    assert not path.exists()
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_a_symlink_planted_at_the_lock_path_is_refused(tmp_path):
    uid = f"link-{time.monotonic_ns()}"
    path = timing_lock.lock_path(worker_config(uid))
    path.parent.mkdir(mode=0o700, exist_ok=True)
    victim = tmp_path / "victim"
    victim.write_text("keep")
    path.symlink_to(victim)
    try:
        with pytest.raises(timing_lock.TimingLockError, match="symbolic link"), \
                timing_lock.held(worker_config(uid), exclusive=True):
            pass
    finally:
        path.unlink()
    assert victim.read_text() == "keep"


def test_a_lock_directory_open_to_others_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(timing_lock.tempfile, "gettempdir", lambda: str(tmp_path))
    config = worker_config("open")
    timing_lock.lock_path(config).parent.mkdir(mode=0o777)
    timing_lock.lock_path(config).parent.chmod(0o777)
    with pytest.raises(timing_lock.TimingLockError, match="closed to others"), \
            timing_lock.held(config, exclusive=False):
        pass


def test_no_predictable_stand_in_name_without_a_run_id():
    for uid in (None, "", "../x", "a/b"):
        config = SimpleNamespace(workerinput={"testrunuid": uid} if uid is not None else {})
        with pytest.raises(timing_lock.TimingLockError, match="run id"):
            timing_lock.lock_path(config)


@pytest.mark.parametrize("module", ["stress", "concurrency", "server", "latency", "speed", "throughput"])
def test_long_run_and_timing_tests_hold_the_lock_exclusively(module):
    import importlib

    suite = importlib.import_module(f"qpbench.suite.{module}")
    tests = [f for name, f in vars(suite).items() if name.startswith("test_") and callable(f)]
    assert tests and all(any(m.name == timing_lock.TIMING_MARKER for m in getattr(f, "pytestmark", []))
                         for f in tests)


@pytest.mark.slow
def test_no_lock_file_is_left_after_a_run_under_xdist(pytester, tiny_files):
    """The real bench tests on the tiny model under -n 2: a timing test and a shared one held the lock."""
    from tests.test_plugin import BENCH, TINY

    for src in [BENCH / "test_throughput.py", BENCH / "test_accuracy.py", *tiny_files.values()]:
        shutil.copy(src, pytester.path / src.name)
    pytester.syspathinsert()
    uid = f"leftover{time.monotonic_ns()}"
    path = timing_lock.lock_path(worker_config(uid))
    result = pytester.runpytest(*TINY, "-n", "2", "--qp-variants=eager", f"--testrunuid={uid}")
    assert result.ret == 0 and result.parseoutcomes()["passed"] == 2
    assert path.parent.is_dir() and not path.exists()
