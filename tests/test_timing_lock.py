"""The timing lock: an exclusive holder excludes shared holders across processes."""

from __future__ import annotations

import multiprocessing as mp
import time
from types import SimpleNamespace

import pytest

from qpbench import timing_lock

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
