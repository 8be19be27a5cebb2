"""Worker configs: a dataclass base that checks itself, and the one config loader.

A worker declares its config as a ``kw_only`` dataclass deriving from
:class:`WorkerConfigBase` (or :class:`TrainingConfigBase`, which adds the
common ``env_id``, ``algorithm`` and ``total_steps``)::

    @dataclass(frozen=True, kw_only=True)
    class PPOConfig(TrainingConfigBase):
        algorithm: str = "ppo"
        learning_rate: float = 2.5e-4

and gets ``to_dict``/``from_dict``/``to_json``/``from_json``, type checks
from the annotations, and strict unknown-key errors with a did-you-mean.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import pathlib
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union

from mosaic_core.errors import ConfigError, did_you_mean

__all__ = [
    "TrainingConfigBase",
    "WorkerConfigBase",
    "check_run_id",
    "extract_worker_config",
    "load_worker_config",
    "read_json_file",
]

C = TypeVar("C", bound="WorkerConfigBase")

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


def check_run_id(value: Any, field: str = "run_id") -> str:
    """Return ``value`` if it is safe as a directory name, else raise ConfigError."""
    if not isinstance(value, str) or not _RUN_ID.match(value) or ".." in value:
        raise ConfigError.bad_value(
            field,
            value,
            "1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, "
            "with no path separator and no '..'",
        )
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkerConfigBase:
    """Implements the :class:`~mosaic_core.protocols.WorkerConfig` protocol for a dataclass.

    Field values are checked against their annotations when the object is
    built (``int``, ``float``, ``str``, ``bool``, ``None``, unions,
    ``Literal``, ``list``/``tuple``/``dict`` of those, enums, paths and nested
    config dataclasses). JSON lists become tuples where a tuple is declared,
    and integers become floats where a float is declared. Override
    :meth:`validate` for rules between fields; raise ``ConfigError`` there.
    """

    run_id: str
    seed: int | None = None

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            checked = _coerce(value, hints.get(f.name, Any), f.name)
            if checked is not value:
                object.__setattr__(self, f.name, checked)
        self._validate_common()
        self.validate()

    def _validate_common(self) -> None:
        check_run_id(self.run_id)

    def validate(self) -> None:
        """Check rules that involve several fields; raise ConfigError naming one."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field; ``from_dict`` of it gives an equal config."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """Build from a mapping, rejecting unknown keys and reporting missing ones."""
        if not isinstance(data, Mapping):
            raise ConfigError.bad_value(cls.__name__, data, "a JSON object of config fields")
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        for key in data:
            if key not in fields:
                raise ConfigError(
                    f"unknown config key {key!r} for {cls.__name__}"
                    f"{did_you_mean(str(key), fields)}; known keys: {', '.join(sorted(fields))}",
                    field=str(key),
                    value=data[key],
                    expected=f"one of {sorted(fields)}",
                )
        missing = [
            name
            for name, f in fields.items()
            if name not in data
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise ConfigError(
                f"config for {cls.__name__} is missing required field {missing[0]!r}"
                + (f" (also missing: {', '.join(missing[1:])})" if missing[1:] else ""),
                field=missing[0],
                expected="a value",
            )
        return cls(**data)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_json(cls: type[C], text: str) -> C:
        return cls.from_dict(_parse_json(text, "<string>"))

    def replace(self: C, **changes: Any) -> C:
        """A copy with some fields changed, checked like a new config."""
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainingConfigBase(WorkerConfigBase):
    """Adds the fields every training worker accepts: ``env_id``, ``algorithm``, ``total_steps``.

    A worker overrides their defaults and adds its own fields, named as its
    upstream library names them, in snake_case.
    """

    env_id: str
    algorithm: str
    total_steps: int = 100_000

    def _validate_common(self) -> None:
        super()._validate_common()
        if self.total_steps < 1:
            raise ConfigError.bad_value("total_steps", self.total_steps, "an integer >= 1")
        for name in ("env_id", "algorithm"):
            if not getattr(self, name).strip():
                raise ConfigError.bad_value(name, getattr(self, name), "a non-empty string")


def extract_worker_config(data: Any, source: str = "<config>") -> dict[str, Any]:
    """The worker's own config from a direct or nested (``metadata.worker.config``) document."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the config must be a JSON object, got {type(data).__name__}",
            value=data,
            expected="a JSON object",
        )
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and "worker" in metadata:
        worker = metadata["worker"]
        if not isinstance(worker, dict) or not isinstance(worker.get("config"), dict):
            raise ConfigError(
                f"{source}: 'metadata.worker' must be an object with a 'config' object",
                field="metadata.worker.config",
                value=worker,
                expected="a JSON object",
            )
        return dict(worker["config"])
    return dict(data)


def load_worker_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    cls: type[C],
    *,
    defaults: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> C:
    """Load ``cls`` from a JSON file path or a mapping, direct or nested.

    ``defaults`` fill keys the document lacks (the supervisor's ``run_id``);
    ``overrides`` replace keys (``mosaic run --set``). Every problem is a
    :class:`ConfigError` naming the file and the field.
    """
    if isinstance(source, Mapping):
        name, document = "<config>", dict(source)
    else:
        name = str(source)
        document = read_json_file(source)
    data = extract_worker_config(document, name)
    for key, value in (defaults or {}).items():
        data.setdefault(key, value)
    data.update(overrides or {})
    try:
        return cls.from_dict(data)
    except ConfigError as exc:
        if name != "<config>" and not str(exc).startswith(name):
            exc.args = (f"{name}: {exc}",)
        raise


def read_json_file(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file; a missing, unreadable or malformed file is a ConfigError."""
    name = str(path)
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file not found: {name}", value=name, expected="an existing JSON file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {name}: {exc}", value=name) from None
    return _parse_json(text, name)


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{source}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            value=text[max(0, exc.pos - 20) : exc.pos + 20],
            expected="valid JSON",
        ) from None


def _describe(tp: Any) -> str:
    if tp is Any:
        return "any value"
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin in (list, tuple, dict):
        return f"a {'list' if origin is not dict else 'JSON object'} ({tp})"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in tp)
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _coerce(value: Any, tp: Any, field: str) -> Any:
    """Return ``value`` checked (and minimally converted) against annotation ``tp``."""
    if tp is Any or tp is object:
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
                return _coerce(value, arg, field)
            except ConfigError as exc:
                # An error inside the value (``schedule.start``) says more than "wrong type".
                if deeper is None and exc.field != field:
                    deeper = exc
        if deeper is not None:
            raise deeper
        raise ConfigError.bad_value(field, value, _describe(tp))
    if origin is Literal:
        if any(a == value and isinstance(a, bool) == isinstance(value, bool) for a in args):
            return value
        hint = (
            did_you_mean(value, [a for a in args if isinstance(a, str)])
            if isinstance(value, str)
            else ""
        )
        raise ConfigError.bad_value(field, value, _describe(tp) + hint)
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError.bad_value(field, value, _describe(tp))
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise ConfigError.bad_value(field, value, f"{len(args)} items ({tp})")
            items = [
                _coerce(v, a, f"{field}[{i}]")
                for i, (v, a) in enumerate(zip(value, args, strict=True))
            ]
        else:
            item_type = args[0] if args else Any
            items = [_coerce(v, item_type, f"{field}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin or tp) is tuple else items
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError.bad_value(field, value, "a JSON object")
        key_type, item_type = args if args else (Any, Any)
        return {
            _coerce(k, key_type, f"{field}.<key>"): _coerce(v, item_type, f"{field}.{k}")
            for k, v in value.items()
        }
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError.bad_value(field, value, "true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
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
            raise ConfigError.bad_value(field, value, _describe(tp)) from None
    if isinstance(tp, type) and issubclass(tp, pathlib.PurePath):
        if isinstance(value, (str, pathlib.PurePath)):
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
        raise ConfigError.bad_value(field, value, _describe(tp))
    return value


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
    hints = typing.get_type_hints(tp)
    converted = {k: _coerce(v, hints.get(k, Any), f"{field}.{k}") for k, v in value.items()}
    try:
        return tp(**converted)
    except TypeError as exc:
        raise ConfigError(f"config field {field!r}: {exc}", field=field, value=value) from None


def _plain(value: Any) -> Any:
    """Turn a field value back into JSON types."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if isinstance(value, WorkerConfigBase):
            return value.to_dict()
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value
