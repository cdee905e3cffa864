"""The run's coordinator: one QPSession per pytest run, built in ``pytest_configure`` and kept
in ``config.stash``. It holds the settings and hands the work to the run's steps, in one
direction (docs/architecture.md): plan (run/plan.py, run/screening.py), collect (run/collect.py,
run/variants.py, run/predictions.py), finish (run/finish.py, then the record through the user's
hooks and the comparison with the baseline) and present (run/output.py), then
``pytest_qpbench_verdict``. Under pytest-xdist only the controller finishes, from the workers'
records.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from qpbench.verdict import decision, scoring
from qpbench.compare.gate import GateSummary
from qpbench.compare.regression import RegressionSettings, RegressionStep
from qpbench.config import ScoringConfig, Settings
from qpbench.errors import ConfigError
from qpbench.record import RunRecord
from qpbench.results import Result
from qpbench.run import finish, journal, screening
from qpbench.run import xdist as xdist_transport
from qpbench.run.collect import Collector
from qpbench.run.output import SummarySection, summary_sections, write_record, write_reports
from qpbench.run.plan import Planner, history_path
from qpbench.run.predictions import Predictions
from qpbench.run.selection import selected_errors
from qpbench.run.variants import RunVariants
from qpbench.variants import REFERENCE
from qpbench.variants.build_cache import build_cache_dir
from qpbench.verdict import Verdict
from qpbench.workload import resolve_spec


class QPSession:
    reference = REFERENCE

    def __init__(self, config: Any, settings: Settings, regression: RegressionStep | None = None) -> None:
        self.config = config
        self.settings = settings
        self.is_worker = hasattr(config, "workerinput")
        self.regression = regression or RegressionStep(RegressionSettings(), settings.results_dir,
                                                       settings.results_dir, self.is_worker)
        workerinput = getattr(config, "workerinput", None) or {}
        self.run_id: str = workerinput.get("qp_run_id") or journal.new_run_id()
        self.collected = Collector(settings.results_dir, self.run_id,
                                   self.run_id + (f".{workerinput['workerid']}" if "workerid" in workerinput else ""),
                                   self.journal_header)
        self.records, self.errors, self.hosts = self.collected.records, self.collected.errors, self.collected.hosts
        self.variants = RunVariants(lambda: self.settings,
                                    lambda registry: config.hook.pytest_qpbench_register_variants(registry=registry),
                                    self.collected.record)
        self.predictions = Predictions(lambda: self.variants.engine, self.variants.workload,
                                       lambda: self.settings.eval_images or self.settings.profile.eval_images,
                                       self.resolve_scoring, REFERENCE)
        self.planner = Planner(self.history_path, build_cache_dir(settings.build_cache) is not None and not settings.rebuild,
                               settings.budget_min)
        self._fingerprint: dict[str, Any] | None = None
        self._screen: screening.Screen | None = None
        self._standby_decided: set[str] = set()  # --qp-long-run=contenders: variants decided on standby or not
        self._scoring_resolved = False
        self.finished: finish.Finished | None = None  # what finishing produced, then what was written:
        self.verdict: Verdict | None = None
        self.gate = GateSummary()
        self.json_path: Path | None = None
        self.written_record: RunRecord | None = None
        self.report_paths: dict[str, Path] = {}
        self.report_error: str | None = None

    # Plan -------------------------------------------------------------------

    def resolve_scoring(self) -> ScoringConfig:
        """The run's scoring after ``pytest_qpbench_make_scoring``, resolved once before the first
        test (plugin.pytest_collection_finish) into the settings every step reads."""
        if not self._scoring_resolved:
            made = self.config.hook.pytest_qpbench_make_scoring(config=self.config, scoring=self.settings.scoring)
            if made is not None:
                self.settings = replace(self.settings, scoring=made)
            self._scoring_resolved = True
        return self.settings.scoring

    def prepare(self, check_workload: bool) -> None:
        """Fail early on unknown variants and, with ``check_workload`` (the workload is the one the
        options name, not a user's ``qp_workload`` fixture), on an unusable workload."""
        selected = self.variants.selected()
        for name in selected:
            self.variants.registry.get(name)
        unknown = [n for n in self.settings.long_run if n not in (*screening.POLICIES, *selected)]
        if unknown:
            raise ConfigError(f"--qp-long-run names {unknown}, which are not selected: choose "
                              f"{', '.join(repr(p) for p in screening.POLICIES)} or from {', '.join(selected)}")
        if check_workload:
            from qpbench.measure.check import check_model

            check_model(self.variants.workload().spec, self.settings.profile.worker_timeout_s)

    def history_path(self) -> Path:
        cpu = str((self.fingerprint().get("cpu") or {}).get("brand", ""))
        cache = build_cache_dir(self.settings.build_cache) or build_cache_dir()  # kept even with the cache off
        return history_path(cache, resolve_spec(self.settings.workload).to_dict(), self.settings.profile.name, cpu)

    def plan(self, tests: list[tuple[str, str]]) -> list[str]:
        """The run's plan lines; with a budget, the profile's time ceilings scaled to fit it."""
        lines, profile = self.planner.plan(tests, self.settings.profile, REFERENCE)
        self.settings = replace(self.settings, profile=profile)
        return lines

    def book(self, variant: str, test_name: str, seconds: float, build_s: float) -> None:
        self.planner.book(variant, test_name, seconds, build_s, self.variants.from_cache(variant))

    def screen(self) -> screening.Screen:
        """Which variants get the measurements after the screen, decided once, at the first of
        them (screening.py). Under pytest-xdist a process sees only its own share of the results,
        so every variant is measured in full there."""
        if self._screen is None:
            self.planner.clock.screen_ended()
            policy = (screening.ALL,) if self.is_worker else self.settings.long_run
            selected = self.variants.selected()
            self._screen = screening.decide(self.all_results(), selected_errors(self.errors, selected),
                                            self.settings.scoring, REFERENCE, selected, policy)
        return self._screen

    def long_run_skip(self, variant: str) -> str | None:
        """Why ``variant`` gets no measurement after the screen (None: it is measured). Under
        ``--qp-long-run=contenders`` a kept variant that is not a contender is decided at its first
        such measurement, from the variants measured in full before it (screening.standby_reason),
        and a variant left out so joins the screened-out ones."""
        screen = self.screen()
        if variant in screen.out or not screen.by_speed or variant in self._standby_decided:
            return screen.out.get(variant)
        self._standby_decided.add(variant)
        before = screen.order[:screen.order.index(variant)] if variant in screen.order else ()
        full = [n for n in before if n not in screen.out]
        selected = self.variants.selected()
        verdict = scoring.score(self.all_results(), self.resolve_scoring(), REFERENCE,
                                selected_errors(self.errors, selected))
        doubtful = decision.unconfirmed(decision.agreement_problems(self.all_results()))
        standing = [v.variant for v in verdict.variants if v.variant in full and v.ready and v.variant not in doubtful]
        reason = screening.standby_reason(screen, variant, standing)
        if reason is not None:
            screen.out[variant] = reason
        return reason

    @property
    def screened_out(self) -> dict[str, str]:
        return dict(self._screen.out) if self._screen is not None else {}

    # Collect ----------------------------------------------------------------

    def journal_header(self) -> dict[str, Any]:
        loaded = self.variants.loaded
        return journal.header(self.settings, loaded.spec if loaded else resolve_spec(self.settings.workload),
                              self.predictions.eval_set() if loaded else None, self.variants.selected(),
                              REFERENCE, self.fingerprint())

    def fingerprint(self) -> dict[str, Any]:
        """This machine's fingerprint, as the generate hook makes it and the update hooks extend it
        (made once: the journal's header and the record carry the same one)."""
        if self._fingerprint is None:
            fingerprint = self.config.hook.pytest_qpbench_generate_fingerprint(config=self.config)
            self.config.hook.pytest_qpbench_update_fingerprint(config=self.config, fingerprint=fingerprint)
            self._fingerprint = fingerprint
        return self._fingerprint

    def leftover_journals(self) -> list[Path]:
        return [] if self.is_worker else self.collected.leftover_journals()

    @property
    def has_results(self) -> bool:
        return self.collected.has_results(self.variants.infos())

    def all_results(self) -> list[Result]:
        return self.collected.results(self.variants.infos(), self.variants.selected())

    def send_to_controller(self) -> None:
        xdist_transport.send(self.config.workeroutput, self.collected.payload(
            self.variants.infos(), self.fingerprint(), dict(self.regression.per_variant)))

    def receive_from_worker(self, workeroutput: dict[str, Any], host: str | None = None) -> None:
        payload = xdist_transport.receive(workeroutput)
        if payload is not None:
            self.regression.add_overrides(payload.regression_overrides)
            self.collected.receive(payload, host)

    def contenders(self) -> list[str]:
        """The fastest ready variant with a confirmed batch-1 figure, then those a head-to-head may
        find tied with it (verdict/decision.py), from the results so far."""
        results = self.all_results()
        verdict = scoring.score(results, self.resolve_scoring(), REFERENCE,
                                selected_errors(self.errors, self.variants.selected()), screened_out=self.screened_out)
        doubtful = decision.unconfirmed(decision.agreement_problems(results))
        return decision.contenders({v.variant: v.batch1_p50_ms for v in verdict.variants
                                    if v.ready and v.variant not in doubtful})

    # Finish and present -------------------------------------------------------

    def finish(self) -> None:
        """Judge (run/finish.py), build the record through the user's hooks, compare it with the
        baseline, write it and the reports; then ``pytest_qpbench_verdict``."""
        self.finished = finish.judge(self.all_results(), self.errors, self.fingerprint(), self.hosts,
                                     self.variants.selected(), self.resolve_scoring(), REFERENCE,
                                     self.settings.fail_under, self.screened_out)
        self.verdict = self.finished.verdict
        record = self.config.hook.pytest_qpbench_generate_record(
            config=self.config, verdict=self.verdict, results=self.finished.results,
            fingerprint=self.finished.fingerprint, errors=self.finished.errors)
        comparison = self.regression.compare(record)
        if comparison is not None:
            record = replace(record, comparison=comparison)
        self.gate = GateSummary(self.finished.score_gate, self.regression.gate)
        self.config.hook.pytest_qpbench_update_record(config=self.config, record=record)
        self.json_path = write_record(record, self.settings.results_dir)
        self.written_record = record
        self.write_reports(record)
        self.regression.after_write(record)
        self.planner.save_history()
        self.collected.end()
        self.config.hook.pytest_qpbench_verdict(config=self.config, verdict=self.verdict, record=record)

    def build_record(self, verdict: Verdict, results: list[Result], fingerprint: dict[str, Any],
                     errors: dict[str, list[str]]) -> RunRecord:
        """The run's record, as ``pytest_qpbench_generate_record`` makes it by default."""
        loaded = self.variants.loaded
        return finish.run_record(
            self.finished, loaded.spec if loaded else resolve_spec(self.settings.workload),
            self.predictions.eval_set() if loaded else None, dict(vars(self.settings.profile)),
            self.variants.selected(), self.settings.fail_under, self.planner.timing(), verdict, results,
            fingerprint, errors)

    def write_reports(self, record: RunRecord) -> None:
        """report.html and summary.md beside the JSON (or in the report dir), and the CI job summary."""
        written = write_reports(record, Path(self.settings.report_dir or self.settings.results_dir), self.json_path)
        self.report_paths, self.report_error = written.paths, written.error

    def summary_sections(self) -> list[SummarySection]:
        assert self.verdict is not None
        return summary_sections(self.verdict, self.written_record, self.json_path, list(self.report_paths.values()),
                                self.report_error, self.finished.matrix if self.finished else None, self.gate,
                                self.regression)
