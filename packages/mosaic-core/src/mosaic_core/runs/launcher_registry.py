"""Finding launchers: the built-in local one and the plugins of entry-point group
``mosaic.launchers``, loaded one by one, failures isolated (as workers are found).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from mosaic_core._discovery import BrokenPlugin, _sources, load_each
from mosaic_core._errors import ConfigError, PluginError, did_you_mean
from mosaic_core.runs import local
from mosaic_core.runs.launchers import LAUNCHER_ENTRY_POINT_GROUP, LOCAL, Launcher, LauncherSpec

__all__ = ["Launchers", "discover_launchers", "launcher_for"]

_ENV_STRICT = "MOSAIC_STRICT_PLUGINS"


@attrs.frozen(kw_only=True)
class Launchers:
    """One discovery: launchers by name, where each came from, the plugins that broke."""

    specs: Mapping[str, LauncherSpec]
    origins: Mapping[str, tuple[str, str | None, str | None]] = attrs.field(factory=dict)
    broken: tuple[BrokenPlugin, ...] = ()

    def get(self, name: str) -> LauncherSpec:
        """The launcher ``name``, or a ConfigError on ``--launcher`` saying why there is none."""
        if name in self.specs:
            return self.specs[name]
        for plugin in self.broken:
            if plugin.name == name:
                raise ConfigError(
                    f"launcher {name!r} is installed but broken: {plugin.error_type}: "
                    f"{plugin.error}. {plugin.hint}",
                    field="--launcher",
                    value=name,
                )
        known = sorted(self.specs)
        hint = " (pip install mosaic-ray-launcher for 'ray')" if name == "ray" else ""
        raise ConfigError(
            f"no launcher {name!r}{did_you_mean(name, known)}; installed: {', '.join(known)}{hint}",
            field="--launcher",
            value=name,
        )


def discover_launchers(
    *,
    plugins: Iterable[Any] = (),
    strict: bool | None = None,
    group: str = LAUNCHER_ENTRY_POINT_GROUP,
) -> Launchers:
    """Load the built-in launcher and every installed launcher plugin, isolating failures.

    ``plugins`` adds plugin modules directly, for tests and embedding.
    """
    if strict is None:
        strict = os.environ.get(_ENV_STRICT, "").lower() in ("1", "true", "yes", "on")
    specs, origins, broken = load_each(
        _sources(group, [local, *plugins]), _load, kind="launcher", strict=strict
    )
    return Launchers(specs=specs, origins=origins, broken=tuple(broken))


def _load(source: Any) -> list[LauncherSpec]:
    module, manager = source.hooked("mosaic_register_launchers")
    found: list[LauncherSpec] = []

    def register(spec: LauncherSpec) -> None:
        if not isinstance(spec, LauncherSpec):
            raise PluginError(
                f"register() got {type(spec).__name__}; expected a "
                "mosaic_core.runs.launchers.LauncherSpec",
                plugin=source.name,
            )
        found.append(spec)

    manager.hook.mosaic_register_launchers(register=register)
    if not found:
        raise PluginError(
            f"module {module.__name__!r} registered no launcher; call "
            "register(LauncherSpec(...)) in its mosaic_register_launchers hook",
            plugin=source.name,
        )
    return found


def launcher_for(name: str, cache: dict[str, Launcher]) -> Launcher:
    """The launcher ``name``, made once per ``cache`` (one per supervisor); the local one
    without discovering any plugin."""
    if name not in cache:
        if name == LOCAL:
            cache[name] = local.LocalLauncher()
        else:
            cache[name] = discover_launchers().get(name).factory()
    return cache[name]
