"""docs/options.md: the pytest options and the ``qpbench`` commands, rendered from their parsers.

    python -m qpbench.options.doc           # rewrite docs/options.md
    python -m qpbench.options.doc --check   # exit 1 when docs/options.md is stale

The help texts print their defaults from ``qpbench.config``, so the page follows the
code; a test fails when the committed page differs from what this renders.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pytest

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "options.md"
GROUP = "qpbench"


def pytest_options() -> list[Any]:
    """The plugin's option group, as pytest's ``Argument`` objects, in the order they are added."""
    from qpbench.options.pytest_options import add_options

    parser = pytest.Parser(_ispytest=True)
    add_options(parser)
    return list(parser.getgroup(GROUP).options)


def cli_commands() -> dict[str, argparse.ArgumentParser]:
    """``qpbench``'s sub-commands by name; a nested one by its words (``baseline promote``)."""
    from qpbench.cli import build_parser

    return dict(_leaves(build_parser(), ""))


def _leaves(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, argparse.ArgumentParser]]:
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    if sub is None:
        return [(prefix.strip(), parser)]
    return [leaf for name, child in sub.choices.items() for leaf in _leaves(child, f"{prefix}{name} ")]


def command_arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """A command's arguments, without -h/--help."""
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def _cell(text: str) -> str:
    # argparse help escapes % as %%; a table cell cannot hold a bare |.
    return " ".join(text.replace("%%", "%").split()).replace("|", "\\|")


def _pytest_section() -> list[str]:
    lines = ["## pytest options", "", "Given to `pytest bench/` (or set with the ini key named in each).", "",
             "| Option | Value | Meaning |", "| --- | --- | --- |"]
    for opt in pytest_options():
        attrs = opt.attrs()
        value = "flag" if attrs.get("nargs") == 0 else attrs.get("metavar") or ""
        lines.append(f"| `{', '.join(opt.names())}` | {_cell(value)} | {_cell(attrs.get('help') or '')} |")
    return lines


def _command_section(name: str, parser: argparse.ArgumentParser) -> list[str]:
    lines = [f"## `qpbench {name}`", "", "| Argument | Value | Meaning |", "| --- | --- | --- |"]
    for action in command_arguments(parser):
        names = ", ".join(action.option_strings) or action.dest
        if action.nargs == 0:
            value = "flag"
        elif action.choices:
            value = "{" + ",".join(map(str, action.choices)) + "}"
        else:
            value = action.metavar or action.dest.upper()
        lines.append(f"| `{names}` | {_cell(str(value))} | {_cell(action.help or '')} |")
    return lines


def render() -> str:
    lines = ["# Options reference", "",
             "Generated from the parsers by `python -m qpbench.options.doc`: do not edit by hand. Every default",
             "printed here comes from `qpbench/config.py`.", ""]
    lines += _pytest_section()
    for name, parser in cli_commands().items():
        lines += ["", *_command_section(name, parser)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qpbench.options.doc", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale instead of writing it")
    parser.add_argument("--out", type=Path, default=DOC_PATH, help=f"the page (default: {DOC_PATH})")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run python -m qpbench.options.doc", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
