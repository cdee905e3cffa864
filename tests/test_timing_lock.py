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


def hold(uid: str, exclusive: bool, seconds: float, log, start) -> None:
    start.wait()
    with timing_lock.held(worker_config(uid), exclusive):
        log.put(("in", exclusive, time.monotonic()))
        time.sleep(seconds)
        log.put(("out", exclusive, time.monotonic()))


def intervals(log, n):
    events = [log.get(timeout=20) for _ in range(2 * n)]
    ins = [e for e in events if e[0] == "in"]
    outs = [e for e in events if e[0] == "out"]
    return [(i[1], i[2], o[2]) for i, o in zip(sorted(ins, key=lambda e: e[2]), sorted(outs, key=lambda e: e[2]))]


def run(uid: str, kinds: list[bool], seconds: float = 0.3):
    ctx = mp.get_context("fork")
    log, start = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=hold, args=(uid, k, seconds, log, start)) for k in kinds]
    for p in procs:
        p.start()
    start.set()
    out = intervals(log, len(kinds))
    for p in procs:
        p.join(10)
    return out


def test_shared_holders_overlap_and_an_exclusive_one_runs_alone(tmp_path):
    uid = f"test-{time.monotonic_ns()}"
    shared = run(uid, [False, False])
    assert shared[1][1] < shared[0][2]  # the second shared holder entered before the first left
    mixed = run(uid, [True, False, False])
    spans = sorted(mixed, key=lambda s: s[1])
    for excl, start, end in spans:
        if excl:
            others = [s for s in spans if not s[0]]
            assert all(o[2] <= start or o[1] >= end for o in others)  # nobody inside the exclusive span


def test_outside_xdist_there_is_no_lock():
    config = SimpleNamespace(getoption=lambda name, default=None: default)
    assert timing_lock.lock_path(config) is None and not timing_lock.times_itself(config)
    with timing_lock.held(config, exclusive=True):
        pass


def test_an_explicit_benchmark_disable_is_respected():
    config = worker_config("x")
    config.getoption = lambda name, default=None: True if name == "benchmark_disable" else default
    assert not timing_lock.times_itself(config)
