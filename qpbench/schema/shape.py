"""How a record type is written as JSON, where that is more than its fields: declared on the type,
carried out by pydantic (``qpbench.schema.codec``).

A dataclass that inherits :class:`Written` is read and written by pydantic strictly (no unknown
key, no string for a number) and may declare, as class attributes:

- ``__json_names__``: a field written under another key (``{"baseline_label": "baseline"}``);
- ``__json_derived__``: properties or methods whose values are written after the fields for
  readers of the file (a result's ``summary``), and ignored when read back;
- ``__json_order__``: the keys' order, where it is not the fields' (derived keys placed in it);
- ``__json_omit_empty__``: fields left out of the file when None or empty;
- ``__json_skip__``: fields never written (where a record was loaded from);
- ``kind`` (a ClassVar): written first, the tag that tells the result kinds apart.

Markers for a field's annotation: :data:`NULL_IS_NAN` (a float written as null when NaN, read
back as NaN), :data:`OPEN_ENDS` (an interval whose infinite ends are written as null) and
:data:`TEXT` (lines written as one text) and :class:`Matching` (text matching a pattern).

Nothing here imports pydantic: the hooks it calls import it when a schema is first built, so
importing a record type (and the pytest plugin) stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

STRICT = {"extra": "forbid", "strict": True, "serialize_by_alias": True}  # pydantic's config for every type a record holds


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (Mapping, tuple, list)) and not value)


class Written:
    """A record type pydantic reads and writes (see the module's docstring)."""

    __pydantic_config__ = STRICT
    __json_names__: ClassVar[Mapping[str, str]] = {}
    __json_derived__: ClassVar[tuple[str, ...]] = ()
    __json_order__: ClassVar[tuple[str, ...]] = ()
    __json_omit_empty__: ClassVar[tuple[str, ...]] = ()
    __json_skip__: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema as cs

        schema = handler(source)
        args = schema["schema"]
        for f in args["fields"]:
            name = f["name"]
            if name in cls.__json_names__:
                f["serialization_alias"] = f["validation_alias"] = cls.__json_names__[name]
            if name in cls.__json_skip__:
                f["serialization_exclude"] = True
            if name in cls.__json_omit_empty__:
                f["serialization_exclude_if"] = _empty
        # Derived keys are read as init-only arguments nobody takes: accepted and dropped, so that
        # the rest is validated straight from the JSON (a wrapping function would hand the
        # dataclass Python objects, where strict mode takes no list for a tuple).
        for name in (*(("kind",) if hasattr(cls, "kind") else ()), *cls.__json_derived__):
            args["fields"].append(cs.dataclass_field(name, cs.with_default_schema(cs.any_schema(), default=None),
                                                     init_only=True, serialization_exclude=True))

        def write(value: Any, serialize: Any) -> dict[str, Any]:
            data = serialize(value)
            head = {"kind": value.kind} if hasattr(cls, "kind") else {}
            for name in cls.__json_derived__:
                got = getattr(value, name)
                data[name] = got() if callable(got) else got
            data = {**head, **data}
            if cls.__json_order__:
                data = {k: data[k] for k in (*cls.__json_order__, *data) if k in data}
            return data

        args["collect_init_only"] = False  # nor handed to __post_init__
        inner = {k: v for k, v in schema.items() if k != "ref"}
        schema["serialization"] = cs.wrap_serializer_function_ser_schema(write, schema=inner)
        return schema

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        """The fields' schema, with the kind as a constant and the derived keys as read-only."""
        json_schema = handler(core_schema)
        target = handler.resolve_ref_schema(json_schema)
        properties = target.get("properties", {})
        derived = {name: {"readOnly": True, "description": f"written for readers ({cls.__name__}.{name}); not read"}
                   for name in cls.__json_derived__}
        if hasattr(cls, "kind"):
            properties = {"kind": {"const": cls.kind}, **{k: v for k, v in properties.items() if k != "kind"}}
            target["required"] = ["kind", *target.get("required", [])]
        target["properties"] = {**properties, **derived}
        if cls.__json_order__:
            target["properties"] = {k: target["properties"][k] for k in (*cls.__json_order__, *target["properties"])
                                    if k in target["properties"]}
        for name in cls.__json_skip__:
            target["properties"].pop(name, None)
        return json_schema


class _NullIsNan:
    """A float that may be NaN: written as null (JSON has no NaN), read back as NaN."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema as cs

        return cs.no_info_before_validator_function(lambda v: math.nan if v is None else v, handler(source))

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> Any:
        return {"anyOf": [handler(core_schema), {"type": "null"}], "description": "null: not a number"}


class _OpenEnds:
    """An interval (low, high) whose ends may be infinite: written as null, read back as -inf/inf."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema as cs

        def ends(v: Any) -> Any:
            if isinstance(v, (list, tuple)) and len(v) == 2:
                return (-math.inf if v[0] is None else v[0], math.inf if v[1] is None else v[1])
            return v

        return cs.no_info_before_validator_function(ends, handler(source))

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> Any:
        end = {"type": ["number", "null"]}
        return {"type": ["array", "null"], "prefixItems": [end, end], "minItems": 2, "maxItems": 2,
                "description": "low, high; null: an open end"}


class _Text:
    """Lines written as one text (null when there are none), read back as lines."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema as cs

        return cs.no_info_before_validator_function(
            lambda v: () if v is None else tuple(v.splitlines()) if isinstance(v, str) else v, handler(source),
            serialization=cs.plain_serializer_function_ser_schema(lambda lines: "\n".join(lines) or None))

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> Any:
        return {"type": ["string", "null"], "description": "one line per line; null: none"}


class Matching:
    """Text that matches ``pattern`` (a regular expression, searched from the start)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema as cs

        return cs.str_schema(pattern=self.pattern, strict=True)


NULL_IS_NAN = _NullIsNan()
OPEN_ENDS = _OpenEnds()
TEXT = _Text()
UTC_STAMP = Matching(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")  # ISO 8601, e.g. 2026-12-07T13:10:45+00:00


KIND_TAGS: set[str] = set()  # the kinds a union was built over: an error's path names the index, not the tag


class KindUnion:
    """The marker of a union of result kinds (``Annotated[A | B, KindUnion()]``): told apart by
    their ``kind``, an unknown kind named in the error."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        import typing

        from pydantic_core import core_schema as cs

        members = typing.get_args(source)
        KIND_TAGS.update(cls.kind for cls in members)
        return cs.tagged_union_schema({cls.kind: handler.generate_schema(cls) for cls in members}, "kind")
