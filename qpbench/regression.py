"""The regression gate of a pytest run: save the run as a baseline, compare it with one,
write the Markdown summary, fail the run on a significant regression.

The plugin builds one ``RegressionRun`` in ``pytest_configure`` (the baseline to
compare with is loaded there, so a missing or corrupt one is a usage error
before anything is measured) and calls it from the same places as the score gate.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from qpbench import baseline as baselines
from qpbench.compare import ALL_VARIANTS, Comparison, check_families, check_threshold, compare_runs, make_thresholds, regression_gate
from qpbench.config import DEFAULT_GATE_ON
from qpbench.errors import ConfigError
from qpbench.record import RunRecord

WORKER_KEY = "qpbench_regression_overrides"
MARKER = "qp_regression"


@dataclass(frozen=True)
class RegressionSettings:
    save_as: str | None = None  # --qp-save-baseline
    compare_with: str | None = None  # --qp-compare: a name or 'latest'
    fail_on_regression: bool = False
    thresholds: dict[str, float] = field(default_factory=dict)  # family -> value, over the defaults
    any_machine: bool = False
    markdown_path: str | None = None
    gate_on: tuple[str, ...] = DEFAULT_GATE_ON  # metric families that fail the gate

    def __post_init__(self) -> None:
        check_families(self.gate_on)
        if self.save_as is not None:
            baselines.check_name(self.save_as)
        for name, value in self.thresholds.items():
            check_threshold(name, value)
        if self.fail_on_regression and not self.compare_with:
            raise ConfigError("--qp-fail-on-regression needs a baseline to compare with: add --qp-compare=NAME|latest")


def marker_overrides(marker: Any, where: str) -> dict[str, float]:
    """The thresholds a ``qp_regression`` marker sets, checked."""
    if marker.args:
        raise ConfigError(f"{where}: use keywords, e.g. @pytest.mark.{MARKER}(latency=0.25)")
    return {name: check_threshold(name, value, f" in the {MARKER} marker of {where}") for name, value in marker.kwargs.items()}


class RegressionRun:
    def __init__(self, settings: RegressionSettings, results_dir: str, repo_dir: str, is_worker: bool) -> None:
        self.settings = settings
        self.results_dir = results_dir
        self.repo_dir = repo_dir
        self.is_worker = is_worker
        self.per_variant: dict[str, dict[str, float]] = defaultdict(dict)
        self.baseline: baselines.Loaded | None = None
        self.comparison: Comparison | None = None
        self.gate_failed = False
        self.gate_lines: list[str] = []
        self.saved_path: Path | None = None
        self.markdown_written: Path | None = None
        self.benchmark_storage: str | None = None
        if settings.compare_with and not is_worker:
            self.baseline = baselines.load_baseline(results_dir, settings.compare_with)

    @property
    def active(self) -> bool:
        return bool(self.settings.save_as or self.settings.compare_with)

    # Per-test overrides (collected wherever collection runs, sent from xdist workers) ---

    def add_override(self, variant: str | None, values: dict[str, float]) -> None:
        self.per_variant[variant or ALL_VARIANTS].update(values)

    def send(self, workeroutput: dict[str, Any]) -> None:
        workeroutput[WORKER_KEY] = {k: dict(v) for k, v in self.per_variant.items()}

    def receive(self, workeroutput: dict[str, Any]) -> None:
        for variant, values in (workeroutput.get(WORKER_KEY) or {}).items():
            self.per_variant[variant].update(values)

    # After scoring ---------------------------------------------------------

    def compare(self, record: dict[str, Any]) -> None:
        """Compare the run's record with the baseline; the result goes into the record."""
        if self.baseline is None:
            return
        thresholds = make_thresholds(self.settings.thresholds, self.per_variant)
        git = baselines.git_info(self.repo_dir)
        label = "this run" + (f" @ {git['commit'][:10]}{'+dirty' if git['dirty'] else ''}" if git else "")
        current = RunRecord.from_dict(record)
        self.comparison = compare_runs(self.baseline.record, current, thresholds, self.settings.any_machine,
                                       self.baseline.label, label, reference=current.verdict.reference)
        failed, lines = regression_gate(self.comparison, self.settings.gate_on)
        self.gate_failed = failed and self.settings.fail_on_regression
        self.gate_lines = lines if self.settings.fail_on_regression else \
            [lines[0].replace("FAIL qpbench regression gate", "qpbench regression check (not gating)")
             .replace("PASS qpbench regression gate", "qpbench regression check (not gating)"), *lines[1:]]
        self.comparison = replace(
            self.comparison, baseline_path=str(self.baseline.path),
            thresholds={"default": dict(thresholds.default),
                        "per_variant": {k: dict(v) for k, v in thresholds.per_variant.items()}},
            gate={"enabled": self.settings.fail_on_regression,
                  "metrics": list(check_families(self.settings.gate_on)),
                  "failed": self.gate_failed, "lines": self.gate_lines})
        record["comparison"] = self.comparison.to_dict()

    def after_write(self, record: dict[str, Any]) -> None:
        from qpbench.render.compare_markdown import comparison_markdown
        from qpbench.render.json_report import write_text

        if self.settings.save_as:
            self.saved_path = baselines.save_baseline(RunRecord.from_dict(record), self.results_dir, self.settings.save_as, self.repo_dir,
                                                      self.benchmark_storage)
        if self.comparison is not None and self.settings.markdown_path:
            self.markdown_written = write_text(comparison_markdown(self.comparison, self.gate_lines),
                                               Path(self.settings.markdown_path))

    def summary_lines(self) -> list[str]:
        from qpbench.render.compare_text import comparison_lines

        lines: list[str] = []
        if self.comparison is not None:
            lines += comparison_lines(self.comparison)
        if self.markdown_written:
            lines.append(f"comparison summary (Markdown): {self.markdown_written}")
        if self.saved_path:
            lines.append(f"saved baseline {self.settings.save_as}: {self.saved_path}")
        lines += self.gate_lines
        return lines
