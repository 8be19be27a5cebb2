"""What a worker is (``WorkerMetadata``) and what it can do (``WorkerCapabilities``).

Both are frozen attrs classes whose validators reject bad values at
construction, with a message naming the field. Optional fields default to
the values the original MOSAIC worker guide assumed, so a worker written
from that guide constructs them unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import attrs

from mosaic_core._errors import ConfigError, did_you_mean

__all__ = [
    "ACTION_SPACES",
    "OBSERVATION_SPACES",
    "PARADIGMS",
    "WorkerCapabilities",
    "WorkerMetadata",
]

#: Training paradigms a worker may declare. ``sequential`` is single-agent.
PARADIGMS = frozenset(
    {
        "sequential",
        "parameter_sharing",
        "independent",
        "centralized_critic",
        "self_play",
        "population",
        "multi_agent",
        "llm_agent",
        "human_vs_ai",
        "imitation",
        "offline",
        "hierarchical",
        "training",
        "evaluation",
    }
)
ACTION_SPACES = frozenset(
    {"discrete", "continuous", "multi_discrete", "multi_binary", "text", "dict", "tuple", "hybrid"}
)
OBSERVATION_SPACES = frozenset(
    {"vector", "image", "dict", "tuple", "text", "graph", "sequence", "board", "structured"}
)

_WORKER_TYPE = re.compile(r"[a-z][a-z0-9_-]*\Z")
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_.-]*\Z")


def _words(vocabulary: frozenset[str] | None) -> Any:
    """Converter+validator pair for a non-empty tuple of words from ``vocabulary``."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
        name = f"{type(instance).__name__}.{attribute.name}"
        if not value:
            raise ConfigError.bad_value(name, value, "at least one entry")
        for word in value:
            if not isinstance(word, str):
                raise ConfigError.bad_value(name, word, "a string")
            if vocabulary is not None and word not in vocabulary:
                raise ConfigError.bad_value(
                    name,
                    word,
                    f"one of {sorted(vocabulary)}" + did_you_mean(word, vocabulary),
                )
            if vocabulary is None and not _IDENTIFIER.match(word):
                raise ConfigError.bad_value(
                    name, word, "a lower-case identifier such as 'gymnasium' or 'pettingzoo'"
                )

    return validate


def _as_tuple(value: Any) -> tuple[Any, ...]:
    # A bare string would otherwise become a tuple of its characters.
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable):
        return tuple(value)
    return (value,)


def _non_empty_str(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError.bad_value(
            f"{type(instance).__name__}.{attribute.name}", value, "a non-empty string"
        )


def _optional_str(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ConfigError.bad_value(
            f"{type(instance).__name__}.{attribute.name}", value, "a string or None"
        )


def _int_at_least(minimum: int, *, optional: bool = False) -> Any:
    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if optional and value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            expected = f"an integer >= {minimum}" + (" or None" if optional else "")
            raise ConfigError.bad_value(
                f"{type(instance).__name__}.{attribute.name}", value, expected
            )

    return validate


def _bool(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError.bad_value(
            f"{type(instance).__name__}.{attribute.name}", value, "True or False"
        )


@attrs.frozen(kw_only=True)
class WorkerMetadata:
    """Who made a worker and what it wraps; shown by ``mosaic workers``."""

    name: str = attrs.field(validator=_non_empty_str)
    version: str = attrs.field(validator=_non_empty_str)
    description: str = attrs.field(default="", validator=_optional_str)
    author: str = attrs.field(default="", validator=_optional_str)
    homepage: str | None = attrs.field(default=None, validator=_optional_str)
    upstream_library: str | None = attrs.field(default=None, validator=_optional_str)
    upstream_version: str | None = attrs.field(default=None, validator=_optional_str)
    license: str | None = attrs.field(default=None, validator=_optional_str)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkerMetadata:
        return cls(**_known_keys(cls, data))


@attrs.frozen(kw_only=True)
class WorkerCapabilities:
    """What a worker can train; the supervisor and the conformance kit trust it.

    ``worker_type`` is the name users type (``mosaic run cleanrl``) and must
    equal the plugin's entry-point name. Declare only what the worker really
    supports: the conformance kit checks what is declared and skips the rest.
    """

    worker_type: str = attrs.field()
    supported_paradigms: tuple[str, ...] = attrs.field(
        default=("sequential",), converter=_as_tuple, validator=_words(PARADIGMS)
    )
    env_families: tuple[str, ...] = attrs.field(
        default=("gymnasium",), converter=_as_tuple, validator=_words(None)
    )
    action_spaces: tuple[str, ...] = attrs.field(
        default=("discrete",), converter=_as_tuple, validator=_words(ACTION_SPACES)
    )
    observation_spaces: tuple[str, ...] = attrs.field(
        default=("vector",), converter=_as_tuple, validator=_words(OBSERVATION_SPACES)
    )
    max_agents: int = attrs.field(default=1, validator=_int_at_least(1))
    supports_self_play: bool = attrs.field(default=False, validator=_bool)
    supports_population: bool = attrs.field(default=False, validator=_bool)
    supports_checkpointing: bool = attrs.field(default=False, validator=_bool)
    supports_pause_resume: bool = attrs.field(default=False, validator=_bool)
    requires_gpu: bool = attrs.field(default=False, validator=_bool)
    gpu_memory_mb: int | None = attrs.field(default=None, validator=_int_at_least(0, optional=True))
    cpu_cores: int = attrs.field(default=1, validator=_int_at_least(1))
    estimated_memory_mb: int | None = attrs.field(
        default=None, validator=_int_at_least(0, optional=True)
    )

    @worker_type.validator
    def _check_worker_type(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str) or not _WORKER_TYPE.match(value):
            raise ConfigError.bad_value(
                "WorkerCapabilities.worker_type",
                value,
                "a lower-case name matching [a-z][a-z0-9_-]*, such as 'cleanrl'",
            )

    def __attrs_post_init__(self) -> None:
        multi = set(self.supported_paradigms) & {
            "parameter_sharing", "independent", "centralized_critic", "self_play",
            "population", "multi_agent",
        }  # fmt: skip
        if multi and self.max_agents < 2:
            raise ConfigError.bad_value(
                "WorkerCapabilities.max_agents",
                self.max_agents,
                f"at least 2 for the multi-agent paradigms {sorted(multi)}",
            )
        if self.supports_self_play and self.max_agents < 2:
            raise ConfigError.bad_value(
                "WorkerCapabilities.max_agents", self.max_agents, "at least 2 with self-play"
            )

    @property
    def is_multi_agent(self) -> bool:
        return self.max_agents > 1

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkerCapabilities:
        return cls(**_known_keys(cls, data))


def _known_keys(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError.bad_value(cls.__name__, data, "a JSON object")
    names = {a.name for a in attrs.fields(cls)}
    for key in data:
        if key not in names:
            raise ConfigError(
                f"{cls.__name__}: unknown key {key!r}{did_you_mean(key, names)}; "
                f"expected some of {sorted(names)}",
                field=key,
                value=data[key],
                expected=f"one of {sorted(names)}",
            )
    return data
