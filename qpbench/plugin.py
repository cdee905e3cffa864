"""The pytest plugin: options, fixtures, parametrization, verdict, CI gate.

Hooks only; the work is done by ``qpbench.session.QPSession``, the run's one
session object, kept in ``config.stash``. Registered through the ``pytest11``
entry point.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from qpbench import hookspec, progress
from qpbench.run import timing_lock
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
from qpbench.argparse_help import argtype, pairs_of, positive_int_arg, show_default
from qpbench.errors import QPBenchError, VariantUnavailable
from qpbench.compare.gate import exit_status
from qpbench.run.hosts import host_key
from qpbench.compare.regression import MARKER as REGRESSION_MARKER, RegressionSettings, RegressionStep, marker_overrides
from qpbench.session import QPSession
from qpbench.workload import CUSTOM_INPUT_SIZE, WorkloadChoice

SESSION_KEY = pytest.StashKey[QPSession]()
BENCHMARK_DEFAULT_STORAGE = "file://./.benchmarks"  # pytest-benchmark's default --benchmark-storage
VARIANT_FIXTURE = "qp_variant_name"
AFTER_SCREEN = "qp_after_screen"
LAST_MARKER = "qp_last"
BATCH_FIXTURE = "qp_batch_size"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)


def _help(text: str, default: str, ini: str | None, note: str | None = None) -> str:
    """An option's help: what it does, then its default (printed from qpbench.config), then its ini key."""
    return f"{text}. Default: {default}" + (f" ({note})" if note else "") + "." + (f" Ini: {ini}." if ini else "")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qpbench", "qpbench: CPU deployment readiness of a PyTorch model")
    group.addoption("--qp-workload", metavar="NAME", help=_help("built-in workload: 'default' (ResNet-50, the plan's model) or 'compact' (small CNN)", RUN.workload, "qp_workload"))
    group.addoption("--qp-model-factory", metavar="MODULE:CALLABLE", help=_help("your model factory; replaces the built-in model", "the workload's model", "qp_model_factory"))
    group.addoption("--qp-checkpoint", metavar="PATH", help=_help("state_dict for the model, loaded with weights_only=True", "the workload's own", "qp_checkpoint"))
    group.addoption("--qp-dataset", metavar="PATH", help=_help("labelled .npz (images, img_idx, params_vec, ssim)", "the shipped held-out split", "qp_dataset"))
    group.addoption("--qp-input-size", metavar="PIXELS", type=positive_int_arg("--qp-input-size"), help=_help("side of the model's input after preprocessing", show_default(CUSTOM_INPUT_SIZE), "qp_input_size", "for a custom model; a built-in workload has its own"))
    group.addoption("--qp-variants", metavar="NAME,...", help=_help("variants to measure, or 'all'", show_default(DEFAULT_VARIANTS), "qp_variants"))
    group.addoption("--qp-profile", metavar="NAME", choices=list(PROFILES), help=_help(f"measurement length: {', '.join(PROFILES)}", RUN.profile, "qp_profile"))
    group.addoption("--qp-worker-timeout", metavar="SECONDS", type=positive_int_arg("--qp-worker-timeout"), help=_help("seconds after which a worker's build or measurement is killed; it fails that test only", show_default(get_profile(RUN.profile).worker_timeout_s), "qp_worker_timeout", "the default profile's; each profile has its own"))
    group.addoption("--qp-long-run", metavar="all|ready|NAME,...", help=_help("which variants get the measurements after the screen (larger batches, throughput, memory, stress, concurrency, LoadGen): 'ready' those that can still be recommended, 'all' every variant, NAMEs those besides the screen's choice", show_default(DEFAULT_LONG_RUN), "qp_long_run", "every variant under pytest-xdist"))
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
    parser.addini("qp_long_run", "variants measured after the screen: all, ready or names", type="args", default=[])
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


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads --benchmark-save
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "qpbench: a qpbench measurement (set automatically on tests parametrized over variants)")
    config.addinivalue_line("markers", f"{REGRESSION_MARKER}(**thresholds): this test's regression thresholds, "
                            "e.g. latency=0.25 (for the test's variant, or all variants when not parametrized)")
    config.addinivalue_line("markers", "qp_timing: a timing measurement; never runs beside another qpbench test on "
                            "the same machine under pytest-xdist")
    config.addinivalue_line("markers", f"{LAST_MARKER}: runs after every other test (the head-to-head timing "
                            "of the fastest ready variants, which needs every other figure)")
    config.addinivalue_line("markers", f"{AFTER_SCREEN}(screen_batch_size=None): measured after the screen, for the "
                            "variants that can still be recommended (--qp-long-run); with screen_batch_size, that "
                            "batch size's test is part of the screen")
    try:
        settings = read_settings(config)
        is_worker = hasattr(config, "workerinput")
        regression = RegressionStep(read_regression_settings(config), settings.results_dir, str(config.rootpath),
                                    is_worker)
    except QPBenchError as exc:
        raise pytest.UsageError(f"qpbench: {exc}") from None
    if regression.active and hasattr(config.option, "benchmark_storage") and not is_worker:
        # pytest-benchmark keeps its part of a baseline in its own storage, under the same name;
        # unless told otherwise, beside qpbench's (so --benchmark-compare finds it there too).
        if config.option.benchmark_storage == BENCHMARK_DEFAULT_STORAGE:
            config.option.benchmark_storage = "file://" + str(Path(settings.results_dir) / "baselines" / "benchmark")
        if regression.settings.save_as:
            config.option.benchmark_save = config.option.benchmark_save or regression.settings.save_as
            regression.benchmark_storage = str(config.option.benchmark_storage)
    config.stash[SESSION_KEY] = QPSession(config, settings, regression)


def qp_session_of(config: pytest.Config) -> QPSession:
    return config.stash[SESSION_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if VARIANT_FIXTURE in metafunc.fixturenames:
        names = qp_session_of(metafunc.config).selected_variants()
        metafunc.parametrize(VARIANT_FIXTURE, names, ids=names)
    if BATCH_FIXTURE in metafunc.fixturenames:
        sizes = qp_session_of(metafunc.config).settings.profile.batch_sizes
        metafunc.parametrize(BATCH_FIXTURE, sizes, ids=[f"b{b}" for b in sizes])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    qp = qp_session_of(config)
    regression = qp.regression
    group_by_variant(items, [qp.reference, *qp.selected_variants()])
    screen_first(items)
    items.sort(key=lambda item: item.get_closest_marker(LAST_MARKER) is not None)  # stable: the rest keep their order
    for item in items:
        if VARIANT_FIXTURE in getattr(item, "fixturenames", ()):
            item.add_marker("qpbench")
        for marker in item.iter_markers(REGRESSION_MARKER):
            callspec = getattr(item, "callspec", None)
            try:
                values = marker_overrides(marker, item.nodeid)
            except QPBenchError as exc:
                raise pytest.UsageError(f"qpbench: {exc}") from None
            regression.add_override(callspec.params.get(VARIANT_FIXTURE) if callspec else None, values)


def variant_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(VARIANT_FIXTURE) if callspec else None


def group_by_variant(items: list[pytest.Item], order: list[str]) -> None:
    """The reference's tests first, then each variant's together (in place, other tests where they
    were): one variant worker at a time holds its model (see docs/engine.md)."""
    rank = {name: i for i, name in enumerate(dict.fromkeys(order))}
    slots = [i for i, item in enumerate(items) if variant_of(item) is not None]
    grouped = sorted((items[i] for i in slots), key=lambda item: rank.get(variant_of(item), len(rank)))
    for slot, item in zip(slots, grouped):
        items[slot] = item


def after_screen(item: pytest.Item) -> bool:
    """Whether ``item`` is measured after the screen (for the variants still in the running)."""
    marker = item.get_closest_marker(AFTER_SCREEN)
    if marker is None or variant_of(item) is None:
        return False
    screen_batch = marker.kwargs.get("screen_batch_size")
    callspec = getattr(item, "callspec", None)
    return screen_batch is None or callspec is None or callspec.params.get(BATCH_FIXTURE) != screen_batch


def screen_first(items: list[pytest.Item]) -> None:
    """Every variant's screen before any measurement after it (in place, stable: the variants
    keep their order within each part), so the screen decides with every variant's figures."""
    slots = [i for i, item in enumerate(items) if variant_of(item) is not None]
    ordered = sorted((items[i] for i in slots), key=after_screen)
    for slot, item in zip(slots, ordered):
        items[slot] = item


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A measurement after the screen of a variant the screen left out is skipped with why,
    before its worker is started."""
    last = item.get_closest_marker(LAST_MARKER) is not None  # the head-to-head: after the screen too
    if not (after_screen(item) or last):
        return
    variant = variant_of(item) or ""
    qp = qp_session_of(item.config)
    reason = None if last else qp.screen().out.get(variant)
    if reason is not None:
        pytest.skip(f"screened out: {reason} (--qp-long-run={variant} measures it)")
    over = qp.over_budget(variant, item.name)
    if over is not None:
        pytest.skip(over)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist controller: its workers journal under the controller's run id."""
    node.workerinput["qp_run_id"] = qp_session_of(node.config).run_id


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say so when an earlier run stopped before its end: its results are in its journal."""
    return [f"qpbench: an earlier run stopped before its end; its results are in {path}: "
            f"`qpbench report {path}` renders them (partial)" for path in qp_session_of(config).leftover_journals()]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Check variants and workload before any test runs: bad input is a usage error."""
    qp = qp_session_of(session.config)
    items = [i for i in session.items if i.get_closest_marker("qpbench")]
    if not items:
        return
    try:
        qp.resolve_scoring()
        qp.prepare(check_workload=not _overrides_fixture(items[0], "qp_workload"))
    except QPBenchError as exc:
        raise pytest.UsageError(f"qpbench: {exc}") from None
    lines = qp.plan([(variant_of(i) or "", i.name) for i in items])
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and not qp.is_worker:
        reporter.ensure_newline()
        for line in lines:
            reporter.write_line(line)


def _overrides_fixture(item: pytest.Item, name: str) -> bool:
    """Whether a fixture ``name`` other than this plugin's is visible to ``item``: one in a
    plugin, in a conftest.py above the item, in the item's module or in its class.

    Read from the namespaces pytest collects fixtures from, since pytest has no public
    API that names the fixture definition an item will use.
    """
    namespaces: list[Any] = []
    for plugin in item.config.pluginmanager.get_plugins():
        if not isinstance(plugin, ModuleType) or plugin.__name__ == __name__:
            continue
        where = Path(getattr(plugin, "__file__", None) or ".")
        if where.name != "conftest.py" or where.parent in item.path.parents:
            namespaces.append(plugin)
    namespaces += [getattr(item, "module", None), getattr(item, "cls", None)]
    return any(_defines_fixture(ns, name) for ns in namespaces if ns is not None)


def _defines_fixture(namespace: Any, name: str) -> bool:
    # A fixture is named by its function's __name__ or, from pytest 8.4, by the fixture
    # definition's ``name`` (which carries ``@pytest.fixture(name=...)``).
    return any(callable(value) and name in (getattr(value, "__name__", None), getattr(value, "name", None))
               and getattr(value, "__module__", None) != __name__ for value in vars(namespace).values())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Under pytest-xdist: a timing test runs alone on its machine, the others side by side.
    Each qpbench test's time is booked to its stage (run_clock.py); where a person watches, a
    line with the elapsed time and the ETA follows each variant's part of the run."""
    if not item.get_closest_marker("qpbench"):
        return (yield)
    qp = qp_session_of(item.config)
    started, built = time.monotonic(), qp.build_seconds()
    try:
        with timing_lock.held(item.config, exclusive=item.get_closest_marker(timing_lock.TIMING_MARKER) is not None):
            return (yield)
    finally:
        qp.book(variant_of(item) or "", item.name, time.monotonic() - started, qp.build_seconds() - built)
        if progress.enabled() and not qp.is_worker and _part(item) != _part(nextitem):
            _say_progress(item, qp)


def _part(item: pytest.Item | None) -> tuple[str | None, bool] | None:
    """A variant's screen, or its measurements after the screen: the run's progress steps."""
    return None if item is None else (variant_of(item), after_screen(item))


def _say_progress(item: pytest.Item, qp: QPSession) -> None:
    items = item.session.items
    remaining = items[items.index(item) + 1:] if item in items else []
    line = (f"qpbench: {variant_of(item)} {'measured' if after_screen(item) else 'screened'}; "
            + qp.eta([(variant_of(i) or "", i.name) for i in remaining if i.get_closest_marker("qpbench")]))
    reporter = item.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(line)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    callspec = getattr(item, "callspec", None)
    variant = callspec.params.get(VARIANT_FIXTURE) if callspec else None
    if report.failed and variant is not None:  # setup errors (a build crash) count too
        qp_session_of(item.config).record_error(variant, item.name, call.excinfo)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    """After the tests: score, write the record, and apply the gate (as pytest-cov does)."""
    result = yield
    qp = qp_session_of(session.config)
    qp.close_workers()
    if qp.is_worker:
        qp.send_to_controller()
    elif qp.has_results:
        qp.finish()
        if qp.gate.failed:
            session.testsfailed += 1
    return result


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A regression gate that could not judge (every gated figure taken under load) ends the run
    with gate.INCONCLUSIVE_EXIT (75), not a failure, so CI can retry it. Set here, as pytest-cov
    sets its own, never raised from the terminal summary; a failure (1) or pytest's own status
    is kept. pytest prints its summary for the status it called this hook with."""
    qp = session.config.stash.get(SESSION_KEY, None)
    if qp is not None and not qp.is_worker:
        session.exitstatus = exit_status(qp.gate, session.exitstatus)


def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist controller: collect a worker's records."""
    qp_session_of(node.config).receive_from_worker(getattr(node, "workeroutput", {}), host_key(node.config, node))


@pytest.hookimpl(trylast=True)  # a user's pytest_qpbench_generate_fingerprint comes first
def pytest_qpbench_generate_fingerprint(config: pytest.Config) -> dict[str, Any]:
    from qpbench.system import fingerprint

    return fingerprint()


@pytest.hookimpl(trylast=True)  # a user's pytest_qpbench_generate_record comes first
def pytest_qpbench_generate_record(config: pytest.Config, verdict: Any, results: Any, fingerprint: Any,
                                   errors: Any) -> Any:
    return qp_session_of(config).build_record(verdict, results, fingerprint, errors)


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark's, which raises when --benchmark-compare-fail trips
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    qp = qp_session_of(config)
    if qp.verdict is None:
        return
    for section in qp.summary_sections():
        terminalreporter.write_sep("=", section.title)
        for line in section.lines:
            red = line.startswith("FAIL") or (section.regressions_red and " regressed" in line)
            terminalreporter.write_line(line, red=red, green=line.startswith("PASS"),
                                        yellow=line.startswith(("WARN", "INCONCLUSIVE")))


# Fixtures -----------------------------------------------------------------


@pytest.fixture(scope="session")
def qp_session(request: pytest.FixtureRequest) -> QPSession:
    """The run's QPSession: settings, variant cache, records."""
    return qp_session_of(request.config)


@pytest.fixture(scope="session")
def qp_workload(qp_session: QPSession) -> Any:
    """The workload under test. Override in your conftest.py to supply your own:

    ``return qpbench.workload.load_workload(WorkloadSpec(...))``.
    """
    return qp_session.workload()


@pytest.fixture(scope="session")
def qp_profile(qp_session: QPSession) -> Any:
    return qp_session.settings.profile


@pytest.fixture
def qp_variant(qp_session: QPSession, qp_workload: Any, qp_variant_name: str) -> Any:
    """The built variant named by the test's parameter (built once per run)."""
    qp_session.use_workload(qp_workload)
    try:
        return qp_session.variant(qp_variant_name)
    except VariantUnavailable as exc:
        pytest.skip(f"variant {qp_variant_name!r} unavailable here: {exc}")


@pytest.fixture
def qp_measured(qp_session: QPSession, qp_workload: Any, qp_variant_name: str) -> Any:
    """The variant named by the test's parameter as the engine measures it: built (once) in its
    own worker process, which answers measurement requests (see docs/engine.md)."""
    qp_session.use_workload(qp_workload)
    measured = qp_session.engine.variant(qp_variant_name)
    try:
        measured.ensure()
    except VariantUnavailable as exc:
        pytest.skip(f"variant {qp_variant_name!r} unavailable here: {exc}")
    return measured


@pytest.fixture
def qp_record(qp_session: QPSession) -> Any:
    """Call with a result from qpbench.results to hand it to the verdict."""
    return qp_session.record
