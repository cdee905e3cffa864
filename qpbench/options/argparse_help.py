"""How command-line options are declared: argparse ``type``s made from the settings' parsers,
and defaults as the help texts (and docs/options.md) print them.

Used by the pytest options (``qpbench/options/pytest_options.py``) and every ``qpbench`` command's parser,
so a help text shows the value a run uses, written the one way.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

from qpbench.config import positive_int
from qpbench.errors import ConfigError


def argtype(parse: Callable[[str], Any], name: str = "value") -> Callable[[str], Any]:
    """An argparse ``type`` from a parser that raises ConfigError: the message becomes argparse's."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name
    return convert


def positive_int_arg(what: str) -> Callable[[str], int]:
    """An argparse ``type`` for a positive integer option named ``what``."""
    return argtype(lambda text: positive_int(text, what), "positive_int")


def show_default(value: Any) -> str:
    """A default as help texts and docs/options.md print it: 0.1, a,b,c, name=value, ..."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={show_default(v)}" for k, v in value.items())
    if isinstance(value, (tuple, list)):
        return ",".join(show_default(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def pairs_of(instance: Any) -> dict[str, Any]:
    """A dataclass's fields as {name: value}, in declaration order (for NAME=VALUE defaults)."""
    return {f.name: getattr(instance, f.name) for f in fields(instance)}
