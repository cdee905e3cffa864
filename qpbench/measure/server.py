"""MLPerf Inference load scenarios, driven by MLPerf LoadGen (``mlperf_loadgen``).

- SingleStream: one query at a time, the next when the last completes; metric p90 latency.
- Offline: every sample at once; metric samples per second.
- Server: queries arrive as a Poisson process at a target QPS; the run is VALID
  when the p99 latency is within the bound (LoadGen's judgement, read from
  its ``mlperf_log_summary.txt``). ``find_max_server_qps`` bisects between 0 and the
  batch-1 capacity for the highest QPS that meets the bound, testing the criterion's target
  rate itself where that decides it.

The system under test is the variant in this process: the calling thread takes
queries off a queue (so LoadGen's issuing thread never blocks and queueing
delay counts in the latency), runs them, and reports them complete, while
LoadGen's test runs in a thread of its own. The model is called from the same
thread as in the latency test: a torch model called from a second thread ran
35-50% slower (its OpenMP team is another one), which LoadGen's figures then
reported as the model's. LoadGen writes its logs under the run's results
folder, never the working directory.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qpbench.measure.isolation import MeasurementError
from qpbench.results import LoadGenResult, ServerSearchResult

SCENARIOS = ("SingleStream", "Offline", "Server")


@dataclass(frozen=True)
class LoadGenRun:
    """How long LoadGen runs each test. LoadGen's own defaults (10 min, 270k queries for
    Server) are for submissions; readiness checks use short, explicit minimums."""

    min_duration_s: float = 2.0
    min_query_count: int = 64
    max_duration_s: float = 60.0

    def max_duration_for(self, target_qps: float | None) -> float:
        """The test's time limit: ``max_duration_s``, or longer where a Server rate needs more to
        issue ``min_query_count`` queries. Under a limit shorter than that, LoadGen stops the test
        before its minimum and calls it invalid whatever the latency: the full profile's 500
        queries at 7.9 QPS stopped at 469 after 60 s, so its search could find no rate below 8.3."""
        if not target_qps or target_qps <= 0:
            return self.max_duration_s
        return max(self.max_duration_s, 1.25 * self.min_query_count / target_qps + self.min_duration_s)


def import_loadgen() -> Any:
    try:
        import mlperf_loadgen
    except ImportError as exc:
        raise MeasurementError(
            f"MLPerf LoadGen is not installed ({exc}): pip install 'qpbench[server]' (mlcommons-loadgen)"
        ) from None
    return mlperf_loadgen


def parse_summary(text: str) -> dict[str, Any]:
    """The fields of an ``mlperf_log_summary.txt`` that the results need."""
    valid = re.search(r"Result is\s*:\s*(\w+)", text)
    if not valid:
        raise MeasurementError("LoadGen summary has no 'Result is' line: the test did not complete")
    latency = {}
    for pct, ns in re.findall(r"^(\d+(?:\.\d+)?) percentile latency \(ns\)\s*:\s*(\d+)", text, re.M):
        latency[f"p{float(pct):g}"] = int(ns) / 1e6
    for name, key in (("Min", "min"), ("Max", "max"), ("Mean", "mean")):
        m = re.search(rf"^{name} latency \(ns\)\s*:\s*(\d+)", text, re.M)
        if m:
            latency[key] = int(m.group(1)) / 1e6
    rate = None
    for label in ("Completed samples per second", "Samples per second"):
        m = re.search(rf"^{label}\s*:\s*([0-9.eE+-]+)", text, re.M)
        if m:
            rate = float(m.group(1))
            break
    checks = {name.strip(): answer.lower() == "yes"
              for name, answer in re.findall(r"^\s*([A-Za-z ]+satisfied)\s*:\s*(\w+)", text, re.M)}
    # Every check but early stopping: the scenario's latency or rate constraint, min duration, min queries.
    constraints = [ok for name, ok in checks.items() if not name.lower().startswith("early stopping")]
    reasons = tuple(f"{name}: no" for name, ok in checks.items() if not ok)
    return {"valid": valid.group(1) == "VALID", "latency_ms": latency, "samples_per_s": rate or 0.0,
            "invalid_reasons": reasons, "constraints_met": bool(constraints) and all(constraints)}


class QueueSUT:
    """Runs queued LoadGen samples, up to ``max_batch`` at a time, on the thread that calls
    ``serve`` (until ``stop``)."""

    def __init__(self, lg: Any, run_batch: Callable[[list[int]], object], max_batch: int) -> None:
        self.lg = lg
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.queue: queue.Queue = queue.Queue()
        self.queries = 0
        self.error: BaseException | None = None

    def issue(self, samples: list[Any]) -> None:
        for s in samples:
            self.queue.put(s)

    def flush(self) -> None:
        pass

    def serve(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self.queue.put(None)
                    break
                batch.append(nxt)
            try:
                self.run_batch([s.index for s in batch])
            except BaseException as exc:  # reported after the test; LoadGen still needs completions
                self.error = self.error or exc
            self.queries += len(batch)
            self.lg.QuerySamplesComplete([self.lg.QuerySampleResponse(s.id, 0, 0) for s in batch])

    def stop(self) -> None:
        self.queue.put(None)


def serve_during(sut_impl: QueueSUT, test: Callable[[], None]) -> None:
    """Run LoadGen's ``test`` in a thread of its own while this thread serves its queries;
    returns when the test has ended (re-raising what it raised)."""
    raised: list[BaseException] = []

    def run_test() -> None:
        try:
            test()
        except BaseException as exc:  # re-raised in the serving thread
            raised.append(exc)
        finally:
            sut_impl.stop()

    runner = threading.Thread(target=run_test, name="loadgen-test", daemon=True)
    runner.start()
    sut_impl.serve()
    runner.join()
    if raised:
        raise raised[0]


def run_scenario(
    run_batch: Callable[[list[int]], object],
    n_samples: int,
    scenario: str,
    variant: str,
    log_dir: Path,
    run: LoadGenRun,
    expected_latency_s: float,
    target_qps: float | None = None,
    latency_bound_ms: float | None = None,
    max_batch: int = 1,
) -> LoadGenResult:
    """One LoadGen performance test of ``run_batch`` (sample indices -> predictions).
    ``expected_latency_s`` is one query's time: a single sample's (SingleStream, Server), or one
    batch of ``max_batch``'s (Offline, whose expected rate is then ``max_batch`` per that time)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}: choose from {SCENARIOS}")
    if scenario == "Server" and (not target_qps or not latency_bound_ms):
        raise ValueError("the Server scenario needs a target QPS and a latency bound")
    lg = import_loadgen()
    settings = lg.TestSettings()
    settings.scenario = getattr(lg.TestScenario, scenario)
    settings.mode = lg.TestMode.PerformanceOnly
    settings.min_duration_ms = int(run.min_duration_s * 1000)
    settings.max_duration_ms = int(run.max_duration_for(target_qps if scenario == "Server" else None) * 1000)
    settings.min_query_count = run.min_query_count
    expected_ns = max(1, int(expected_latency_s * 1e9))
    if scenario == "SingleStream":
        settings.single_stream_expected_latency_ns = expected_ns
    elif scenario == "Offline":
        settings.offline_expected_qps = max(1.0, max_batch / expected_latency_s)
    else:
        settings.server_target_qps = float(target_qps)
        settings.server_target_latency_ns = int(latency_bound_ms * 1e6)
        settings.server_target_latency_percentile = 0.99
    log_dir.mkdir(parents=True, exist_ok=True)
    log = lg.LogSettings()
    log.log_output.outdir = str(log_dir)
    log.log_output.copy_summary_to_stdout = False
    log.enable_trace = False
    sut_impl = QueueSUT(lg, run_batch, max_batch if scenario == "Offline" else 1)
    sut = lg.ConstructSUT(sut_impl.issue, sut_impl.flush)
    qsl = lg.ConstructQSL(n_samples, n_samples, lambda _: None, lambda _: None)
    try:
        serve_during(sut_impl, lambda: lg.StartTestWithLogSettings(sut, qsl, settings, log))
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
    if sut_impl.error is not None:
        raise MeasurementError(f"{variant} failed while serving LoadGen queries: {sut_impl.error!r}")
    summary_path = log_dir / "mlperf_log_summary.txt"
    if not summary_path.exists():
        raise MeasurementError(f"LoadGen wrote no summary under {log_dir}")
    parsed = parse_summary(summary_path.read_text())
    return LoadGenResult(
        variant=variant, scenario=scenario, valid=parsed["valid"], samples_per_s=parsed["samples_per_s"],
        latency_ms=parsed["latency_ms"], queries=sut_impl.queries, target_qps=target_qps,
        latency_bound_ms=latency_bound_ms, log_dir=str(log_dir), invalid_reasons=parsed["invalid_reasons"],
        constraints_met=parsed["constraints_met"],
    )


def find_max_server_qps(
    test: Callable[[float], LoadGenResult], upper_qps: float, steps: int, latency_bound_ms: float, variant: str,
    target_qps: float | None = None,
) -> tuple[ServerSearchResult, list[LoadGenResult]]:
    """Bisect (0, upper_qps] for the highest QPS whose test meets LoadGen's constraints, in ``steps`` tests.

    A rate passes when LoadGen finds its p99 latency within the bound over the
    minimum duration and query count ("Performance constraints satisfied").
    LoadGen's overall VALID also needs its early-stopping rule, which at p99
    wants about 460 queries however fast the system is; short runs cannot meet
    it, so it is recorded on each test (``valid``) but does not steer the search.

    With a ``target_qps`` (the ``server_qps`` criterion's), a step whose midpoint would fall below
    the target while the target is still undecided (inside the bracket) tests the target itself,
    so whether the criterion is met is what LoadGen said at that rate, never a guess between two
    rates around it. A midpoint at or above the target is tested as it is: where it passes, the
    criterion is met at a higher rate, and a fast variant never spends a slow test at the target
    (64 queries at 10 QPS take 6.4 s; at 70 QPS, 1 s).
    """
    if upper_qps <= 0 or steps < 1:
        raise ValueError(f"need upper_qps > 0 and steps >= 1, got {upper_qps} and {steps}")
    lo, hi = 0.0, float(upper_qps)
    runs: list[LoadGenResult] = []
    for _ in range(steps):
        qps = (lo + hi) / 2
        if target_qps is not None and lo < target_qps < hi and qps < target_qps:
            qps = target_qps
        result = test(qps)
        runs.append(result)
        if result.constraints_met:
            lo = qps
        else:
            hi = qps
    best = max((r.target_qps or 0.0 for r in runs if r.constraints_met), default=0.0)
    search = ServerSearchResult(variant, latency_bound_ms, best,
                                tuple(r.target_qps or 0.0 for r in runs), tuple(r.constraints_met for r in runs))
    return search, runs
