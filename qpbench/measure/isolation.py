"""Worker processes: where every measurement's model code runs (see docs/engine.md).

A worker is ``python -X faulthandler -m <worker module>`` in a new interpreter
(no state inherited from the test process, as multiprocessing's "spawn"), in its
own process group, dying with this process (parent_watch.py). Every measurement
and the deployment package's re-validation start theirs here (``start_worker``);
the re-validation's is isolated (``python -I -B script``: no project code on its
path, no byte-code written). Two shapes share the failure handling:

- one-shot (``run_worker``): one JSON request on stdin, one JSON report, the
  last line of its stdout (peak memory, stress, concurrency);
- serving (``ServingWorker``): JSON requests and replies a line each, for as
  long as the variant is measured (latency, paired timing, throughput,
  predictions, LoadGen; see variant_worker.py).

A worker that exits with an error, is killed by a signal (a segfault, an
``abort()``), hangs past its time limit (its process group is killed) or prints
no report raises ``WorkerFailed``, which names what happened, carries the tail
of its stderr (faulthandler's traceback) and is a typed ``WorkerFailure``
result; the caller records it and the run goes on. Every worker still alive when
its caller is done, or when this process exits, is killed with its group.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import replace
from pathlib import Path
from typing import Any

from qpbench.measure.defaults import MEASURE
from qpbench.measure import startup
from qpbench.measure.parent_watch import PARENT_ENV
from qpbench.results import WorkerFailure
from qpbench.workload import Workload


class MeasurementError(RuntimeError):
    """A measurement could not be made; the message says why."""


class NotApplicable(MeasurementError):
    """The measurement does not apply to this variant here (no tool, another hint, no heavy
    operators): its test is skipped with this reason."""


class WorkerFailed(MeasurementError):
    """A worker process crashed, was killed, hung or printed no report."""

    def __init__(self, failure: WorkerFailure) -> None:
        super().__init__(f"{failure.measurement} worker for {failure.variant!r} {failure.reason}")
        self.failure = failure


def worker_env(isolated: bool = False) -> dict[str, str]:
    """The parent's environment, with its import path (conftest dirs, user packages); isolated,
    without Python's path settings (``-I`` ignores them anyway)."""
    env = {k: v for k, v in os.environ.items() if not (isolated and k.startswith("PYTHON"))}
    if not isolated:
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env[PARENT_ENV] = str(os.getpid())  # the worker dies with this process (parent_watch.py)
    env[startup.SPAWNED_ENV] = startup.spawn_stamp()  # its start-up marks count from here (startup.py)
    return env


def stderr_tail(text: str, lines: int = 12, limit: int = 1500) -> str:
    """What a worker's stderr says of its end: faulthandler's report from its first line (the
    fatal error, then the innermost frames), else the last lines."""
    kept = [ln.rstrip() for ln in text.strip().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(kept) if ln.startswith("Fatal Python error")), None)
    return "\n".join(kept[start:start + lines] if start is not None else kept[-lines:])[:limit]


def last_line(text: str, default: str, limit: int | None = 300) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip()[:limit] if lines else default


FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)')


def crash_site(stderr: str) -> str:
    """``file.py:LINE in FUNC`` of the innermost Python frame of faulthandler's traceback, or ''."""
    _, found, stack = stderr.partition("most recent call first")
    match = FRAME.search(stack) if found else None
    return f"{Path(match['file']).name}:{match['line']} in {match['func']}" if match else ""


def describe_exit(returncode: int, stderr: str) -> tuple[str, str]:
    """(failure kind, reason) for a worker that did not exit cleanly."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        # faulthandler prints e.g. "Fatal Python error: Aborted" / "Segmentation fault" first,
        # then the stack, most recent call first: its first frame is where it happened.
        fatal = next((ln.strip() for ln in stderr.splitlines() if ln.startswith("Fatal Python error")), "")
        where = crash_site(stderr)
        return "signal", f"was killed by {name}" + (f" ({fatal})" if fatal else "") + (f" at {where}" if where else "")
    return "exit", f"exited with {returncode}: {last_line(stderr, 'no error output')}"


_LIVE: weakref.WeakSet[subprocess.Popen] = weakref.WeakSet()


def kill_group(proc: subprocess.Popen) -> None:
    """Kill a worker and every process it started (its process group), and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    _LIVE.discard(proc)


@atexit.register
def kill_all_workers() -> None:
    """Workers are in their own sessions, so an interrupt of this process never reaches them:
    whatever way this process ends (Ctrl-C included), none outlives it."""
    for proc in list(_LIVE):
        kill_group(proc)


def start_worker(module: str, stdin: Any, stdout: Any, stderr: Any, isolated_in: str | None = None) -> subprocess.Popen:
    """``module`` in a new interpreter; with ``isolated_in`` (a private folder, its working
    directory and byte-code cache), ``module`` is a script path run isolated (``-I -B``)."""
    target = ["-m", module] if isolated_in is None else ["-I", "-B", "-X", f"pycache_prefix={isolated_in}", module]
    proc = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", *target],
        stdin=stdin, stdout=stdout, stderr=stderr, text=True, cwd=isolated_in,
        env=worker_env(isolated_in is not None), start_new_session=True,  # its own process group: a kill takes its children too
    )
    _LIVE.add(proc)
    startup.LEDGER.started(module)
    return proc


class WorkerProcess:
    """One running worker; ``report()`` waits for it and returns its JSON report."""

    def __init__(self, module: str, request: dict[str, Any], measurement: str, variant: str,
                 isolated_in: str | None = None) -> None:
        self.module = module
        self.measurement = measurement
        self.variant = variant
        self._out = tempfile.TemporaryFile(mode="w+")
        self._err = tempfile.TemporaryFile(mode="w+")
        # Files, not pipes: several workers run at once, and a full stderr pipe would block one.
        self.proc = start_worker(module, subprocess.PIPE, self._out, self._err, isolated_in)
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(request))
            self.proc.stdin.close()
        except BrokenPipeError:
            pass  # it died at once; report() says how

    def _fail(self, failure: str, reason: str, returncode: int | None, detail: str = "") -> WorkerFailed:
        return WorkerFailed(WorkerFailure(self.variant, self.measurement, failure, reason, returncode, detail))

    def kill(self) -> None:
        if self.proc.poll() is None:
            kill_group(self.proc)
        _LIVE.discard(self.proc)

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
        _LIVE.discard(self.proc)
        if returncode != 0:
            kind, reason = describe_exit(returncode, stderr)
            raise self._fail(kind, reason, returncode, stderr_tail(stderr))
        try:
            report = json.loads(last_line(stdout, "", limit=None))
        except json.JSONDecodeError:
            raise self._fail("no_report", f"printed no report: {stdout[-300:]!r}", returncode,
                             stderr_tail(stderr)) from None
        if not isinstance(report, dict):
            raise self._fail("no_report", f"printed {type(report).__name__}, not a report object", returncode)
        startup.LEDGER.ready(self.module, report.pop(startup.STARTUP_KEY, None))
        return report


def run_worker(module: str, request: dict[str, Any], measurement: str, variant: str, timeout_s: float,
               isolated_in: str | None = None) -> dict[str, Any]:
    """Run one worker to completion; its report, or ``WorkerFailed``. The worker is killed
    however this ends (an interrupt included)."""
    worker = WorkerProcess(module, request, measurement, variant, isolated_in)
    try:
        return worker.report(timeout_s)
    finally:
        worker.kill()


def run_workers(
    module: str, requests: list[dict[str, Any]], measurement: str, variant: str, timeout_s: float
) -> list[dict[str, Any]]:
    """Run several workers at once; all reports, or ``WorkerFailed`` for the first that failed,
    as soon as it fails (the others are killed then)."""
    workers: list[WorkerProcess] = []
    try:
        for r in requests:  # a sibling that fails to start takes the started ones down with it
            workers.append(WorkerProcess(module, r, measurement, variant))
        deadline = time.monotonic() + timeout_s
        reports: dict[int, dict[str, Any]] = {}
        while len(reports) < len(workers):
            for i, w in enumerate(workers):
                if i not in reports and w.proc.poll() is not None:
                    reports[i] = w.report(0)  # raises for a worker that failed
            if len(reports) < len(workers):
                if time.monotonic() > deadline:
                    next(w for i, w in enumerate(workers) if i not in reports).report(0)  # raises: timeout
                time.sleep(0.02)
        return [reports[i] for i in range(len(workers))]
    finally:
        for w in workers:
            w.kill()


class RequestFailed(MeasurementError):
    """A serving worker answered a request with an error (it is still alive): the
    exception's type name and message as the worker gave them."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


class ServingWorker:
    """A worker that answers requests a JSON line each until closed (see variant_worker.py).

    Replies come on the worker's stdout pipe; its stderr goes to a file, whose tail
    describes a crash. A request that kills the worker or outlives its time limit
    raises ``WorkerFailed`` (the worker is then dead: make a new one); one the worker
    answers with an error raises ``RequestFailed``.
    """

    def __init__(self, module: str, variant: str) -> None:
        self.module = module
        self.variant = variant
        self._err = tempfile.TemporaryFile(mode="w+")
        self.proc = start_worker(module, subprocess.PIPE, subprocess.PIPE, self._err)
        self._buffer = b""

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def request(self, request: dict[str, Any], measurement: str, timeout_s: float) -> Any:
        """The worker's answer to ``request`` (its ``result``), within ``timeout_s``."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it is dead; reading says how
        line = self._read_line(measurement, time.monotonic() + max(0.0, timeout_s), timeout_s)
        try:
            reply = json.loads(line)
        except json.JSONDecodeError:
            self.close(grace_s=0)
            raise self._failed(measurement, "no_report", f"answered with something that is not JSON: {line[:200]!r}",
                               None) from None
        if startup.STARTUP_KEY in reply:  # its first answer: how long it took to be ready
            startup.LEDGER.ready(self.module, reply[startup.STARTUP_KEY])
        if not reply.get("ok"):
            raise RequestFailed(str(reply.get("type", "Error")), str(reply.get("message", "")))
        return reply.get("result")

    def _read_line(self, measurement: str, deadline: float, timeout_s: float) -> str:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(0.0, left))[0] if left > 0 else []
            if not ready:
                self.close(grace_s=0)
                raise self._failed(measurement, "timeout", f"did not finish within {timeout_s:.0f} s and was killed",
                                   None)
            chunk = os.read(fd, 1 << 20)
            if not chunk:  # the worker is gone
                returncode = self.proc.wait()
                _LIVE.discard(self.proc)
                kind, reason = describe_exit(returncode, self._stderr()) if returncode else (
                    "no_report", "exited without answering")
                raise self._failed(measurement, kind, reason, returncode)
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def _stderr(self) -> str:
        self._err.seek(0)
        return self._err.read()

    def _failed(self, measurement: str, failure: str, reason: str, returncode: int | None) -> WorkerFailed:
        return WorkerFailed(WorkerFailure(self.variant, measurement, failure, reason, returncode,
                                          stderr_tail(self._stderr())))

    def close(self, grace_s: float = MEASURE.worker_exit_grace_s) -> None:
        """Stop the worker; its stderr stays readable. A live worker is asked to exit and given
        ``grace_s`` to do so, so that what it made is undone as its objects go (an AOTInductor
        package unpacks 27 MB into the temp folder and removes it only then); whatever is still
        running after that, its process group included, is killed. ``grace_s=0`` kills at once
        (a worker past its time limit)."""
        if self.proc.poll() is None and grace_s > 0:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "exit"}) + "\n")
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass  # it is dead already
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        kill_group(self.proc)  # and whatever of its group is left; reaps it
        _LIVE.discard(self.proc)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


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


def serve_without_torch(request: dict[str, Any], workload: Workload, folder: Path, options: dict[str, Any],
                        n_samples: int) -> None:
    """For an ONNX Runtime or OpenVINO artifact: the worker serves it without torch, on the first
    ``n_samples`` inputs preprocessed here (preprocessing uses torch)."""
    import numpy as np

    from qpbench.runtime.backends import TORCH_FREE

    if options.get("runtime") not in TORCH_FREE:
        return
    image, params = workload.inputs(np.arange(n_samples) % workload.data.n_samples)
    inputs = Path(folder) / "preprocessed.npz"
    np.savez(inputs, image=image.numpy(), params=params.numpy())
    request.update(runtime=options["runtime"], inputs=str(inputs))
