"""Worker configs: a dataclass base that checks itself, and the one config loader.

A worker declares its config as a ``kw_only`` dataclass deriving from
:class:`WorkerConfigBase` (or :class:`TrainingConfigBase`, which adds the
common ``env_id``, ``algorithm`` and ``total_steps``)::

    @dataclass(frozen=True, kw_only=True)
    class PPOConfig(TrainingConfigBase):
        algorithm: str = "ppo"
        learning_rate: Annotated[float, Gt(0)] = 2.5e-4
        #: the learning rate of the optimizer (a docstring under the field, as CleanRL writes)

and gets ``to_dict``/``from_dict``/``to_json``/``from_json``, type checks
from the annotations, the constraints of ``annotated_types`` markers
(``Gt``, ``Ge``, ``Lt``, ``Le``, ``Interval``, ``MultipleOf``, ``MinLen``,
``MaxLen``), strict unknown-key errors with a did-you-mean, and a JSON Schema
(:meth:`WorkerConfigBase.json_schema`) whose descriptions are the docstrings
under the fields. A worker with one config class per algorithm marks its
base ``per_algorithm=True``; ``from_dict`` on the base picks the class.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, TypeVar

from mosaic_core._errors import ConfigError, did_you_mean
from mosaic_core._fields import Secret, check_json, coerce, hints, metadata_of, plain
from mosaic_core._secrets import looks_secret
from mosaic_core._ulid import check_run_id


class _AtLeast:
    """``annotated_types.Ge`` for the base's own fields, read by its ``ge`` as any such
    marker is: a worker whose config uses no ``annotated_types`` marker starts without
    importing the package (~15 ms of every ``mosaic run``)."""

    __slots__ = ("ge",)

    def __init__(self, ge: int) -> None:
        self.ge = ge

    def __repr__(self) -> str:
        return f"Ge(ge={self.ge!r})"


__all__ = [
    "Secret",
    "TrainingConfigBase",
    "WorkerConfigBase",
    "check_run_id",
    "extract_worker_config",
    "load_worker_config",
    "looks_secret",
    "read_config_document",
    "read_json_file",
    "secret_fields",
]

C = TypeVar("C", bound="WorkerConfigBase")


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkerConfigBase:
    """Implements the :class:`~mosaic_core._protocols.WorkerConfig` protocol for a dataclass.

    Field values are checked against their annotations when the object is
    built (``int``, ``float``, ``str``, ``bool``, ``None``, unions,
    ``Literal``, ``list``/``tuple``/``dict`` of those, enums, paths and nested
    config dataclasses). JSON lists become tuples where a tuple is declared,
    and integers become floats where a float is declared. Override
    :meth:`validate` for rules between fields; raise ``ConfigError`` there.
    """

    run_id: str
    """set by the supervisor (a ULID); give one to name the run yourself"""
    seed: int | None = None
    """the random seed; null lets the library choose"""

    def __post_init__(self) -> None:
        annotations = hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            tp = annotations.get(f.name, Any)
            try:
                checked = coerce(value, tp, f.name)
            except ConfigError as exc:
                if Secret in metadata_of(tp):
                    raise exc.redacted() from None  # the message must not show the secret
                raise
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
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """Build from a mapping, rejecting unknown keys and reporting missing ones.

        On a ``per_algorithm`` base, the class is the one registered for
        ``data["algorithm"]`` (the base's default algorithm when absent).
        """
        if not isinstance(data, Mapping):
            raise ConfigError.bad_value(cls.__name__, data, "a JSON object of config fields")
        check_json(data)
        variant = _variant_for(cls, data)
        if variant is not cls:
            built: C = variant.from_dict(data)
            return built
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

    @classmethod
    def json_schema(cls, algorithm: str | None = None) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of this config: types, defaults, constraints,
        one description per field, secrets ``writeOnly``; on a ``per_algorithm`` base,
        ``oneOf`` its algorithms (or only ``algorithm``'s)."""
        from mosaic_core._schema import config_schema

        return config_schema(cls, algorithm)

    @classmethod
    def variants(cls) -> dict[str, type[WorkerConfigBase]]:
        """The config class of each algorithm of a ``per_algorithm`` base (else empty)."""
        return dict(getattr(cls, "_mosaic_variants", {}))


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainingConfigBase(WorkerConfigBase):
    """Adds the fields every training worker accepts: ``env_id``, ``algorithm``,
    ``total_steps`` and ``checkpoint_every``.

    A worker overrides their defaults and adds its own fields, named as its
    upstream library names them, in snake_case. A worker that declares
    ``supports_checkpointing`` saves a checkpoint each time its step count
    passes a multiple of ``checkpoint_every``; the host refuses the field
    for one that does not.
    """

    env_id: str
    """the environment: a Gymnasium id, module:Id or module:factory"""
    algorithm: str
    """the algorithm to train"""
    total_steps: Annotated[int, _AtLeast(1)] = 100_000
    """how many environment steps to train for"""
    checkpoint_every: Annotated[int | None, _AtLeast(1)] = None
    """save a checkpoint every this many environment steps (null: only at the end, and when
    the run is stopped); for a worker that declares supports_checkpointing"""

    #: On a ``per_algorithm`` base: the class of each algorithm, and the base itself.
    _mosaic_variants: ClassVar[dict[str, type[TrainingConfigBase]]] = {}
    _mosaic_root: ClassVar[type[TrainingConfigBase] | None] = None

    def __init_subclass__(cls, per_algorithm: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if per_algorithm:
            cls._mosaic_variants = {}
            cls._mosaic_root = cls
            return
        root = cls._mosaic_root
        name = cls.__dict__.get("algorithm")
        if root is None or cls is root or not isinstance(name, str):
            return  # not a variant: a base of several, or a worker with one config class
        registry = root._mosaic_variants
        if name in registry and registry[name].__qualname__ != cls.__qualname__:
            raise TypeError(
                f"{cls.__qualname__}: algorithm {name!r} is already {registry[name].__qualname__}"
            )
        registry[name] = cls

    def _validate_common(self) -> None:
        super()._validate_common()
        if self.total_steps < 1:
            raise ConfigError.bad_value("total_steps", self.total_steps, "an integer >= 1")
        for name in ("env_id", "algorithm"):
            if not getattr(self, name).strip():
                raise ConfigError.bad_value(name, getattr(self, name), "a non-empty string")
        registry = getattr(type(self), "_mosaic_variants", None)
        if registry and registry.get(self.algorithm) is not type(self):
            own = [n for n, c in registry.items() if c is type(self)]
            raise ConfigError.bad_value(
                "algorithm",
                self.algorithm,
                f"{own[0]!r} for {type(self).__name__}"
                if own
                else f"one of {', '.join(registry)}" + did_you_mean(self.algorithm, registry),
            )


def _variant_for(cls: type, data: Mapping[str, Any]) -> type[Any]:
    """The class ``from_dict`` builds: ``cls``, or the variant ``data["algorithm"]`` names."""
    registry = getattr(cls, "_mosaic_variants", None)
    if not registry or getattr(cls, "_mosaic_root", None) is not cls:
        return cls
    default = next((f.default for f in dataclasses.fields(cls) if f.name == "algorithm"), None)
    algorithm = data.get("algorithm", default)
    if not isinstance(algorithm, str) or algorithm not in registry:
        hint = did_you_mean(algorithm, registry) if isinstance(algorithm, str) else ""
        raise ConfigError.bad_value("algorithm", algorithm, f"one of {', '.join(registry)}" + hint)
    variant: type[Any] = registry[algorithm]
    return variant


def secret_fields(cls: type) -> list[str]:
    """Names of the fields ``cls`` marks ``Secret`` (its nested configs' as ``a.b``)."""
    out: list[str] = []
    for name, tp in hints(cls).items():
        if Secret in metadata_of(tp):
            out.append(name)
    return out


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
        document = read_config_document(source)
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


def read_config_document(path: str | os.PathLike[str]) -> Any:
    """Parse a config file: YAML for ``.yaml``/``.yml``, TOML for ``.toml``, else JSON.

    A missing, unreadable or malformed file is a ConfigError naming it.
    """
    name = str(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ConfigError(
            f"config file not found: {name}", value=name, expected="an existing config file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {name}: {exc}", value=name) from None
    suffix = os.path.splitext(name.rstrip("/" + os.sep))[1].lower()
    if suffix in (".yaml", ".yml"):
        document = _parse_yaml(text, name)
    elif suffix == ".toml":
        document = _parse_toml(text, name)
    else:
        document = _parse_json(text, name)
    try:
        check_json(document)
    except ConfigError as exc:
        exc.args = (f"{name}: {exc}",)
        raise
    return document


def read_json_file(path: str | os.PathLike[str]) -> Any:
    """Parse a config file (the name of 1.0; YAML and TOML files are read too)."""
    return read_config_document(path)


def _parse_yaml(text: str, source: str) -> Any:
    try:
        import yaml  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise ConfigError(
            f"{source}: reading YAML needs PyYAML, which is not installed here; "
            "`pip install 'mosaic-core[yaml]'`, or write the config as JSON or TOML",
            value=source,
            expected="PyYAML installed",
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"{source}: malformed YAML{where}: {getattr(exc, 'problem', None) or exc}",
            value=source,
            expected="valid YAML",
        ) from None
    except RecursionError:
        raise ConfigError(f"{source}: YAML nested too deeply", value=source) from None


def _parse_toml(text: str, source: str) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{source}: malformed TOML: {exc}", value=source, expected="valid TOML"
        ) from None


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise ConfigError(
            f"{source}: JSON nested too deeply to read", value=text[:40], expected="valid JSON"
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{source}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            value=text[max(0, exc.pos - 20) : exc.pos + 20],
            expected="valid JSON",
        ) from None
