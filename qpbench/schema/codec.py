"""Record types to JSON and back, by pydantic over the dataclasses themselves: the one place that
writes and reads them. The types say what is valid (``qpbench.schema.shape`` for where the JSON
departs from the fields); pydantic is imported on first use, not with the types.

- ``dump(value)``: the JSON-ready data (NaN and infinities as null, tuples as lists);
- ``load(cls, data)``: the typed value, or ``Invalid`` naming each bad field's path;
- ``json_schema(cls)``: the JSON schema the types give (``python -m qpbench.schema`` writes it).
"""

from __future__ import annotations

import functools
import json
from typing import Any, TypeVar

T = TypeVar("T")


class Invalid(ValueError):
    """Data that is not a valid ``cls``: ``problems`` holds one line per bad field, with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@functools.cache
def adapter(cls: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


def dump(value: Any, cls: Any = None) -> Any:
    """``value`` (of type ``cls``, by default its own) as plain JSON data."""
    return adapter(cls or type(value)).dump_python(value, mode="json")


def where(loc: tuple[Any, ...], root: str = "record") -> str:
    """A pydantic error location as a path, e.g. ``record.results[3].samples_s[0]``."""
    from qpbench.schema.shape import KIND_TAGS

    path, after_index = root, False
    for part in loc:
        if not (after_index and part in KIND_TAGS):  # a union's tag: the kind, already in the data
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        after_index = isinstance(part, int)
    return path


def load(cls: type[T], data: Any, root: str = "record") -> T:
    """``data`` (JSON data: dicts, lists, numbers) as a ``cls``; Invalid when it is not one."""
    from pydantic import ValidationError

    try:
        return adapter(cls).validate_json(json.dumps(data, allow_nan=False))
    except ValidationError as exc:
        raise Invalid([f"{where(e['loc'], root)}: {MESSAGES.get(e['type'], e['msg'])}" + _got(e)
                       for e in exc.errors(include_url=False)]) from None


MESSAGES = {"unexpected_keyword_argument": "unknown key (not a field of this type)"}


def _got(error: Any) -> str:
    if error["type"] in ("missing", "union_tag_not_found", "missing_argument") or isinstance(error.get("input"), dict):
        return ""
    shown = repr(error.get("input"))
    return f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"


def json_schema(cls: Any) -> dict[str, Any]:
    return adapter(cls).json_schema()
