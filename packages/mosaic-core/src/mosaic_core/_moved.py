"""Deprecation shims for what mosaic-core 1.1 moved: old module paths and old public names.

mosaic-core 1.0 kept its modules flat (``mosaic_core.store``,
``mosaic_core.errors`` ...) and exported host classes from the package. 1.1
split the SDK (private modules behind ``mosaic_core``) from the host
(``mosaic_core.runs``, ``.operators``, ``.plugins``, ``.cli``, ``.venvs``).
Code written for 1.0 keeps working through 1.x with a DeprecationWarning
that names the new import; the shims go in mosaic-core 2.0.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings

TYPE_CHECKING = False  # not typing's: this module loads with every `import mosaic_core`
if TYPE_CHECKING:
    from typing import Any

__all__ = ["MOVED_MODULES", "MOVED_NAMES", "install", "moved_name", "warn_moved"]

REMOVED_IN = "2.0"

#: Old module path -> the modules its names live in now (searched in order).
MOVED_MODULES: dict[str, tuple[str, ...]] = {
    "mosaic_core.errors": ("mosaic_core._errors",),
    "mosaic_core.metadata": ("mosaic_core._metadata",),
    "mosaic_core.protocols": ("mosaic_core._protocols",),
    "mosaic_core.config": ("mosaic_core._config",),
    "mosaic_core.hookspecs": ("mosaic_core._hooks",),
    "mosaic_core.spec": ("mosaic_core._spec",),
    "mosaic_core.telemetry": ("mosaic_core._telemetry",),
    "mosaic_core.manifest": ("mosaic_core._manifest",),
    "mosaic_core.session": ("mosaic_core._session",),
    "mosaic_core.arena": ("mosaic_core._arena", "mosaic_core._envspec"),
    "mosaic_core.interactive": ("mosaic_core._server",),
    "mosaic_core.fastlane": ("mosaic_core._fastlane",),
    "mosaic_core.fastlane_gym": ("mosaic_core._fastlane_gym",),
    "mosaic_core.ulid": ("mosaic_core._ulid",),
    "mosaic_core.procs": ("mosaic_core._procs",),
    "mosaic_core.store": ("mosaic_core.runs.store",),
    "mosaic_core.supervisor": ("mosaic_core.runs.supervisor",),
    "mosaic_core.launch": ("mosaic_core.runs.launch",),
    "mosaic_core.telemetry_reader": ("mosaic_core.runs.reader",),
    "mosaic_core.progress": ("mosaic_core.cli.progress",),
    "mosaic_core.eval": ("mosaic_core.operators.eval",),
    "mosaic_core.operator_client": ("mosaic_core.operators.client",),
    "mosaic_core.operator_specs": ("mosaic_core.operators.specs",),
    "mosaic_core.cli_runs": ("mosaic_core.cli.runs",),
    "mosaic_core.cli_envs": ("mosaic_core.cli.envs", "mosaic_core.venvs.build"),
    "mosaic_core.cli_eval": ("mosaic_core.cli.eval",),
    "mosaic_core.cli_check": ("mosaic_core.cli.check",),
    "mosaic_core.cli_new": ("mosaic_core.cli.new",),
}

#: Names 1.0 exported from ``mosaic_core`` that are now the host's -> where they live.
MOVED_NAMES: dict[str, str] = {
    "Anomaly": "mosaic_core.runs",
    "LogLine": "mosaic_core.runs",
    "TelemetryEvent": "mosaic_core.runs",
    "TelemetryReader": "mosaic_core.runs",
    "BrokenPlugin": "mosaic_core.plugins",
    "DiscoveredWorker": "mosaic_core.plugins",
    "Discovery": "mosaic_core.plugins",
    "discover_workers": "mosaic_core.plugins",
    "FastlaneReader": "mosaic_core.operators",
    "FastlaneWriter": "mosaic_core.operators",
    "HumanOperator": "mosaic_core.operators",
    "InteractiveServer": "mosaic_core.operators",
    "OperatorClient": "mosaic_core.operators",
    "RandomOperator": "mosaic_core.operators",
    # Helpers the SDK keeps private: load_worker_config does what they did.
    "check_run_id": "mosaic_core._config",
    "extract_worker_config": "mosaic_core._config",
}


#: The 1.0 names already warned about in this process.
_WARNED: set[str] = set()


def _warn(old: str, new: str, stacklevel: int = 3) -> None:
    warnings.warn(
        f"{old} moved in mosaic-core 1.1: use {new} (the old name goes in {REMOVED_IN})",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def moved_name(name: str) -> Any:
    """``mosaic_core.<name>`` of 1.0, with a DeprecationWarning; AttributeError if unknown."""
    home = MOVED_NAMES.get(name)
    if home is None:
        raise AttributeError(f"module 'mosaic_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    if name in _WARNED:  # `from mosaic_core import X` looks the name up twice: warn once
        return value
    _WARNED.add(name)
    new = (
        f"`from {home} import {name}`"
        if not home.startswith("mosaic_core._")
        else ("mosaic_core.load_worker_config")
    )
    _warn(f"mosaic_core.{name}", new, stacklevel=4)
    return value


def warn_moved(module: str, name: str, homes: tuple[str, ...]) -> Any:
    """``module.name`` of 1.0, found in ``homes``, with a DeprecationWarning."""
    if name.startswith("__"):
        raise AttributeError(name)
    for home in homes:
        found = importlib.import_module(home)
        if hasattr(found, name):
            public = "mosaic_core" if home.startswith("mosaic_core._") else home
            _warn(f"{module}.{name}", f"{public}.{name}", stacklevel=4)
            return getattr(found, name)
    raise AttributeError(f"module {module!r} has no attribute {name!r}")


class _Proxy(types.ModuleType):
    """An old module path: each name is looked up in the modules that hold it now."""

    def __init__(self, name: str, homes: tuple[str, ...]) -> None:
        super().__init__(name)
        self.__homes = homes

    def __getattr__(self, attr: str) -> Any:
        for home in self.__homes:
            module = importlib.import_module(home)
            if hasattr(module, attr):
                return getattr(module, attr)
        raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")

    def __dir__(self) -> list[str]:
        names: set[str] = set()
        for home in self.__homes:
            names.update(dir(importlib.import_module(home)))
        return sorted(names)


class _Finder:
    """A meta path finder and loader for the old module paths (duck-typed: importing
    ``importlib.abc`` would cost more than all of ``import mosaic_core``)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in MOVED_MODULES:
            return None
        from importlib.machinery import ModuleSpec

        return ModuleSpec(fullname, self)  # type: ignore[arg-type]  # a duck-typed loader

    def create_module(self, spec: Any) -> types.ModuleType:
        homes = MOVED_MODULES[spec.name]
        _warn(spec.name, " or ".join(h for h in homes if not h.startswith("mosaic_core._"))
              or "the names of `mosaic_core`", stacklevel=8)  # fmt: skip
        return _Proxy(spec.name, homes)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def install() -> None:
    """Put the old module paths on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
