"""Fresh worker processes for measurements that belong to a process: peak memory,
leaks, stress, concurrency.

Each measurement runs ``python -m <worker module>`` in a new interpreter (no
state inherited from the test process, as multiprocessing's "spawn"), sends it
a JSON request on stdin and reads one JSON report, the last line of its stdout.
A worker that exits with an error, is killed by a signal (a segfault, an
``abort()``), hangs past its timeout (it is killed) or prints no report raises
``WorkerFailed``, which names what happened and carries it as a typed
``WorkerFailure`` result; the caller records it and the run goes on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from qpbench.results import WorkerFailure
from qpbench.workload import Workload


class MeasurementError(RuntimeError):
    """A measurement could not be made; the message says why."""


class WorkerFailed(MeasurementError):
    """A worker process crashed, was killed, hung or printed no report."""

    def __init__(self, failure: WorkerFailure) -> None:
        super().__init__(f"{failure.measurement} worker for {failure.variant!r} {failure.reason}")
        self.failure = failure


def worker_env() -> dict[str, str]:
    """The parent's environment, with its import path (conftest dirs, user packages)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def last_line(text: str, default: str, limit: int | None = 300) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip()[:limit] if lines else default


def describe_exit(returncode: int, stderr: str) -> tuple[str, str]:
    """(failure kind, reason) for a worker that did not exit cleanly."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        # faulthandler prints e.g. "Fatal Python error: Aborted" / "Segmentation fault" first.
        fatal = next((ln.strip() for ln in stderr.splitlines() if ln.startswith("Fatal Python error")), "")
        return "signal", f"was killed by {name}" + (f" ({fatal})" if fatal else "")
    return "exit", f"exited with {returncode}: {last_line(stderr, 'no error output')}"


class WorkerProcess:
    """One running worker; ``report()`` waits for it and returns its JSON report."""

    def __init__(self, module: str, request: dict[str, Any], measurement: str, variant: str) -> None:
        self.measurement = measurement
        self.variant = variant
        self._out = tempfile.TemporaryFile(mode="w+")
        self._err = tempfile.TemporaryFile(mode="w+")
        # Files, not pipes: several workers run at once, and a full stderr pipe would block one.
        self.proc = subprocess.Popen(
            [sys.executable, "-X", "faulthandler", "-m", module],
            stdin=subprocess.PIPE, stdout=self._out, stderr=self._err, text=True,
            env=worker_env(), start_new_session=True,  # its own process group: a kill takes its children too
        )
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(request))
            self.proc.stdin.close()
        except BrokenPipeError:
            pass  # it died at once; report() says how

    def _fail(self, failure: str, reason: str, returncode: int | None) -> WorkerFailed:
        return WorkerFailed(WorkerFailure(self.variant, self.measurement, failure, reason, returncode))

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def report(self, timeout_s: float) -> dict[str, Any]:
        try:
            try:
                returncode = self.proc.wait(timeout=max(0.0, timeout_s))
            except subprocess.TimeoutExpired:
                self.kill()
                raise self._fail("timeout", f"did not finish within {timeout_s:.0f} s and was killed", None) from None
            self._out.seek(0)
            self._err.seek(0)
            stdout, stderr = self._out.read(), self._err.read()
        finally:
            self._out.close()
            self._err.close()
        if returncode != 0:
            kind, reason = describe_exit(returncode, stderr)
            raise self._fail(kind, reason, returncode)
        try:
            report = json.loads(last_line(stdout, "", limit=None))
        except json.JSONDecodeError:
            raise self._fail("no_report", f"printed no report: {stdout[-300:]!r}", returncode) from None
        if not isinstance(report, dict):
            raise self._fail("no_report", f"printed {type(report).__name__}, not a report object", returncode)
        return report


def run_worker(module: str, request: dict[str, Any], measurement: str, variant: str, timeout_s: float) -> dict[str, Any]:
    """Run one worker to completion; its report, or ``WorkerFailed``."""
    return WorkerProcess(module, request, measurement, variant).report(timeout_s)


def run_workers(
    module: str, requests: list[dict[str, Any]], measurement: str, variant: str, timeout_s: float
) -> list[dict[str, Any]]:
    """Run several workers at once; all reports, or ``WorkerFailed`` for the first that failed
    (the others are killed)."""
    workers = [WorkerProcess(module, r, measurement, variant) for r in requests]
    deadline = time.monotonic() + timeout_s
    try:
        return [w.report(deadline - time.monotonic()) for w in workers]
    finally:
        for w in workers:
            w.kill()


def variant_request(
    workload: Workload, folder: Path, variant: str, builder_path: str, options: dict[str, Any], batch_size: int,
    n_images: int | None = None,
) -> dict[str, Any]:
    """The common part of a worker request: the workload (with a small input file
    written under ``folder``), the variant's builder and its rebuild options."""
    from qpbench.data.dataset import save_labelled

    # A few images are enough inputs; the full evaluation set would inflate the peak.
    small = save_labelled(workload.data.first_images(max(1, n_images or batch_size)), Path(folder) / "inputs.npz")
    return {
        "workload": replace(workload.spec, dataset=str(small)).to_dict(),
        "variant": variant,
        "builder": builder_path,
        "options": options,
        "batch_size": batch_size,
    }
