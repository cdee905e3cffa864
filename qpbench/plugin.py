"""The pytest plugin: options, fixtures, parametrization, verdict, CI gate.

Hooks only; the work is done by ``qpbench.session.QPSession``, the run's one
session object, kept in ``config.stash``, and the options are declared and read
in ``qpbench.options``. Registered through the ``pytest11`` entry point.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from qpbench import hookspec, progress
from qpbench.run import screening, timing_lock
from qpbench.errors import QPBenchError, VariantUnavailable
from qpbench.compare.gate import exit_status
from qpbench.run.hosts import host_key
from qpbench.compare.regression import MARKER as REGRESSION_MARKER, RegressionStep, marker_overrides
from qpbench.options.pytest_options import add_options, read_regression_settings, read_settings
from qpbench.session import QPSession

SESSION_KEY = pytest.StashKey[QPSession]()
BENCHMARK_DEFAULT_STORAGE = "file://./.benchmarks"  # pytest-benchmark's default --benchmark-storage
VARIANT_FIXTURE = "qp_variant_name"
AFTER_SCREEN = "qp_after_screen"
LAST_MARKER = "qp_last"
BATCH_FIXTURE = "qp_batch_size"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


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
        regression = RegressionStep.open(read_regression_settings(config), settings.results_dir, str(config.rootpath),
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
    config.pluginmanager.register(SpeedOrderLoop(), "qpbench-speed-order")


def qp_session_of(config: pytest.Config) -> QPSession:
    return config.stash[SESSION_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if VARIANT_FIXTURE in metafunc.fixturenames:
        names = qp_session_of(metafunc.config).variants.selected()
        metafunc.parametrize(VARIANT_FIXTURE, names, ids=names)
    if BATCH_FIXTURE in metafunc.fixturenames:
        sizes = qp_session_of(metafunc.config).settings.profile.batch_sizes
        metafunc.parametrize(BATCH_FIXTURE, sizes, ids=[f"b{b}" for b in sizes])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    qp = qp_session_of(config)
    regression = qp.regression
    group_by_variant(items, [qp.reference, *qp.variants.selected()])
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
    reason = None if last else qp.long_run_skip(variant)
    if reason is not None:
        pytest.skip(f"screened out: {reason} (--qp-long-run=all or ={variant} measures it)")
    over = qp.planner.over_budget(variant, item.name)
    if over is not None:
        pytest.skip(over)


def order_by_speed(items: list[pytest.Item], start: int, order: tuple[str, ...]) -> None:
    """The measurements after the screen from ``start`` on, each variant's together, in ``order``
    (in place; the others keep their places)."""
    rank = {name: i for i, name in enumerate(order)}
    slots = [i for i in range(start, len(items)) if after_screen(items[i])]
    ordered = sorted((items[i] for i in slots), key=lambda item: rank.get(variant_of(item), len(rank)))
    for slot, item in zip(slots, ordered):
        items[slot] = item


class SpeedOrderLoop:
    """pytest's own loop, except under ``--qp-long-run=contenders`` without pytest-xdist: once the
    screen has run, the measurements after it go variant by variant, fastest first (the screen's
    order), so that a variant on standby is decided after every faster one was measured in full.
    (A plugin object of its own: the module's ``pytest_runtestloop`` is the wrapper that finishes.)"""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        qp = qp_session_of(session.config)
        if (screening.CONTENDERS not in qp.settings.long_run or qp.is_worker or session.config.option.collectonly
                or session.config.pluginmanager.hasplugin("dsession")
                or (session.testsfailed and not session.config.option.continue_on_collection_errors)):
            return None  # pytest's (or pytest-xdist's) loop
        items, ordered, i = session.items, False, 0
        while i < len(items):
            if not ordered and after_screen(items[i]):
                order_by_speed(items, i, qp.screen().order)
                ordered = True
            nextitem = items[i + 1] if i + 1 < len(items) else None
            if not ordered and nextitem is not None and after_screen(nextitem):
                nextitem = None  # what follows is reordered before it runs: tear down as at the end
            items[i].config.hook.pytest_runtest_protocol(item=items[i], nextitem=nextitem)
            if session.shouldfail:
                raise session.Failed(session.shouldfail)
            if session.shouldstop:
                raise session.Interrupted(session.shouldstop)
            i += 1
        return True


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
    started, built = time.monotonic(), qp.variants.build_s()
    try:
        with timing_lock.held(item.config, exclusive=item.get_closest_marker(timing_lock.TIMING_MARKER) is not None):
            return (yield)
    finally:
        qp.book(variant_of(item) or "", item.name, time.monotonic() - started, qp.variants.build_s() - built)
        if progress.enabled() and not qp.is_worker and _part(item) != _part(nextitem):
            _say_progress(item, qp)


def _part(item: pytest.Item | None) -> tuple[str | None, bool] | None:
    """A variant's screen, or its measurements after the screen: the run's progress steps."""
    return None if item is None else (variant_of(item), after_screen(item))


def _say_progress(item: pytest.Item, qp: QPSession) -> None:
    items = item.session.items
    remaining = items[items.index(item) + 1:] if item in items else []
    line = (f"qpbench: {variant_of(item)} {'measured' if after_screen(item) else 'screened'}; "
            + qp.planner.eta([(variant_of(i) or "", i.name) for i in remaining if i.get_closest_marker("qpbench")]))
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
        qp_session_of(item.config).collected.record_error(variant, item.name, call.excinfo)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    """After the tests: score, write the record, and apply the gate (as pytest-cov does)."""
    result = yield
    qp = qp_session_of(session.config)
    qp.variants.close()
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
    return qp_session.variants.workload()


@pytest.fixture(scope="session")
def qp_profile(qp_session: QPSession) -> Any:
    return qp_session.settings.profile


@pytest.fixture
def qp_variant(qp_session: QPSession, qp_workload: Any, qp_variant_name: str) -> Any:
    """The built variant named by the test's parameter (built once per run)."""
    qp_session.variants.use_workload(qp_workload)
    try:
        return qp_session.variants.get(qp_variant_name)
    except VariantUnavailable as exc:
        pytest.skip(f"variant {qp_variant_name!r} unavailable here: {exc}")


@pytest.fixture
def qp_measured(qp_session: QPSession, qp_workload: Any, qp_variant_name: str) -> Any:
    """The variant named by the test's parameter as the engine measures it: built (once) in its
    own worker process, which answers measurement requests (see docs/engine.md)."""
    qp_session.variants.use_workload(qp_workload)
    measured = qp_session.variants.engine.variant(qp_variant_name)
    try:
        measured.ensure()
    except VariantUnavailable as exc:
        pytest.skip(f"variant {qp_variant_name!r} unavailable here: {exc}")
    return measured


@pytest.fixture
def qp_record(qp_session: QPSession) -> Any:
    """Call with a result from qpbench.results to hand it to the verdict."""
    return qp_session.collected.record
