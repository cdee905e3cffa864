"""The regression step of a run: compare the run with a saved baseline, judge the
regression gate, save the run as a baseline, write the comparison's Markdown.

The session runs it: built in ``pytest_configure`` (the baseline to compare with
is loaded there, so a missing or corrupt one is a usage error before anything
is measured), compared after scoring and before the record is written, and
after the record is written, saved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from qpbench.compare import baseline as baselines
from qpbench.compare.comparison import REGRESSED, Comparison
from qpbench.compare.runs import compare_runs, regression_gate, taken_under_load
from qpbench.compare.differences import cpu_differences, fingerprint_differences, workload_differences
from qpbench.compare.speed import baseline_runs, run_statistics, speed_change, speed_metric, speed_samples
from qpbench.compare.judge import judge_relative
from qpbench.compare.thresholds import ALL_VARIANTS, check_families, check_threshold, make_thresholds
from qpbench.config import DEFAULT_GATE_ON, DEFAULT_MISSING_BASELINE, parse_missing_baseline
from qpbench.errors import ConfigError
from qpbench.compare.gate import GateResult, could_not_judge
from qpbench.record import RunRecord
from qpbench.results import PairedResult

MARKER = "qp_regression"


@dataclass(frozen=True)
class RegressionSettings:
    save_as: str | None = None  # --qp-save-baseline
    add_to: str | None = None  # --qp-add-to-baseline: this run joins that baseline as another run
    compare_with: str | None = None  # --qp-compare: a name or 'latest'
    fail_on_regression: bool = False
    thresholds: dict[str, float] = field(default_factory=dict)  # family -> value, over the defaults
    any_machine: bool = False
    markdown_path: str | None = None
    gate_on: tuple[str, ...] = DEFAULT_GATE_ON  # metric families that fail the gate
    missing_baseline: str = DEFAULT_MISSING_BASELINE  # 'warn' or 'fail': a {cpu} baseline this CPU has none of

    def __post_init__(self) -> None:
        check_families(self.gate_on)
        parse_missing_baseline(self.missing_baseline)
        if self.save_as is not None:
            baselines.check_name(self.save_as.replace(baselines.CPU_FIELD, "cpu"))
        if self.add_to is not None:
            baselines.check_name(self.add_to.replace(baselines.CPU_FIELD, "cpu"))
            if self.save_as is not None:
                raise ConfigError("--qp-save-baseline starts a baseline and --qp-add-to-baseline adds a run to one: "
                                  "give one of them")
        for name, value in self.thresholds.items():
            check_threshold(name, value)
        if self.fail_on_regression and not self.compare_with:
            raise ConfigError("--qp-fail-on-regression needs a baseline to compare with: add --qp-compare=NAME|latest")


def marker_overrides(marker: Any, where: str) -> dict[str, float]:
    """The thresholds a ``qp_regression`` marker sets, checked."""
    if marker.args:
        raise ConfigError(f"{where}: use keywords, e.g. @pytest.mark.{MARKER}(latency=0.25)")
    return {name: check_threshold(name, value, f" in the {MARKER} marker of {where}") for name, value in marker.kwargs.items()}


def missing_baseline_gate(settings: RegressionSettings, expected: Path, cpu: str) -> GateResult:
    """The regression gate when --qp-compare='NAME-{cpu}' names a baseline this CPU has none of:
    with --qp-missing-baseline=fail it fails, with warn it says so and passes; either way it names
    the file it looked for and how to make one. Without --qp-fail-on-regression there is no gate:
    its first line is a note."""
    name = settings.compare_with or ""
    results = expected.parent.parent  # <results>/baselines/NAME.json
    what = f"no baseline {expected.stem} for this CPU ({cpu}): expected {expected}"
    make = (f"  make one on this CPU: run with --qp-save-baseline='{name}' instead of --qp-compare, or promote "
            f"this run's record: qpbench baseline promote {results / 'latest.json'} --name '{name}' "
            f"--results-dir {results}")
    if not settings.fail_on_regression:
        return GateResult(False, (f"{what}; compared with nothing", make))
    if settings.missing_baseline == "fail":
        return GateResult(True, (f"FAIL qpbench regression gate: {what} (--qp-missing-baseline=fail)", make))
    return GateResult(False, (f"WARN qpbench regression gate: {what}; nothing compared, the gate passes "
                              "(--qp-missing-baseline=fail fails it)", make))


def for_this_cpu(settings: RegressionSettings, results_dir: str, is_worker: bool,
                 cpu: Callable[[], Mapping[str, Any]] | None = None) -> tuple[RegressionSettings, GateResult | None]:
    """``settings`` with ``{cpu}`` resolved to this CPU; a baseline to compare with that this CPU
    has none of is left out, with the gate that gives (the controller's: a worker's is None)."""
    from qpbench.system import cpu_info, describe_cpu

    this_cpu = (cpu or cpu_info)()
    named = {k: baselines.for_cpu(v, this_cpu) if v else v
             for k, v in (("save_as", settings.save_as), ("add_to", settings.add_to),
                          ("compare_with", settings.compare_with))}
    compare = named["compare_with"]
    expected = baselines.baselines_dir(results_dir) / f"{compare}.json"
    gate = None
    if compare and compare != settings.compare_with and not is_worker and not expected.exists():
        gate = missing_baseline_gate(settings, expected, describe_cpu(this_cpu))
        named["compare_with"] = None
    return replace(settings, **named, fail_on_regression=settings.fail_on_regression
                   and named["compare_with"] is not None), gate


def rerun_differences(target: baselines.Loaded, record: RunRecord) -> list[str]:
    """Why ``record`` is no rerun of the baseline ``target`` (another workload or CPU); empty: it is."""
    return workload_differences(target.record, record) + cpu_differences(
        fingerprint_differences(target.record.fingerprint, record.fingerprint))


def runs_after(target: baselines.Loaded) -> int:
    """The runs ``target`` holds once one more is added: its own, those added before, that one."""
    return 2 + len((target.record.baseline or {}).get("runs", []))


def add_record(path: str | Path, results_dir: str | Path, name: str | None, repo_dir: str | Path) -> tuple[str, Path, int]:
    """Add the finished run record at ``path`` to the saved baseline ``name`` (``{cpu}``: the record's
    CPU; unset: WORKLOAD-PROFILE-{cpu}) as one more run. Returns (the baseline's name, its path, its
    runs now); BaselineError names what is wrong (no such baseline, another workload or CPU)."""
    record = baselines.finished_record(path)
    target = baselines.load_baseline(results_dir, baselines.name_for_record(record, name, path)[1])
    why = rerun_differences(target, record)
    if why:
        raise baselines.BaselineError(f"{path} is no rerun of baseline {target.name}: " + "; ".join(why))
    runs = runs_after(target)
    return target.name, baselines.add_run(target, run_statistics(record), repo_dir), runs


class RegressionStep:
    """``{cpu}`` in a baseline's name stands for this machine's CPU (``baseline.cpu_slug``): a
    baseline per CPU model, since speed figures from another CPU are no baseline. A baseline so
    named that does not exist yet for this CPU is compared with nothing, and the gate warns or
    fails (``missing_baseline``); any other missing baseline is a usage error."""

    def __init__(self, settings: RegressionSettings, results_dir: str, repo_dir: str, is_worker: bool,
                 cpu: Callable[[], Mapping[str, Any]] | None = None, baseline: baselines.Loaded | None = None,
                 add_target: baselines.Loaded | None = None, gate: GateResult | None = None) -> None:
        """A step over what ``open`` read: ``settings`` with ``{cpu}`` resolved, the baseline to
        compare with and the one to add to, and the gate a missing ``{cpu}`` baseline gives."""
        self.settings = settings
        self.results_dir = results_dir
        self.repo_dir = repo_dir
        self.is_worker = is_worker
        self.cpu = cpu
        self.baseline = baseline
        self.add_target = add_target
        self.gate = gate or GateResult()
        self.no_baseline: str | None = self.gate.lines[0] if self.gate.lines else None  # why nothing is compared
        self._checked: baselines.Loaded | bool | None = None  # an xdist worker's baseline, read when first needed
        self.per_variant: dict[str, dict[str, float]] = defaultdict(dict)
        self.comparison: Comparison | None = None
        self.saved_path: Path | None = None
        self.markdown_written: Path | None = None
        self.benchmark_storage: str | None = None
        self.added: tuple[str, Path | None] | None = None  # (what was done, the baseline written)

    @classmethod
    def open(cls, settings: RegressionSettings, results_dir: str, repo_dir: str, is_worker: bool,
             cpu: Callable[[], Mapping[str, Any]] | None = None) -> RegressionStep:
        """Read what the step needs before anything is measured, so that a missing or corrupt
        baseline is a usage error then: ``{cpu}`` resolved to this CPU, the baseline to compare
        with and the one to add to (an xdist worker reads its baseline when first asked)."""
        gate = None
        if any(baselines.CPU_FIELD in (n or "") for n in (settings.save_as, settings.add_to, settings.compare_with)):
            settings, gate = for_this_cpu(settings, results_dir, is_worker, cpu)
        baseline = baselines.load_baseline(results_dir, settings.compare_with) \
            if settings.compare_with and not is_worker else None
        add_target = baselines.load_baseline(results_dir, settings.add_to) if settings.add_to and not is_worker else None
        return cls(settings, results_dir, repo_dir, is_worker, cpu, baseline, add_target, gate)

    @property
    def active(self) -> bool:
        return bool(self.settings.save_as or self.settings.compare_with or self.settings.add_to or self.no_baseline)

    # Per-test overrides (collected wherever collection runs, sent from xdist workers) ---

    def add_override(self, variant: str | None, values: dict[str, float]) -> None:
        self.per_variant[variant or ALL_VARIANTS].update(values)

    def add_overrides(self, per_variant: dict[str, dict[str, float]]) -> None:
        for variant, values in per_variant.items():
            self.per_variant[variant].update(values)

    # After scoring ---------------------------------------------------------

    def compare(self, record: RunRecord) -> Comparison | None:
        """The record's comparison with the baseline (None without one); judges the gate."""
        if self.baseline is None:
            return None
        thresholds = make_thresholds(self.settings.thresholds, self.per_variant)
        git = baselines.git_info(self.repo_dir)
        label = "this run" + (f" @ {git['commit'][:10]}{'+dirty' if git['dirty'] else ''}" if git else "")
        comparison = compare_runs(self.baseline.record, record, thresholds, self.settings.any_machine,
                                  self.baseline.label, label, reference=record.verdict.reference)
        gating = self.settings.fail_on_regression
        failed, lines = regression_gate(comparison, self.settings.gate_on,
                                        None if gating else "qpbench regression check (not gating)")
        # Could not judge (load): neither a pass nor a regression; the run's exit status says so.
        unjudged = gating and could_not_judge(comparison, check_families(self.settings.gate_on))
        self.gate = GateResult(failed and gating and not unjudged, tuple(lines), inconclusive=unjudged)
        self.comparison = replace(
            comparison, baseline_path=str(self.baseline.path),
            thresholds={"default": dict(thresholds.default),
                        "per_variant": {k: dict(v) for k, v in thresholds.per_variant.items()}},
            gate={"enabled": self.settings.fail_on_regression, "metrics": list(check_families(self.settings.gate_on)),
                  "failed": self.gate.failed, "inconclusive": self.gate.inconclusive,
                  "lines": list(self.gate.lines)})
        return self.comparison

    def out_of_line(self, result: PairedResult) -> bool:
        """Whether a speed figure just measured would be judged a regression against the baseline
        (same CPU, not taken under load): such a figure is measured again in fresh processes
        before the run's figure is settled (suite/speed.py). False without a baseline. An xdist
        worker reads the baseline here, the first time it is asked (the controller checked it)."""
        if self.baseline is None and self.is_worker and self.settings.compare_with and self._checked is None:
            try:
                self._checked = baselines.load_baseline(self.results_dir, self.settings.compare_with)
            except baselines.BaselineError:
                self._checked = False  # none for this CPU: nothing to check against
        loaded = self.baseline or self._checked
        if not loaded:
            return False
        base = loaded.record
        ra = speed_samples(base).get((result.variant, speed_metric(result)))
        if ra is None or ra.reference != result.reference or taken_under_load(ra, result):
            return False
        from qpbench.system import cpu_info

        here = {"cpu": (self.cpu or cpu_info)()}
        if cpu_differences(fingerprint_differences({"cpu": (base.fingerprint or {}).get("cpu")}, here)):
            return False
        judged = speed_change(result.variant, speed_metric(result), ra, result, baseline_runs(base))
        if isinstance(judged, str):
            return False
        threshold = make_thresholds(self.settings.thresholds, self.per_variant).get("speed_ratio", result.variant)
        return judge_relative(judged.change, judged.low, judged.high, threshold)[0] == REGRESSED

    def after_write(self, record: RunRecord) -> None:
        """Save the written record as a baseline, and write the comparison's Markdown, when asked."""
        from qpbench.compare.markdown import comparison_markdown
        from qpbench.files import write_text

        if self.settings.save_as:
            self.saved_path = baselines.save_baseline(record, self.results_dir, self.settings.save_as, self.repo_dir,
                                                      self.benchmark_storage)
        if self.add_target is not None:
            self.added = self.add_run(record)
        if self.comparison is not None and self.settings.markdown_path:
            self.markdown_written = write_text(comparison_markdown(self.comparison, list(self.gate.lines)),
                                               Path(self.settings.markdown_path))
        elif self.no_baseline and self.settings.markdown_path:  # CI's job summary says it too
            from qpbench.render.md_escape import escape

            text = "## qpbench: no baseline for this CPU\n\n" + "".join(f"- {escape(line.strip())}\n"
                                                                         for line in self.gate.lines)
            self.markdown_written = write_text(text, Path(self.settings.markdown_path))

    def add_run(self, record: RunRecord) -> tuple[str, Path | None]:
        """Add this run to the baseline it names, if it is a rerun of the same workload on the same CPU."""
        target = self.add_target
        assert target is not None
        why = rerun_differences(target, record)
        if why:
            return f"NOT added to baseline {target.name}: " + "; ".join(why), None
        statistics = run_statistics(record)
        path = baselines.add_run(target, statistics, self.repo_dir)
        return (f"added this run to baseline {target.name} ({runs_after(target)} runs now, {len(statistics)} speed "
                "statistics)"), path

    def report_lines(self) -> list[str]:
        """The comparison and what was written; the gate's lines are the gate summary's."""
        from qpbench.compare.text import comparison_lines

        lines: list[str] = []  # a missing {cpu} baseline is said by the gate's lines (missing_baseline_gate)
        if self.comparison is not None:
            lines += comparison_lines(self.comparison)
        if self.markdown_written:
            lines.append(f"comparison summary (Markdown): {self.markdown_written}")
        if self.saved_path:
            lines.append(f"saved baseline {self.settings.save_as}: {self.saved_path}")
        if self.added is not None:
            lines.append(self.added[0] + (f": {self.added[1]}" if self.added[1] else ""))
        return lines
