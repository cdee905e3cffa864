"""The run's state: settings, workload, variant cache, records, verdict.

One QPSession per pytest run, built in ``pytest_configure`` and kept in
``config.stash``. It turns records into a verdict and writes the run record;
under pytest-xdist only the controller does that, from the workers' records.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from qpbench import __version__, scoring
from qpbench.config import RUN, Settings
from qpbench.errors import WorkloadError
from qpbench.hosts import HostRecords, matrix_lines, readiness_matrix
from qpbench.render.json_report import SCHEMA_VERSION, write_json
from qpbench.render.terminal import summary_lines
from qpbench.results import RESULT_TYPES, Result, result_from_dict, to_dict
from qpbench.variants import REFERENCE, Variant, VariantCache, VariantRegistry
from qpbench.workload import Workload, WorkloadSpec, builtin_spec, load_workload

WORKER_KEY = "qpbench_records"


def workload_spec(settings: Settings) -> WorkloadSpec:
    choice = settings.workload
    if choice.model_factory:
        from qpbench.data.dataset import shipped_eval_path

        return WorkloadSpec(
            name=choice.model_factory,
            model_factory=choice.model_factory,
            checkpoint=choice.checkpoint,
            dataset=choice.dataset or str(shipped_eval_path()),
            input_size=choice.input_size or RUN.input_size,
        )
    spec = builtin_spec(choice.name)
    return WorkloadSpec(
        name=spec.name,
        model_factory=spec.model_factory,
        checkpoint=choice.checkpoint or spec.checkpoint,
        dataset=choice.dataset or spec.dataset,
        input_size=choice.input_size or spec.input_size,
    )


class QPSession:
    def __init__(self, config: Any, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.records: list[Result] = []
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.is_worker = hasattr(config, "workerinput")
        self._workload: Workload | None = None
        self._registry: VariantRegistry | None = None
        self._cache: VariantCache | None = None
        self._predictions: dict[str, np.ndarray] = {}
        self._worker_infos: list[Result] = []
        self.verdict: scoring.Verdict | None = None
        self.json_path: Path | None = None
        self.gate_failed = False
        self.gate_message: str | None = None
        self.report_paths: dict[str, Path] = {}
        self.report_error: str | None = None
        self.written_record: dict[str, Any] | None = None  # the run record as written
        self.hosts: dict[str, HostRecords] = {}  # --dist each: every host's records apart
        self.host_verdicts: dict[str, scoring.Verdict] = {}
        self.matrix: dict[str, Any] | None = None

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

    def workload(self) -> Workload:
        if self._workload is None:
            self._workload = load_workload(workload_spec(self.settings))
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

    def prepare(self, item: Any) -> None:
        """Fail early on unknown variants and an unusable built-in or option-given workload."""
        for name in self.selected_variants():
            self.registry.get(name)
        defs = item._fixtureinfo.name2fixturedefs.get("qp_workload", ())
        if defs and getattr(defs[-1].func, "__module__", "") == "qpbench.plugin":
            self.workload().check_model()

    # Variants and predictions --------------------------------------------

    def variant(self, name: str) -> Variant:
        return self.cache.get(name)

    def eval_images(self) -> int | None:
        return self.settings.eval_images or self.settings.profile.eval_images

    def eval_data(self) -> Any:
        return self.workload().data.first_images(self.eval_images())

    def predictions(self, name: str, batch_size: int = 16) -> np.ndarray:
        """The variant's predictions on the evaluation samples (computed once)."""
        from qpbench.measure.accuracy import predict

        if name not in self._predictions:
            variant = self.variant(name)
            data = self.eval_data()
            with variant.runtime():
                self._predictions[name] = predict(variant, self.workload().inputs, data.n_samples, batch_size)
        return self._predictions[name]

    @property
    def reference(self) -> str:
        return REFERENCE

    # Records --------------------------------------------------------------

    def record(self, result: Result) -> None:
        if type(result) not in RESULT_TYPES.values():
            raise TypeError(f"qp_record takes a result from qpbench.results, got {type(result).__name__}")
        self.records.append(result)

    def record_error(self, variant: str, test: str, excinfo: Any) -> None:
        message = excinfo.exconly().strip().splitlines()[-1][:300] if excinfo is not None else "failed"
        self.errors[variant].append(f"{test}: {message}")

    @property
    def has_results(self) -> bool:
        return bool(self.records or self.errors or self._worker_infos or self.hosts
                    or (self._cache and self._cache.infos()))

    def send_to_controller(self) -> None:
        from qpbench.system import fingerprint

        infos = self._cache.infos() if self._cache else []
        self.config.workeroutput[WORKER_KEY] = json.dumps(
            {"records": [to_dict(r) for r in [*self.records, *infos]], "errors": dict(self.errors),
             "fingerprint": fingerprint()}  # the worker's machine: another host's under --tx ssh=...
        )

    def receive_from_worker(self, workeroutput: dict[str, Any], host: str | None = None) -> None:
        """A worker's records: into the run's, or, with ``host`` (``--dist each``), kept apart by host."""
        payload = workeroutput.get(WORKER_KEY)
        if not payload:
            return
        data = json.loads(payload)
        if host is not None:
            records = self.hosts.setdefault(host, HostRecords(host))
            records.fingerprint = data.get("fingerprint")
            records.results += [result_from_dict(item) for item in data["records"]]
            for variant, msgs in data["errors"].items():
                records.errors[variant].extend(msgs)
            return
        for item in data["records"]:
            result = result_from_dict(item)
            (self._worker_infos if item["kind"] == "variant" else self.records).append(result)
        for variant, msgs in data["errors"].items():
            self.errors[variant].extend(msgs)

    # Verdict --------------------------------------------------------------

    def all_results(self) -> list[Result]:
        infos = (self._cache.infos() if self._cache else []) + self._worker_infos
        return self.selected_results(infos, self.records)

    def selected_results(self, infos: list[Result], records: list[Result]) -> list[Result]:
        seen: set[str] = set()
        unique_infos = [i for i in infos if not (i.variant in seen or seen.add(i.variant))]
        selected = set(self.selected_variants())
        return [r for r in [*unique_infos, *records] if r.variant in selected]

    def finish(self) -> None:
        from qpbench.system import fingerprint

        config = self.config.hook.pytest_qpbench_make_scoring(config=self.config, scoring=self.settings.scoring)
        if self.hosts:
            return self.finish_hosts(config or self.settings.scoring)
        results = self.all_results()
        errors = {k: v for k, v in self.errors.items() if k in self.selected_variants()}
        fp = fingerprint()
        self.verdict = scoring.score(results, config or self.settings.scoring, REFERENCE, errors)
        self.gate_failed, self.gate_message = self.apply_gate(self.verdict)
        record = self.run_record(results, fp)
        self.config.hook.pytest_qpbench_verdict(config=self.config, verdict=self.verdict, record=record)
        self.json_path = self.write(record)
        self.written_record = record
        self.write_reports(record)

    def finish_hosts(self, config: Any) -> None:
        """``--dist each``: one verdict per host, a readiness matrix over them; the top-level
        verdict, results and fingerprint are the first host's (by id), every host's under "hosts"."""
        per_host: dict[str, dict[str, Any]] = {}
        selected = set(self.selected_variants())
        for host in sorted(self.hosts):
            hr = self.hosts[host]
            infos = [r for r in hr.results if r.kind == "variant"]
            results = self.selected_results(infos, [r for r in hr.results if r.kind != "variant"])
            errors = {k: list(v) for k, v in hr.errors.items() if k in selected}
            self.host_verdicts[host] = verdict = scoring.score(results, config, REFERENCE, errors)
            per_host[host] = {"fingerprint": hr.fingerprint, "results": results, "errors": errors, "verdict": verdict}
        first = next(iter(per_host))
        self.verdict = self.host_verdicts[first]
        self.matrix = readiness_matrix(self.host_verdicts)
        gates = {h: self.apply_gate(v) for h, v in self.host_verdicts.items()}
        self.gate_failed = any(failed for failed, _ in gates.values())
        messages = [f"{m} [{h}]" for h, (_, m) in gates.items() if m]
        self.gate_message = "\n".join(sorted(messages, key=lambda m: not m.startswith("FAIL"))) or None
        record = self.run_record(per_host[first]["results"], per_host[first]["fingerprint"] or {})
        record["errors"] = per_host[first]["errors"]
        record["hosts"] = {h: {"fingerprint": d["fingerprint"], "results": [to_dict(r) for r in d["results"]],
                               "errors": d["errors"], "verdict": d["verdict"].to_dict()} for h, d in per_host.items()}
        record["matrix"] = self.matrix
        self.config.hook.pytest_qpbench_verdict(config=self.config, verdict=self.verdict, record=record)
        self.json_path = self.write(record)
        self.written_record = record
        self.write_reports(record)

    def apply_gate(self, verdict: scoring.Verdict) -> tuple[bool, str | None]:
        threshold = self.settings.fail_under
        if threshold is None:
            return False, None
        if verdict.recommended is None:
            return True, f"FAIL qpbench gate: no variant is ready, required a recommended variant scoring >= {threshold:g}"
        got = verdict.recommended_score or 0.0
        if got < threshold:
            return True, f"FAIL qpbench gate: recommended variant {verdict.recommended} scores {got:.1f} < {threshold:g}"
        return False, f"PASS qpbench gate: recommended variant {verdict.recommended} scores {got:.1f} >= {threshold:g}"

    def run_record(self, results: list[Result], fp: dict[str, Any]) -> dict[str, Any]:
        assert self.verdict is not None
        workload = self._workload
        return {
            "schema_version": SCHEMA_VERSION,
            "qpbench_version": __version__,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "workload": workload.spec.to_dict() if workload else workload_spec(self.settings).to_dict(),
            "eval_set": {"source": self.eval_data().source, "n_samples": self.eval_data().n_samples} if workload else None,
            "profile": self.settings.profile.__dict__,
            "selected_variants": list(self.selected_variants()),
            "fail_under": self.settings.fail_under,
            "gate": {"failed": self.gate_failed, "message": self.gate_message},
            "fingerprint": fp,
            "results": [to_dict(r) for r in results],
            "errors": {k: v for k, v in self.errors.items()},
            "verdict": self.verdict.to_dict(),
        }

    def write(self, record: dict[str, Any]) -> Path:
        out = Path(self.settings.results_dir)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in record["workload"]["name"])
        path = write_json(record, out / "runs" / f"{stamp}-{name}.json")
        write_json(record, out / "latest.json")
        return path

    def write_reports(self, record: dict[str, Any]) -> None:
        """report.html and summary.md beside the JSON (or in the report dir), and the CI job summary.

        A report that cannot be drawn is told in the terminal summary; it does
        not change the verdict or the gate, which the JSON already holds.
        """
        from qpbench.render.reports import append_step_summary, write_reports

        out = Path(self.settings.report_dir or self.settings.results_dir)
        try:
            saved = json.loads(json.dumps(record, allow_nan=False))  # exactly what the JSON file holds
            self.report_paths = write_reports(saved, out, source=str(self.json_path) if self.json_path else None)
            append_step_summary(self.report_paths["md"].read_text(encoding="utf-8"))
        except Exception as exc:  # a plotting or template failure must not hide the verdict
            self.report_error = f"reports not written: {type(exc).__name__}: {exc}"

    def summary_lines(self) -> list[str]:
        assert self.verdict is not None
        lines = summary_lines(self.verdict, str(self.json_path) if self.json_path else None)
        reports = [f"report: {path}" for path in self.report_paths.values()]
        if self.report_error:
            reports.append(self.report_error)
        at = next((i for i, line in enumerate(lines) if line.startswith("results: ")), len(lines) - 1)
        lines = lines[:at + 1] + reports + lines[at + 1:]
        if self.matrix:
            lines[0:0] = [f"host {next(iter(self.matrix['hosts']))} (first of {len(self.matrix['hosts'])}):"]
            lines += ["", *matrix_lines(self.matrix)]
        return lines + (self.gate_message.splitlines() if self.gate_message else [])

