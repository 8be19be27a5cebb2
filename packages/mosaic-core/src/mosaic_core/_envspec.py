"""``EnvSpec``: the one grammar for naming an environment, and the one way to make it.

An environment is named the same way everywhere MOSAIC takes one (a
worker's ``env_id``, ``mosaic eval --env``, an operator's seat)::

    CartPole-v1                      a Gymnasium id
    minigrid:BabyAI-GoToLocal-v0     a Gymnasium id, registered on importing the module first
    mpe2.simple_spread_v3:parallel_env
                                     a factory: module:callable, returning a Gymnasium env
                                     or a PettingZoo parallel or AEC env

What follows the colon decides: a Python identifier is a factory, anything
else is an id. Every problem is a :class:`~mosaic_core.ConfigError` on the
field ``env_id``. Nothing is imported until :meth:`EnvSpec.make`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any

import attrs

from mosaic_core._errors import ConfigError, did_you_mean

__all__ = ["FIELD", "EnvSpec", "make_env"]

#: The field every environment error names.
FIELD = "env_id"
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_EXPECTED = (
    "a Gymnasium id such as 'CartPole-v1', module:Id such as 'minigrid:BabyAI-GoTo-v0', "
    "or module:factory such as 'mpe2.simple_spread_v3:parallel_env'"
)
#: Id prefixes whose environments register themselves when their module is imported.
_REGISTERING_MODULES = {
    "BabyAI-": "minigrid",
    "MiniGrid-": "minigrid",
    "MosaicMultiGrid-": "mosaic_multigrid",
}


@attrs.frozen
class EnvSpec:
    """A parsed environment name: ``module`` (or None) and ``name`` (an id or a callable)."""

    text: str
    module: str | None
    name: str

    @classmethod
    def parse(cls, text: Any, field: str = FIELD) -> EnvSpec:
        """Read ``text``; a malformed one is a ConfigError naming ``field``."""
        if not isinstance(text, str) or not text.strip() or text != text.strip():
            raise ConfigError.bad_value(field, text, _EXPECTED)
        module, sep, name = text.partition(":")
        if not sep:
            module, name = "", text
        if sep and not _MODULE.match(module):
            raise ConfigError.bad_value(
                field, text, _EXPECTED, hint=f"{module!r} is not a module name"
            )
        if not name or any(ch.isspace() for ch in name):
            raise ConfigError.bad_value(field, text, _EXPECTED)
        return cls(text, module or None, name)

    @property
    def is_factory(self) -> bool:
        """True for ``module:callable``; False for a Gymnasium id."""
        return self.module is not None and self.name.isidentifier()

    def __str__(self) -> str:
        return self.text

    def make(self, *, render_mode: str | None = None, **kwargs: Any) -> Any:
        """The environment, made with ``kwargs`` (and ``render_mode`` where it is accepted)."""
        if self.is_factory:
            return self._from_factory(render_mode, kwargs)
        return self._from_registry(render_mode, kwargs)

    def render_modes(self) -> tuple[str, ...] | None:
        """The render modes a Gymnasium id declares, without making it (None: unknown).

        The module that registers the id is imported first, as :meth:`make` does, so a
        missing one is the same ConfigError."""
        if self.is_factory:
            return None
        gym = self._gymnasium()
        self._register()
        try:
            spec = gym.spec(self.name)
        except gym.error.Error:
            return None
        creator = spec.entry_point
        if isinstance(creator, str):
            from gymnasium.envs.registration import load_env_creator

            try:
                creator = load_env_creator(creator)
            except (ImportError, AttributeError):
                return None
        modes = (getattr(creator, "metadata", None) or {}).get("render_modes")
        return tuple(modes) if modes is not None else None

    # -- making ----------------------------------------------------------------------

    def _import(self, module: str) -> Any:
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError.bad_value(
                FIELD, self.text, f"an environment whose module {module!r} is installed",
                hint=str(exc),
            ) from None  # fmt: skip

    def _from_factory(self, render_mode: str | None, kwargs: Mapping[str, Any]) -> Any:
        assert self.module is not None
        factory = getattr(self._import(self.module), self.name, None)
        if not callable(factory):
            raise ConfigError.bad_value(
                FIELD, self.text, _EXPECTED, hint=f"{self.module} has no callable {self.name!r}"
            )
        try:
            if render_mode is None:
                return factory(**kwargs)
            try:
                return factory(render_mode=render_mode, **kwargs)
            except TypeError:
                return factory(**kwargs)  # a factory without render modes
        except TypeError as exc:
            raise ConfigError.bad_value(
                "env_config", dict(kwargs), f"arguments that {self.text} accepts ({exc})"
            ) from None

    def _gymnasium(self) -> Any:
        try:
            return importlib.import_module("gymnasium")
        except ImportError:
            raise ConfigError.bad_value(
                FIELD, self.text, "an installed Gymnasium (pip install gymnasium)"
            ) from None

    def _register(self) -> None:
        """Import the module that registers the id: the one named, or the one its prefix
        implies (quietly: an id may register without it)."""
        if self.module is not None:
            self._import(self.module)
            return
        module = next(
            (m for prefix, m in _REGISTERING_MODULES.items() if self.name.startswith(prefix)), None
        )
        if module is not None:
            try:
                importlib.import_module(module)
            except ImportError:
                pass

    def _from_registry(self, render_mode: str | None, kwargs: Mapping[str, Any]) -> Any:
        gym = self._gymnasium()
        self._register()
        options = dict(kwargs)
        if render_mode is not None:
            options["render_mode"] = render_mode
        try:
            return gym.make(self.name, **options)
        except gym.error.Error as exc:
            registered = [str(key) for key in gym.registry]
            raise ConfigError.bad_value(
                FIELD,
                self.text,
                f"an environment registered in gymnasium {gym.__version__}, module:Id or "
                f"module:factory" + did_you_mean(self.name, registered),
                hint=f"{type(exc).__name__}: {exc}",
            ) from None
        except TypeError as exc:
            raise ConfigError.bad_value(
                "env_config", dict(kwargs), f"arguments that {self.text} accepts ({exc})"
            ) from None


def make_env(spec: str | EnvSpec, *, render_mode: str | None = None, **kwargs: Any) -> Any:
    """``EnvSpec.parse(spec).make(...)``."""
    parsed = spec if isinstance(spec, EnvSpec) else EnvSpec.parse(spec)
    return parsed.make(render_mode=render_mode, **kwargs)
