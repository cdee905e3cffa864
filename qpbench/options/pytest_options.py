"""The pytest options of qpbench: the option group and ini keys it declares (each help text
printing the default a run uses, docs/options.md rendered from them), and how they are read,
command line first, then the ini key, into the run's ``Settings`` and ``RegressionSettings``.

``plugin.pytest_addoption`` declares them; ``plugin.pytest_configure`` reads them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from qpbench.options.argparse_help import argtype, pairs_of, positive_int_arg, show_default
from qpbench.compare.regression import RegressionSettings
from qpbench.config import (
    BUILD_CACHE_DEFAULT,
    DEFAULT_GATE_ON,
    DEFAULT_HARD_GATES,
    DEFAULT_LONG_RUN,
    DEFAULT_MISSING_BASELINE,
    DEFAULT_THRESHOLDS,
    DEFAULT_VARIANTS,
    DEFAULT_WEIGHTS,
    PROFILES,
    RUN,
    Profile,
    QuantThresholds,
    Settings,
    Targets,
    get_profile,
    make_scoring,
    parse_budget,
    parse_fail_under,
    parse_missing_baseline,
    parse_names,
    parse_pairs,
    parse_variants,
    positive_int,
)
from qpbench.workload import CUSTOM_INPUT_SIZE, WorkloadChoice


def _help(text: str, default: str, ini: str | None, note: str | None = None) -> str:
    """An option's help: what it does, then its default (printed from qpbench.config), then its ini key."""
    return f"{text}. Default: {default}" + (f" ({note})" if note else "") + "." + (f" Ini: {ini}." if ini else "")


def add_options(parser: pytest.Parser) -> None:
    """The qpbench option group and its ini keys (``plugin.pytest_addoption``)."""
    group = parser.getgroup("qpbench", "qpbench: CPU deployment readiness of a PyTorch model")
    group.addoption("--qp-workload", metavar="NAME", help=_help("built-in workload: 'default' (ResNet-50, the plan's model) or 'compact' (small CNN)", RUN.workload, "qp_workload"))
    group.addoption("--qp-model-factory", metavar="MODULE:CALLABLE", help=_help("your model factory; replaces the built-in model", "the workload's model", "qp_model_factory"))
    group.addoption("--qp-checkpoint", metavar="PATH", help=_help("state_dict for the model, loaded with weights_only=True", "the workload's own", "qp_checkpoint"))
    group.addoption("--qp-dataset", metavar="PATH", help=_help("labelled .npz (images, img_idx, params_vec, ssim)", "the shipped held-out split", "qp_dataset"))
    group.addoption("--qp-input-size", metavar="PIXELS", type=positive_int_arg("--qp-input-size"), help=_help("side of the model's input after preprocessing", show_default(CUSTOM_INPUT_SIZE), "qp_input_size", "for a custom model; a built-in workload has its own"))
    group.addoption("--qp-variants", metavar="NAME,...", help=_help("variants to measure, or 'all'", show_default(DEFAULT_VARIANTS), "qp_variants"))
    group.addoption("--qp-profile", metavar="NAME", choices=list(PROFILES), help=_help(f"measurement length: {', '.join(PROFILES)}", RUN.profile, "qp_profile"))
    group.addoption("--qp-worker-timeout", metavar="SECONDS", type=positive_int_arg("--qp-worker-timeout"), help=_help("seconds after which a worker's build or measurement is killed; it fails that test only", show_default(get_profile(RUN.profile).worker_timeout_s), "qp_worker_timeout", "the default profile's; each profile has its own"))
    group.addoption("--qp-long-run", metavar="all|ready|contenders|NAME,...", help=_help("which variants get the measurements after the screen (larger batches, throughput, memory, stress, concurrency, LoadGen): 'ready' those that can still be recommended, 'contenders' the fastest of those, and the next by speed while none measured in full is still ready, 'all' every variant, NAMEs those besides the screen's choice", show_default(DEFAULT_LONG_RUN), "qp_long_run", "every variant under pytest-xdist"))
    group.addoption("--qp-budget", metavar="MINUTES", type=argtype(parse_budget, "parse_budget"), help=_help("fit the run to MINUTES: with the last run's times on this machine the profile's time ceilings are scaled to fit, and measurements after the screen that would end past it are skipped (the screen always runs)", "no budget", "qp_budget"))
    group.addoption("--qp-eval-images", metavar="N", type=positive_int_arg("--qp-eval-images"), help=_help("judge accuracy on the samples of the first N images", "the profile's", "qp_eval_images"))
    group.addoption("--qp-fail-under", metavar="SCORE", type=argtype(parse_fail_under, "parse_fail_under"), help=_help("fail the run when the recommended variant scores below SCORE (0-100) or no variant is ready", "no gate", "qp_fail_under"))
    group.addoption("--qp-target", metavar="NAME=VALUE", action="append", default=[], help=_help("override a target, e.g. latency_p95_ms=100 (repeatable; memory in MiB)", show_default(pairs_of(Targets())), "qp_targets"))
    group.addoption("--qp-weight", metavar="NAME=VALUE", action="append", default=[], help=_help("override a criterion's weight in the score (repeatable)", show_default(DEFAULT_WEIGHTS), "qp_weights"))
    group.addoption("--qp-quant-threshold", metavar="NAME=VALUE", action="append", default=[], help=_help("rule for the best quantization method (repeatable)", show_default(pairs_of(QuantThresholds())), "qp_quant_thresholds"))
    group.addoption("--qp-hard-gates", metavar="NAME,...", help=_help("criteria a variant must pass to be ready", show_default(DEFAULT_HARD_GATES), "qp_hard_gates"))
    group.addoption("--qp-results-dir", metavar="DIR", help=_help("where the run's JSON goes", RUN.results_dir, "qp_results_dir", "under the rootdir; git-ignored"))
    group.addoption("--qp-report-dir", metavar="DIR", help=_help("where report.html and summary.md go", "the results folder", "qp_report_dir"))
    group.addoption("--qp-save-baseline", metavar="NAME", help=_help("save this run as baseline NAME under <results>/baselines/ (pytest-benchmark saves its part under NAME too)", "not saved", None))
    group.addoption("--qp-add-to-baseline", metavar="NAME", help=_help("add this run to the saved baseline NAME as one more independent run (same workload and CPU): comparisons then judge speed against the spread of its runs", "not added", None))
    group.addoption("--qp-compare", metavar="NAME|latest", help=_help("compare this run with a saved baseline (or the newest one): per variant and metric, change, 95%% CI, verdict", "none", "qp_compare"))
    group.addoption("--qp-fail-on-regression", action="store_true", default=None, help=_help("fail the run (exit 1) on a significant regression against --qp-compare's baseline", "report only", "qp_fail_on_regression"))
    group.addoption("--qp-regression-threshold", metavar="NAME=VALUE", action="append", default=[], help=_help("minimum effect that counts as a regression, relative for speed_ratio, latency, peak_rss, absolute for pearson, fidelity_loss (repeatable)", show_default(DEFAULT_THRESHOLDS), "qp_regression_thresholds"))
    group.addoption("--qp-compare-any-machine", action="store_true", default=None, help=_help("compare absolute figures (latency, memory) even when the machines' fingerprints differ", "only same-run ratios and accuracy are compared then", "qp_compare_any_machine"))
    group.addoption("--qp-compare-markdown", metavar="PATH", help=_help("write the comparison and gate result as Markdown to PATH (for a CI job to publish)", "none", "qp_compare_markdown"))
    group.addoption("--qp-regression-gate-on", metavar="FAMILY,...", help=_help(f"metric families whose regression fails the gate: {', '.join(DEFAULT_THRESHOLDS)}, or all", show_default(DEFAULT_GATE_ON), "qp_regression_gate_on", "absolute latency is compared and reported, gated only when named: on a shared machine every absolute time can move together"))
    group.addoption("--qp-missing-baseline", metavar="fail|warn", type=argtype(parse_missing_baseline, "parse_missing_baseline"), help=_help("what the regression gate does when --qp-compare='NAME-{cpu}' names a baseline this CPU has none of: warn (say so, naming the file expected, and pass) or fail (fail the gate)", DEFAULT_MISSING_BASELINE, "qp_missing_baseline", "a missing baseline named without {cpu} is a usage error"))
    group.addoption("--qp-build-cache", metavar="DIR|off", help=_help("where built variants are kept across runs and reused when nothing that changes them changed; 'off' builds every variant afresh", BUILD_CACHE_DEFAULT, "qp_build_cache"))
    group.addoption("--qp-rebuild", action="store_true", default=None, help=_help("build every variant afresh and replace its cached build", "cached builds are reused", "qp_rebuild"))
    parser.addini("qp_build_cache", "build cache folder, or off", default="")
    parser.addini("qp_rebuild", "ignore cached builds (this run's replace them)", type="bool", default=False)
    parser.addini("qp_regression_gate_on", "metric families the regression gate fails on", type="args", default=[])
    parser.addini("qp_compare", "baseline name (or latest) to compare with", default="")
    parser.addini("qp_fail_on_regression", "fail on a significant regression", type="bool", default=False)
    parser.addini("qp_regression_thresholds", "NAME=VALUE regression thresholds", type="linelist", default=[])
    parser.addini("qp_missing_baseline", "fail or warn when this CPU has no {cpu} baseline", default="")
    parser.addini("qp_compare_any_machine", "compare absolute figures across machines", type="bool", default=False)
    parser.addini("qp_compare_markdown", "Markdown summary path (relative to the ini file's folder)", default="")
    parser.addini("qp_workload", "built-in workload name", default="")
    parser.addini("qp_model_factory", "model factory MODULE:CALLABLE", default="")
    parser.addini("qp_checkpoint", "checkpoint path (relative to the ini file's folder)", default="")
    parser.addini("qp_dataset", "labelled .npz path", default="")
    parser.addini("qp_input_size", "model input side in pixels", default="")
    parser.addini("qp_variants", "variants to measure", type="args", default=[])
    parser.addini("qp_profile", "measurement profile", default="")
    parser.addini("qp_eval_images", "images used for accuracy", default="")
    parser.addini("qp_budget", "minutes the run should fit in", default="")
    parser.addini("qp_long_run", "variants measured after the screen: all, ready, contenders or names", type="args", default=[])
    parser.addini("qp_worker_timeout", "seconds before a worker's build or measurement is killed", default="")
    parser.addini("qp_fail_under", "score gate 0-100", default="")
    parser.addini("qp_targets", "NAME=VALUE targets", type="linelist", default=[])
    parser.addini("qp_weights", "NAME=VALUE weights", type="linelist", default=[])
    parser.addini("qp_quant_thresholds", "NAME=VALUE quantization thresholds", type="linelist", default=[])
    parser.addini("qp_hard_gates", "hard-gate criteria", type="args", default=[])
    parser.addini("qp_results_dir", "results folder", default="")
    parser.addini("qp_report_dir", "folder for report.html and summary.md (relative to the ini file's folder)", default="")


def _opt(config: pytest.Config, name: str) -> Any:
    """Command line first, then the ini key, then None."""
    value = config.getoption("--qp-" + name.replace("_", "-"))
    if value not in (None, [], ""):
        return value
    ini = config.getini("qp_" + name)
    return ini if ini not in ("", []) else None


def _path_opt(config: pytest.Config, name: str) -> str | None:
    """A path option; a relative path from an ini key is relative to the ini file's folder."""
    value = config.getoption("--qp-" + name.replace("_", "-"))
    if value:
        return str(value)
    ini = config.getini("qp_" + name)
    if not ini:
        return None
    path = Path(ini)
    if not path.is_absolute() and config.inipath is not None:
        path = Path(config.inipath).parent / path
    return str(path)


def read_settings(config: pytest.Config) -> Settings:
    gates = _opt(config, "hard_gates")
    scoring = make_scoring(
        list(config.getini("qp_targets")) + list(config.getoption("--qp-target")),
        list(config.getini("qp_weights")) + list(config.getoption("--qp-weight")),
        None if gates is None else list(parse_names(gates)),
        list(config.getini("qp_quant_thresholds")) + list(config.getoption("--qp-quant-threshold")),
    )
    choice = WorkloadChoice(
        name=_opt(config, "workload") or RUN.workload,
        model_factory=_opt(config, "model_factory"),
        checkpoint=_path_opt(config, "checkpoint"),
        dataset=_path_opt(config, "dataset"),
        input_size=positive_int(_opt(config, "input_size"), "qp_input_size"),
    )
    return Settings(
        workload=choice,
        variants=parse_variants(_opt(config, "variants")),
        profile=with_worker_timeout(get_profile(_opt(config, "profile") or RUN.profile),
                                    positive_int(_opt(config, "worker_timeout"), "qp_worker_timeout")),
        scoring=scoring,
        fail_under=parse_fail_under(_opt(config, "fail_under")),
        results_dir=_opt(config, "results_dir") or str(config.rootpath / RUN.results_dir),
        eval_images=positive_int(_opt(config, "eval_images"), "qp_eval_images"),
        report_dir=_path_opt(config, "report_dir"),
        long_run=parse_names(_opt(config, "long_run")) or DEFAULT_LONG_RUN,
        budget_min=parse_budget(_opt(config, "budget")),
        build_cache="off" if _opt(config, "build_cache") == "off" else _path_opt(config, "build_cache"),
        rebuild=bool(config.getoption("--qp-rebuild") or config.getini("qp_rebuild")),
    )


def with_worker_timeout(profile: Profile, seconds: int | None) -> Profile:
    return profile if seconds is None else replace(profile, worker_timeout_s=float(seconds))


def read_regression_settings(config: pytest.Config) -> RegressionSettings:
    def flag(name: str) -> bool:
        value = config.getoption("--qp-" + name.replace("_", "-"))
        return bool(config.getini("qp_" + name)) if value is None else bool(value)

    return RegressionSettings(
        save_as=config.getoption("--qp-save-baseline"),
        add_to=config.getoption("--qp-add-to-baseline"),
        compare_with=_opt(config, "compare"),
        fail_on_regression=flag("fail_on_regression"),
        thresholds=parse_pairs(list(config.getini("qp_regression_thresholds"))
                               + list(config.getoption("--qp-regression-threshold")), "regression threshold"),
        any_machine=flag("compare_any_machine"),
        markdown_path=_path_opt(config, "compare_markdown"),
        gate_on=parse_names(_opt(config, "regression_gate_on")) or DEFAULT_GATE_ON,
        missing_baseline=parse_missing_baseline(_opt(config, "missing_baseline")),
    )
