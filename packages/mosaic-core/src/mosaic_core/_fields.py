"""Checking a config field's value against its annotation, and turning it back into JSON.

The annotation decides: ``int``, ``float``, ``str``, ``bool``, ``None``,
unions, ``Literal``, ``list``/``tuple``/``dict`` of those, enums, paths,
nested dataclasses, and ``Annotated[T, ...]`` whose ``annotated_types``
markers (``Gt``, ``Ge``, ``Lt``, ``Le``, ``Interval``, ``MultipleOf``,
``MinLen``, ``MaxLen``) are constraints. Every refusal is a
:class:`~mosaic_core.ConfigError` naming the field, the value and what was
expected.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import sys
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

from mosaic_core._errors import ConfigError, did_you_mean

__all__ = [
    "MAX_DEPTH",
    "Secret",
    "check_json",
    "coerce",
    "constraints_of",
    "describe",
    "describe_constraints",
    "hints",
    "metadata_of",
    "plain",
]

_INT64 = (-(2**63), 2**63 - 1)
_SURROGATE = re.compile("[\ud800-\udfff]")

#: How deep a config may nest objects and lists. No config needs more, and far
#: deeper values exhaust the stack of whatever walks them next.
MAX_DEPTH = 64
_MAX_NODES = 1_000_000


class _SecretMarker:
    """The type of :data:`Secret`."""

    def __repr__(self) -> str:
        return "Secret"


#: Marks a config field as a secret: ``api_key: Annotated[str | None, Secret] = None``.
#: Its value never reaches ``config.json`` (the worker gets it through its
#: environment), front ends show it as a password and never read it back.
#: Fields named like a secret (``*_token``, ``*api_key``, ``password`` ...) are
#: secrets without the marker.
Secret = _SecretMarker()


_HINTS: dict[type, dict[str, Any]] = {}


def hints(cls: type) -> dict[str, Any]:
    """The class's field annotations, resolved, with ``Annotated`` metadata kept (cached)."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls, include_extras=True)
    return hints


def _paths() -> type[Any] | None:
    """``pathlib.PurePath``, or None while nothing has imported ``pathlib``: no value or
    annotation can be a path then, and a worker reaches ``run_started`` without it (and
    the ``urllib.parse`` and ``ipaddress`` it brings)."""
    module = sys.modules.get("pathlib")
    return None if module is None else module.PurePath


def metadata_of(tp: Any) -> tuple[Any, ...]:
    """The ``Annotated`` metadata of ``tp``, also inside ``Optional[Annotated[...]]``."""
    found: list[Any] = []
    if typing.get_origin(tp) is typing.Annotated:
        found += list(tp.__metadata__)
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            if typing.get_origin(arg) is typing.Annotated:
                found += list(arg.__metadata__)
    return tuple(found)


def describe(tp: Any) -> str:
    if tp is Any:
        return "any value"
    if typing.get_origin(tp) is typing.Annotated:
        base = describe(typing.get_args(tp)[0])
        found = constraints_of(tp.__metadata__)
        return describe_constraints(found, base) if found else base
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in typing.get_args(tp))
    if origin in (list, tuple, dict):
        return f"a {'list' if origin is not dict else 'JSON object'} ({tp})"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in tp)
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def check_json(value: Any, field: str = "") -> None:
    """Refuse what no config needs and what breaks everything below it: nesting deeper
    than :data:`MAX_DEPTH`, integers beyond 64 bits, text that is not valid Unicode (a
    lone surrogate such as ``"\\ud800"``: neither UTF-8 nor SQLite can hold it).

    ``field`` names the value (``--set`` key, file name); errors name the path
    inside it. The walk is iterative and bounded, so a hostile document (deep,
    self-referencing YAML, a billion laughs) cannot exhaust the stack or hang it.
    """
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    nodes = 0
    while stack:
        item, where, depth = stack.pop()
        nodes += 1
        if nodes > _MAX_NODES:
            raise ConfigError(
                f"config {field or 'document'!r} has more than {_MAX_NODES:,} values; "
                "expected a config, not a data set",
                field=field or None,
                expected=f"at most {_MAX_NODES:,} values",
            )
        if isinstance(item, str):
            _check_text(item, where)
        elif type(item) is int:
            if not _INT64[0] <= item <= _INT64[1]:
                raise ConfigError.bad_value(
                    where, item, "an integer that fits in 64 bits (|n| < 2**63)"
                )
        elif isinstance(item, (Mapping, list, tuple)):
            if depth >= MAX_DEPTH:
                shown = where if len(where) <= 60 else where[:57] + "..."
                raise ConfigError(
                    f"config field {shown!r} is nested more than {MAX_DEPTH} levels "
                    f"deep; expected at most {MAX_DEPTH} levels of objects and lists",
                    field=where or None,
                    expected=f"at most {MAX_DEPTH} levels",
                )
            if isinstance(item, Mapping):
                for key, child in item.items():
                    name = str(key) if isinstance(key, str) else repr(key)
                    path = f"{where}.{name}" if where else name
                    if isinstance(key, str):
                        _check_text(key, path, what="key")
                    stack.append((child, path, depth + 1))
            else:
                stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))


def _check_text(text: str, where: str, what: str = "field") -> None:
    if not text.isascii() and _SURROGATE.search(text):
        message = (
            f"config {what} {where!r}: got {text[:40]!r}, which holds a lone surrogate; "
            "expected valid Unicode text"
        )
        raise ConfigError(message, field=where, value=text, expected="valid Unicode text")


def _coerce_secret(value: Any, tp: Any, field: str) -> Any:
    """:func:`coerce` for a secret field: an error names the field and what was expected,
    never the value (it ends up in terminals, logs and web pages)."""
    try:
        value = coerce(value, typing.get_args(tp)[0], field)
        if value is not None:
            _check_constraints(value, tp.__metadata__, field)
    except ConfigError as exc:
        raise ConfigError(
            f"config field {field!r}: got *** (a secret, not shown: a value of type "
            f"{type(value).__name__}); expected {exc.expected or 'another value'}",
            field=field,
            value="***",
            expected=exc.expected,
        ) from None
    return value


def coerce(value: Any, tp: Any, field: str) -> Any:
    """Return ``value`` checked (and minimally converted) against annotation ``tp``."""
    if tp is Any or tp is object:
        return value
    if type(value) is int and not _INT64[0] <= value <= _INT64[1]:
        raise ConfigError.bad_value(field, value, "an integer that fits in 64 bits (|n| < 2**63)")
    if typing.get_origin(tp) is typing.Annotated:
        if any(m is Secret for m in tp.__metadata__):
            return _coerce_secret(value, tp, field)
        value = coerce(value, typing.get_args(tp)[0], field)
        if value is not None:
            _check_constraints(value, tp.__metadata__, field)
        return value
    if tp is type(None):
        if value is None:
            return value
        raise ConfigError.bad_value(field, value, "null")
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        deeper: ConfigError | None = None
        for arg in args:
            try:
                return coerce(value, arg, field)
            except ConfigError as exc:
                # An error inside the value (``schedule.start``) says more than "wrong type".
                if deeper is None and exc.field != field:
                    deeper = exc
        if deeper is not None:
            raise deeper
        raise ConfigError.bad_value(field, value, describe(tp))
    if origin is Literal:
        if any(a == value and isinstance(a, bool) == isinstance(value, bool) for a in args):
            return value
        hint = (
            did_you_mean(value, [a for a in args if isinstance(a, str)])
            if isinstance(value, str)
            else ""
        )
        raise ConfigError.bad_value(field, value, describe(tp) + hint)
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError.bad_value(field, value, describe(tp))
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise ConfigError.bad_value(field, value, f"{len(args)} items ({tp})")
            items = [
                coerce(v, a, f"{field}[{i}]")
                for i, (v, a) in enumerate(zip(value, args, strict=True))
            ]
        else:
            item_type = args[0] if args else Any
            items = [coerce(v, item_type, f"{field}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin or tp) is tuple else items
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError.bad_value(field, value, "a JSON object")
        key_type, item_type = args if args else (Any, Any)
        return {
            coerce(k, key_type, f"{field}.<key>"): coerce(v, item_type, f"{field}.{k}")
            for k, v in value.items()
        }
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError.bad_value(field, value, "true or false")
    if tp is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 1e4 from a command line is the integer 10000
        if isinstance(value, int) and not isinstance(value, bool):
            if not _INT64[0] <= value <= _INT64[1]:
                raise ConfigError.bad_value(
                    field, value, "an integer that fits in 64 bits (|n| < 2**63)"
                )
            return value
        raise ConfigError.bad_value(field, value, "an integer")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError.bad_value(field, value, "a number")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError.bad_value(field, value, "a string")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, tp):
            return value
        try:
            return tp(value)
        except ValueError:
            raise ConfigError.bad_value(field, value, describe(tp)) from None
    paths = _paths()
    if paths is not None and isinstance(tp, type) and issubclass(tp, paths):
        if isinstance(value, (str, paths)):
            return tp(value)
        raise ConfigError.bad_value(field, value, "a path string")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return _nested(tp, value, field)
        raise ConfigError.bad_value(field, value, f"a JSON object for {tp.__name__}")
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise ConfigError.bad_value(field, value, describe(tp))
    return value


_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def constraints_of(metadata: Any) -> dict[str, Any]:
    """``gt``/``ge``/``lt``/``le``/``multiple_of``/``min_length``/``max_length`` from
    ``annotated_types`` markers (read by their attributes, so any such marker works)."""
    out: dict[str, Any] = {}
    for marker in metadata:
        if getattr(marker, "__is_annotated_types_grouped_metadata__", False):
            out.update(constraints_of(list(marker)))
            continue
        for key in ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length"):
            bound = getattr(marker, key, None)
            if bound is not None and not callable(bound):
                out[key] = bound
    return out


def describe_constraints(found: Mapping[str, Any], what: str = "a number") -> str:
    parts = [f"{sign} {found[key]}" for key, sign in _BOUNDS if key in found]
    text = f"{what} " + " and ".join(parts) if parts else what
    if "multiple_of" in found:
        text += f", a multiple of {found['multiple_of']}"
    if "min_length" in found or "max_length" in found:
        low, high = found.get("min_length", 0), found.get("max_length")
        text += f" with {low}" + (f" to {high}" if high is not None else " or more") + " items"
    return text


def _check_constraints(value: Any, metadata: Any, field: str) -> None:
    found = constraints_of(metadata)
    if not found:
        return
    ok = True
    try:
        for key, test in (("gt", value.__gt__), ("ge", value.__ge__), ("lt", value.__lt__),
                          ("le", value.__le__)):  # fmt: skip
            if key in found and test(found[key]) is not True:
                ok = False
        if "multiple_of" in found and value % found["multiple_of"] != 0:
            ok = False
        if "min_length" in found and len(value) < found["min_length"]:
            ok = False
        if "max_length" in found and len(value) > found["max_length"]:
            ok = False
    except TypeError:
        ok = False
    if not ok:
        what = "an integer" if isinstance(value, int) else "a number"
        if isinstance(value, (str, list, tuple, dict)):
            what = "a value"
        raise ConfigError.bad_value(field, value, describe_constraints(found, what))


def _nested(tp: type, value: Mapping[str, Any], field: str) -> Any:
    names = {f.name for f in dataclasses.fields(tp) if f.init}
    for key in value:
        if key not in names:
            raise ConfigError(
                f"unknown config key {field}.{key}{did_you_mean(str(key), names)}; "
                f"known keys: {', '.join(sorted(names))}",
                field=f"{field}.{key}",
                value=value[key],
                expected=f"one of {sorted(names)}",
            )
    annotations = hints(tp)
    converted = {k: coerce(v, annotations.get(k, Any), f"{field}.{k}") for k, v in value.items()}
    try:
        return tp(**converted)
    except TypeError as exc:
        raise ConfigError(f"config field {field!r}: {exc}", field=field, value=value) from None


def plain(value: Any) -> Any:
    """Turn a field value back into JSON types."""
    if isinstance(value, enum.Enum):
        return value.value
    paths = _paths()
    if paths is not None and isinstance(value, paths):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if callable(getattr(value, "to_dict", None)):
            return typing.cast(Any, value).to_dict()
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value
