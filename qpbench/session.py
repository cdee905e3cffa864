"""The run's state and its finishing pipeline.

One QPSession per pytest run, built in ``pytest_configure`` and kept in
``config.stash``. During the run it holds the settings, the workload, the
variant cache and the records the tests hand it. At the end it finishes in one
direction: score, judge the score gate, build the record, compare it with the
baseline (the regression step), let ``pytest_qpbench_update_record`` add to it,
write it and the reports, save the baseline, and only then tell
``pytest_qpbench_verdict``. Under pytest-xdist only the controller finishes,
from the workers' records.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from qpbench import decision, scoring
from qpbench.compare.gate import GateResult, GateSummary
from qpbench.compare.regression import RegressionSettings, RegressionStep
from qpbench.config import ScoringConfig, Settings
from qpbench.verdict import Verdict
from qpbench.errors import ConfigError, WorkloadError
from qpbench.measure.engine import Engine, EngineSettings, live_workers
from qpbench.record import HostRun, RunRecord
from qpbench.render.terminal import readiness_lines
from qpbench.results import Result
from qpbench.run import finish, journal, screening
from qpbench.run.collect import Collector
from qpbench.run import xdist as xdist_transport
from qpbench.run.output import write_record
from qpbench.run.output import write_reports as write_report_files
from qpbench.run.plan import Planner, history_path
from qpbench.run.predictions import Predictions
from qpbench.run.selection import selected_errors
from qpbench.variants import REFERENCE, Variant, VariantCache, VariantRegistry
from qpbench.variants.build_cache import build_cache_dir
from qpbench.workload import Workload, load_workload, resolve_spec


@dataclass(frozen=True)
class SummarySection:
    """A titled block of the terminal summary."""

    title: str
    lines: list[str]
    regressions_red: bool = False  # colour the comparison's "regressed" rows too


class QPSession:
    def __init__(self, config: Any, settings: Settings, regression: RegressionStep | None = None) -> None:
        self.config = config
        self.settings = settings
        self.is_worker = hasattr(config, "workerinput")
        self.regression = regression or RegressionStep(RegressionSettings(), settings.results_dir,
                                                       settings.results_dir, self.is_worker)
        self._workload: Workload | None = None
        self._registry: VariantRegistry | None = None
        self._cache: VariantCache | None = None
        self._engine: Engine | None = None
        workerinput = getattr(config, "workerinput", None) or {}
        self.run_id: str = workerinput.get("qp_run_id") or journal.new_run_id()
        self.collected = Collector(settings.results_dir, self.run_id,
                                   self.run_id + (f".{workerinput['workerid']}" if "workerid" in workerinput else ""),
                                   self.journal_header)
        self.records = self.collected.records  # the results handed in (the suite reads them)
        self.errors = self.collected.errors
        self.hosts = self.collected.hosts
        self.predictions = Predictions(lambda: self.engine, self.workload,
                                       lambda: self.settings.eval_images or self.settings.profile.eval_images)
        self._fingerprint: dict[str, Any] | None = None
        self._screen: screening.Screen | None = None
        self._scoring_resolved = False
        self.planner = Planner(self.history_path, build_cache_dir(settings.build_cache) is not None and not settings.rebuild,
                               settings.budget_min)
        # What finishing produced:
        self.finished: finish.Finished | None = None
        self.verdict: Verdict | None = None
        self.host_verdicts: dict[str, HostRun] = {}
        self.matrix: dict[str, Any] | None = None
        self.gate = GateSummary()
        self.json_path: Path | None = None
        self.written_record: RunRecord | None = None  # the run record as written
        self.score_gate = GateResult()
        self.report_paths: dict[str, Path] = {}
        self.report_error: str | None = None

    # Setup ---------------------------------------------------------------

    @property
    def registry(self) -> VariantRegistry:
        if self._registry is None:
            self._registry = VariantRegistry()
            self.config.hook.pytest_qpbench_register_variants(registry=self._registry)
        return self._registry

    @property
    def cache(self) -> VariantCache:
        if self._cache is None:
            self._cache = VariantCache(
                self.registry, self.workload, self.settings.profile.sweep_rounds,
                artifact_dir=Path(self.settings.results_dir) / "artifacts",
                calibration_batches=self.settings.profile.calibration_batches,
            )
        return self._cache

    @property
    def engine(self) -> Engine:
        """Where the measurements run: a worker process per variant (see docs/engine.md)."""
        if self._engine is None:
            live = live_workers(len(self.selected_variants()), psutil.virtual_memory().available / 2**20)
            self._engine = Engine(self.registry, self.workload, EngineSettings(
                self.settings.profile, Path(self.settings.results_dir) / "artifacts", REFERENCE,
                build_cache=build_cache_dir(self.settings.build_cache), rebuild=self.settings.rebuild), self.record, live)
        return self._engine

    def close_workers(self) -> None:
        if self._engine is not None:
            self._engine.close()

    def workload(self) -> Workload:
        if self._workload is None:
            self._workload = load_workload(resolve_spec(self.settings.workload))
        return self._workload

    def use_workload(self, workload: Workload) -> None:
        """Adopt the workload a (possibly overridden) ``qp_workload`` fixture returned."""
        if not isinstance(workload, Workload):
            raise WorkloadError(f"the qp_workload fixture returned {type(workload).__name__}, not a qpbench Workload")
        self._workload = workload

    def selected_variants(self) -> tuple[str, ...]:
        """The selected names, with 'all' expanded to every registered variant."""
        names: list[str] = []
        for name in self.settings.variants:
            names += self.registry.names() if name == "all" else [name]
        return tuple(dict.fromkeys(names))

    def prepare(self, check_workload: bool) -> None:
        """Fail early on unknown variants and, with ``check_workload`` (the workload is the one the
        options name, not a user's ``qp_workload`` fixture), on an unusable workload."""
        for name in self.selected_variants():
            self.registry.get(name)
        unknown = [n for n in self.settings.long_run
                   if n not in (screening.ALL, screening.READY, *self.selected_variants())]
        if unknown:
            raise ConfigError(f"--qp-long-run names {unknown}, which are not selected: choose 'all', 'ready' or "
                              f"from {', '.join(self.selected_variants())}")
        if check_workload:
            self.workload().check_model()

    # Variants ---------------------------------------------------------------

    def variant(self, name: str) -> Variant:
        return self.cache.get(name)

    @property
    def reference(self) -> str:
        return REFERENCE

    # The plan, the clock and the budget (run/plan.py) ---------------------------

    def history_path(self) -> Path:
        cpu = str((self.fingerprint().get("cpu") or {}).get("brand", ""))
        cache = build_cache_dir(self.settings.build_cache) or build_cache_dir()  # kept even with the cache off
        return history_path(cache, resolve_spec(self.settings.workload).to_dict(), self.settings.profile.name, cpu)

    def plan(self, tests: list[tuple[str, str]]) -> list[str]:
        """The run's plan lines; with a budget, the profile's time ceilings scaled to fit it."""
        lines, profile = self.planner.plan(tests, self.settings.profile, REFERENCE)
        self.settings = replace(self.settings, profile=profile)
        return lines

    def over_budget(self, variant: str, test_name: str) -> str | None:
        return self.planner.over_budget(variant, test_name)

    def eta(self, remaining: list[tuple[str, str]]) -> str:
        return self.planner.eta(remaining)

    def book(self, variant: str, test_name: str, seconds: float, build_s: float) -> None:
        self.planner.book(variant, test_name, seconds, build_s,
                          self._engine is not None and self._engine.from_cache(variant))

    def build_seconds(self) -> float:
        """Seconds spent building variants so far (the engine times its builds)."""
        return self._engine.build_s if self._engine is not None else 0.0

    # The screen -------------------------------------------------------------

    def screen(self) -> screening.Screen:
        """Which variants get the measurements after the screen, decided once, at the first of
        them, from the screen's results (screening.py). Under pytest-xdist a process sees only its
        own share of the results, so every variant is measured in full there."""
        if self._screen is None:
            self.planner.clock.screen_ended()
            policy = (screening.ALL,) if self.is_worker else self.settings.long_run
            self._screen = screening.decide(self.all_results(), selected_errors(self.errors, self.selected_variants()),
                                            self.settings.scoring, REFERENCE, self.selected_variants(), policy)
        return self._screen

    @property
    def screened_out(self) -> dict[str, str]:
        return dict(self._screen.out) if self._screen is not None else {}

    # What the run collects (run/collect.py) -------------------------------------

    def record(self, result: Result) -> None:
        self.collected.record(result)

    def record_error(self, variant: str, test: str, excinfo: Any) -> None:
        self.collected.record_error(variant, test, excinfo)

    def journal_header(self) -> dict[str, Any]:
        workload = self._workload
        return journal.header(self.settings, workload.spec if workload else resolve_spec(self.settings.workload),
                              self.predictions.eval_set() if workload else None, self.selected_variants(),
                              REFERENCE, self.fingerprint())

    def leftover_journals(self) -> list[Path]:
        return [] if self.is_worker else self.collected.leftover_journals()

    @property
    def has_results(self) -> bool:
        return self.collected.has_results(self._cache.infos() if self._cache else [])

    def fingerprint(self) -> dict[str, Any]:
        """This machine's fingerprint, as the generate hook makes it and the update hooks extend it
        (made once: the journal's header and the record carry the same one)."""
        if self._fingerprint is None:
            fingerprint = self.config.hook.pytest_qpbench_generate_fingerprint(config=self.config)
            self.config.hook.pytest_qpbench_update_fingerprint(config=self.config, fingerprint=fingerprint)
            self._fingerprint = fingerprint
        return self._fingerprint

    # pytest-xdist -----------------------------------------------------------

    def send_to_controller(self) -> None:
        xdist_transport.send(self.config.workeroutput, self.collected.payload(
            self._cache.infos() if self._cache else [], self.fingerprint(), dict(self.regression.per_variant)))

    def receive_from_worker(self, workeroutput: dict[str, Any], host: str | None = None) -> None:
        payload = xdist_transport.receive(workeroutput)
        if payload is not None:
            self.regression.add_overrides(payload.regression_overrides)
            self.collected.receive(payload, host)

    # Finishing ------------------------------------------------------------

    def all_results(self) -> list[Result]:
        return self.collected.results(self._cache.infos() if self._cache else [], self.selected_variants())

    def resolve_scoring(self) -> ScoringConfig:
        """The run's scoring, after ``pytest_qpbench_make_scoring``: resolved once, before the first
        test (plugin.pytest_collection_finish, where a conftest below the command-line paths is
        seen), into the settings every step reads (the screen, the tests' targets, the journal,
        the verdict)."""
        if not self._scoring_resolved:
            made = self.config.hook.pytest_qpbench_make_scoring(config=self.config, scoring=self.settings.scoring)
            if made is not None:
                self.settings = replace(self.settings, scoring=made)
            self._scoring_resolved = True
        return self.settings.scoring

    def scoring_config(self) -> ScoringConfig:
        return self.resolve_scoring()

    def contenders(self) -> list[str]:
        """The fastest ready variant with a confirmed batch-1 figure, then those a head-to-head may
        find tied with it (decision.py), from the results so far."""
        results = self.all_results()
        verdict = scoring.score(results, self.scoring_config(), REFERENCE,
                                selected_errors(self.errors, self.selected_variants()), screened_out=self.screened_out)
        doubtful = decision.unconfirmed(decision.agreement_problems(results))
        return decision.contenders({v.variant: v.batch1_p50_ms for v in verdict.variants
                                    if v.ready and v.variant not in doubtful})

    def finish(self) -> None:
        """Judge (run/finish.py), build the record through the user's hooks, compare it with the
        baseline, write it and the reports; then ``pytest_qpbench_verdict``."""
        self.finished = finish.judge(self.all_results(), self.errors, self.fingerprint(), self.hosts,
                                     self.selected_variants(), self.scoring_config(), REFERENCE,
                                     self.settings.fail_under, self.screened_out)
        self.verdict, self.score_gate = self.finished.verdict, self.finished.score_gate
        self.host_verdicts, self.matrix = self.finished.host_verdicts, self.finished.matrix
        record = self.config.hook.pytest_qpbench_generate_record(
            config=self.config, verdict=self.verdict, results=self.finished.results,
            fingerprint=self.finished.fingerprint, errors=self.finished.errors)
        comparison = self.regression.compare(record)
        if comparison is not None:
            record = replace(record, comparison=comparison)
        self.gate = GateSummary(self.score_gate, self.regression.gate)
        self.config.hook.pytest_qpbench_update_record(config=self.config, record=record)
        self.json_path = write_record(record, self.settings.results_dir)
        self.written_record = record
        self.write_reports(record)
        self.regression.after_write(record)
        self.planner.save_history()
        self.end_journal()
        self.config.hook.pytest_qpbench_verdict(config=self.config, verdict=self.verdict, record=record)

    def end_journal(self) -> None:
        self.collected.end()

    def build_record(self, verdict: Verdict, results: list[Result], fingerprint: dict[str, Any],
                     errors: dict[str, list[str]]) -> RunRecord:
        """The run's record, as ``pytest_qpbench_generate_record`` makes it by default."""
        workload = self._workload
        return finish.run_record(
            self.finished, workload.spec if workload else resolve_spec(self.settings.workload),
            self.predictions.eval_set() if workload else None,
            dict(vars(self.settings.profile)), self.selected_variants(), self.settings.fail_under,
            self.planner.timing(), verdict, results, fingerprint, errors)

    def write_reports(self, record: RunRecord) -> None:
        """report.html and summary.md beside the JSON (or in the report dir), and the CI job summary."""
        written = write_report_files(record, Path(self.settings.report_dir or self.settings.results_dir), self.json_path)
        self.report_paths, self.report_error = written.paths, written.error

    # Terminal summary -------------------------------------------------------

    def summary_sections(self) -> list[SummarySection]:
        """The readiness verdict with the score gate; with a baseline, the comparison with the regression gate."""
        sections = [SummarySection("qpbench deployment readiness", [*self.readiness_lines(), *self.gate.score.lines])]
        if self.regression.active:
            sections.append(SummarySection("qpbench comparison with a baseline",
                                           [*self.regression.report_lines(), *self.gate.regression.lines],
                                           regressions_red=True))
        return sections

    def readiness_lines(self) -> list[str]:
        assert self.verdict is not None
        return readiness_lines(self.verdict, self.written_record.timing if self.written_record is not None else None,
                               self.json_path, list(self.report_paths.values()), self.report_error, self.matrix)
