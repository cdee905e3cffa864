"""Option help texts print the defaults a run really uses, and docs/options.md is current."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from qpbench.options import doc as options_doc
from qpbench.compare.thresholds import make_thresholds
from qpbench.config import ConfigError, parse_names, positive_int
from qpbench.options.argparse_help import pairs_of, positive_int_arg, show_default
from qpbench.options.pytest_options import read_regression_settings, read_settings
from qpbench.workload import WorkloadChoice, resolve_spec

# "<what it does>. Default: <value>[ (<note>)].[ Ini: <key>.]"
DEFAULT_IN_HELP = re.compile(r"Default: (?P<value>.*?)(?: \((?P<note>[^()]*)\))?\.(?: Ini: \w+\.)?$")


def test_every_pytest_option_help_shows_the_default_a_run_uses(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfig()
    settings, regression = read_settings(config), read_regression_settings(config)
    custom = resolve_spec(WorkloadChoice(model_factory="mymodels:make"))
    used = {
        "--qp-workload": settings.workload.name,
        "--qp-variants": settings.variants,
        "--qp-profile": settings.profile.name,
        "--qp-input-size": custom.input_size,
        "--qp-target": pairs_of(settings.scoring.targets),
        "--qp-weight": settings.scoring.weights,
        "--qp-quant-threshold": pairs_of(settings.scoring.quant),
        "--qp-hard-gates": settings.scoring.hard_gates,
        "--qp-results-dir": Path(settings.results_dir).relative_to(config.rootpath).as_posix(),
        "--qp-regression-threshold": dict(make_thresholds(regression.thresholds).default),
        "--qp-regression-gate-on": regression.gate_on,
        "--qp-missing-baseline": regression.missing_baseline,
        "--qp-worker-timeout": settings.profile.worker_timeout_s,
        "--qp-long-run": settings.long_run,
    }
    # No value when unset: the help says in words what happens then.
    unset = {
        "--qp-model-factory": settings.workload.model_factory,
        "--qp-checkpoint": settings.workload.checkpoint,
        "--qp-dataset": settings.workload.dataset,
        "--qp-eval-images": settings.eval_images,
        "--qp-fail-under": settings.fail_under,
        "--qp-budget": settings.budget_min,
        "--qp-report-dir": settings.report_dir,
        "--qp-save-baseline": regression.save_as,
        "--qp-add-to-baseline": regression.add_to,
        "--qp-compare": regression.compare_with,
        "--qp-compare-markdown": regression.markdown_path,
        "--qp-fail-on-regression": regression.fail_on_regression,
        "--qp-compare-any-machine": regression.any_machine,
        "--qp-build-cache": settings.build_cache,
        "--qp-rebuild": settings.rebuild,
    }
    options = {opt.names()[0]: opt.attrs()["help"] for opt in options_doc.pytest_options()}
    assert set(options) == set(used) | set(unset)
    for name, help_text in options.items():
        match = DEFAULT_IN_HELP.search(help_text)
        assert match, f"{name}: no 'Default: ...' in {help_text!r}"
        if name in used:
            assert match["value"] == show_default(used[name]), name
        else:
            assert not unset[name], name


@pytest.mark.parametrize("command", list(options_doc.cli_commands()))
def test_every_command_argument_help_shows_its_default(command: str) -> None:
    parser = options_doc.cli_commands()[command]
    for action in options_doc.command_arguments(parser):
        if action.default in (None, False, [], argparse.SUPPRESS):
            continue
        assert action.help and f"(default: {show_default(action.default)})" in action.help, \
            f"qpbench {command} {action.dest}: help {action.help!r}, default {action.default!r}"


def test_the_committed_options_reference_is_current() -> None:
    assert options_doc.DOC_PATH.read_text(encoding="utf-8") == options_doc.render(), \
        "docs/options.md is stale: run python -m qpbench.options.doc"


@pytest.mark.parametrize(("value", "names"), [
    (None, ()), ("", ()), ("a,b c", ("a", "b", "c")), (["a,b", "c", "a"], ("a", "b", "c")), (("x",), ("x",)),
])
def test_one_list_parser(value: object, names: tuple[str, ...]) -> None:
    assert parse_names(value) == names  # type: ignore[arg-type]


def test_list_parser_names_the_known_choices() -> None:
    with pytest.raises(ConfigError, match=r"unknown report format\(s\) \['pdf'\]: choose from html, md"):
        parse_names("html,pdf", "report format", ("html", "md"))


def test_positive_int_as_an_argparse_type() -> None:
    assert positive_int("3", "n") == 3
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=positive_int_arg("--n"))
    with pytest.raises(SystemExit):
        parser.parse_args(["--n", "0"])
