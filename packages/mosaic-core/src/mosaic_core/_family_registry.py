"""Finding environment families: entry points of group ``mosaic.env_families``, loaded one by one.

Like worker discovery (:mod:`mosaic_core._discovery`), and with its records:
a plugin that fails to import or to register is a
:class:`~mosaic_core._discovery.BrokenPlugin` and the others still load;
``MOSAIC_STRICT_PLUGINS=1`` turns the first failure into a
:class:`~mosaic_core.PluginError`. Loading a plugin imports its module and
calls its hook, nothing more: no task is listed and no environment made.

:func:`env_families` caches one discovery per process; through it,
:func:`make_env` makes a task of an installed family with its family (any
other name as an :class:`~mosaic_core.EnvSpec`), and :func:`find_env_task`
tells a worker's config check what a task is.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from mosaic_core._discovery import BrokenPlugin, _Source, _sources, load_each
from mosaic_core._envspec import EnvSpec
from mosaic_core._errors import ConfigError, PluginError, did_you_mean
from mosaic_core._families import EnvFamily, EnvTask

__all__ = [
    "FAMILY_ENTRY_POINT_GROUP",
    "EnvFamilies",
    "discover_env_families",
    "env_families",
    "find_env_task",
    "make_env",
    "seats",
]

FAMILY_ENTRY_POINT_GROUP = "mosaic.env_families"
_ENV_STRICT = "MOSAIC_STRICT_PLUGINS"


@attrs.frozen(kw_only=True)
class EnvFamilies:
    """The outcome of one discovery: families by name, where each came from, broken plugins."""

    families: Mapping[str, EnvFamily]
    #: family name -> (entry point value, distribution, its version)
    origins: Mapping[str, tuple[str, str | None, str | None]] = attrs.field(factory=dict)
    broken: tuple[BrokenPlugin, ...] = ()
    load_seconds: float = 0.0

    def get(self, name: str) -> EnvFamily:
        """The family ``name``, or a PluginError saying why there is none."""
        if name in self.families:
            return self.families[name]
        for plugin in self.broken:
            if plugin.name == name:
                raise PluginError(
                    f"environment family plugin {name!r} is installed but broken: "
                    f"{plugin.error_type}: {plugin.error}. {plugin.hint}",
                    plugin=name,
                )
        known = sorted(self.families)
        raise PluginError(
            f"no environment family {name!r}{did_you_mean(name, known)}; installed: "
            f"{', '.join(known) or 'none'} (pip install mosaic-envs for the standard ones)",
            plugin=name,
        )

    def find(self, task_id: str) -> tuple[EnvFamily, EnvTask] | None:
        """The family and task that declare ``task_id``; families not installed are skipped,
        and a family whose task listing fails is passed over (``task`` reports it)."""
        for family in self.families.values():
            if not family.might_have(task_id) or not family.installed():
                continue
            try:
                task = family.task(task_id)
            except Exception:  # noqa: BLE001 - one broken family must not hide the others
                continue
            if task is not None:
                return family, task
        return None

    def task(self, task_id: str) -> tuple[EnvFamily, EnvTask]:
        """Like :meth:`find`, but a ConfigError on ``env_id`` naming the near misses."""
        found = self.find(task_id)
        if found is not None:
            return found
        known: list[str] = []
        for family in self.families.values():
            if family.installed():
                try:
                    known.extend(t.id for t in family.list_tasks())
                except Exception as exc:  # noqa: BLE001 - said in the message
                    known.append(f"<{family.name}: {type(exc).__name__}: {exc}>")
        raise ConfigError.bad_value(
            "env_id", task_id, "a task of an installed environment family" + did_you_mean(
                task_id, known
            ), hint="`mosaic envs` lists them",
        )  # fmt: skip

    def make(
        self,
        task_id: str,
        *,
        render_mode: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Any:
        family, task = self.task(task_id)
        return family.make(task, render_mode=render_mode, settings=settings)


def discover_env_families(
    *,
    plugins: Iterable[Any] = (),
    strict: bool | None = None,
    group: str = FAMILY_ENTRY_POINT_GROUP,
) -> EnvFamilies:
    """Load every installed environment-family plugin, isolating failures.

    ``plugins`` adds plugin modules directly, for tests and embedding.
    """
    if strict is None:
        strict = os.environ.get(_ENV_STRICT, "").lower() in ("1", "true", "yes", "on")
    started = time.perf_counter()
    families, origins, broken = load_each(
        _sources(group, plugins), _load, kind="environment family", strict=strict
    )
    return EnvFamilies(
        families=families,
        origins=origins,
        broken=tuple(broken),
        load_seconds=time.perf_counter() - started,
    )


def _load(source: _Source) -> list[EnvFamily]:
    module, manager = source.hooked("mosaic_register_env_families")
    found: list[EnvFamily] = []

    def register(family: EnvFamily) -> None:
        if not isinstance(family, EnvFamily):
            raise PluginError(
                f"register() got {type(family).__name__}; expected a mosaic_core.EnvFamily",
                plugin=source.name,
            )
        found.append(family)

    manager.hook.mosaic_register_env_families(register=register)
    if not found:
        raise PluginError(
            f"module {module.__name__!r} registered no environment family; call "
            "register(EnvFamily(...)) in its mosaic_register_env_families hook",
            plugin=source.name,
        )
    return found


_cached: EnvFamilies | None = None
_cache_lock = threading.Lock()


def env_families(*, refresh: bool = False) -> EnvFamilies:
    """The installed families, discovered once per process (``refresh`` discovers again)."""
    global _cached
    with _cache_lock:
        if _cached is None or refresh:
            _cached = discover_env_families()
        return _cached


def find_env_task(env_id: str) -> EnvTask | None:
    """The task an installed family declares under ``env_id``, or None.

    A worker's config check uses it to learn a task's agents and stepping
    before a run starts; it makes no environment.
    """
    found = env_families().find(env_id)
    return found[1] if found is not None else None


def seats(arena: Any, task: EnvTask | None) -> tuple[str | None, ...]:
    """The agents to seat an operator on, in the family's order; ``None`` for one agent.

    The family's declaration must match the environment it made (agents and
    stepping): a mismatch is the family's bug, reported as a PluginError.
    """
    actual = tuple(arena.possible_agents)
    if task is None:
        return actual or (None,)
    where = f"task {task.id!r} of environment family {task.family!r}"
    if arena.kind != task.stepping:
        raise PluginError(
            f"{where} declares stepping {task.stepping!r}; its environment steps {arena.kind!r}",
            plugin=task.family,
        )
    if set(task.agents) != set(actual):
        raise PluginError(
            f"{where} declares agents {list(task.agents)}; its environment has {list(actual)}",
            plugin=task.family,
        )
    return task.agents or (None,)


def make_env(spec: str | EnvSpec, *, render_mode: str | None = None, **kwargs: Any) -> Any:
    """The environment ``spec`` names, made with ``render_mode``.

    A task of an installed environment family (``mosaic envs``; also written
    ``module:Id``) is made by its family, and ``kwargs`` are the family's
    settings; any other name is ``EnvSpec.parse(spec).make(...)``.
    """
    parsed = spec if isinstance(spec, EnvSpec) else EnvSpec.parse(spec)
    if not parsed.is_factory:
        found = env_families().find(parsed.name)
        if found is not None:
            family, task = found
            return family.make(task, render_mode=render_mode, settings=kwargs)
    return parsed.make(render_mode=render_mode, **kwargs)
