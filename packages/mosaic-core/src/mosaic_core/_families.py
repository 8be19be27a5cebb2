"""Environment families: tasks grouped under one name, with what a front end must know of each.

A family (MiniGrid, PettingZoo classic, MOSAIC MultiGrid ...) is declared by
a plugin through ``@hookimpl def mosaic_register_env_families(register)``
as an :class:`EnvFamily`: its tasks (:class:`EnvTask`, a fixed tuple or a
function that lists them at run time, e.g. from Gymnasium's registry), how
many agents each has and how they move (``single``, ``aec`` taking turns,
``parallel`` together), a human :class:`KeyMap`, and the settings a user
may change (:class:`FamilySetting`). Everything here is plain data that
turns into JSON (``to_dict``); declaring a family imports nothing heavy,
and no environment is made until one is asked for.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import attrs

from mosaic_core._envspec import EnvSpec
from mosaic_core._errors import ConfigError, PluginError, did_you_mean

__all__ = [
    "NAMED_KEYS",
    "STEPPINGS",
    "EnvFamily",
    "EnvTask",
    "FamilySetting",
    "KeyMap",
    "Stepping",
]

Stepping = Literal["single", "aec", "parallel"]
#: ``single``: one agent; ``aec``: agents take turns (PettingZoo AEC); ``parallel``: every
#: live agent acts at once (PettingZoo parallel).
STEPPINGS: tuple[Stepping, ...] = ("single", "aec", "parallel")
#: Key names besides single characters: the browser's ``KeyboardEvent.key`` values, except
#: the space bar, which is ``Space``.
NAMED_KEYS = (
    "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Space", "Enter", "Tab", "Backspace",
    "Escape", "PageUp", "PageDown", "Home", "End", "Insert", "Delete", "Shift",
)  # fmt: skip
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_RESERVED = ("show", "preview")  # `mosaic envs show|preview TASK`


def _tuple(values: Iterable[Any]) -> tuple[Any, ...]:
    """A converter with a type, so that type checkers read the field's argument type."""
    return tuple(values)


def _optional_tuple(values: Iterable[Any] | None) -> tuple[Any, ...] | None:
    return None if values is None else tuple(values)


def _dict(values: Mapping[str, Any]) -> dict[str, Any]:
    return dict(values)


def _fail(where: str, message: str) -> PluginError:
    return PluginError(f"{where}: {message}")


def _key_name(key: Any, where: str) -> str:
    if isinstance(key, str) and key in NAMED_KEYS:
        return key
    if isinstance(key, str) and len(key) == 1 and key.isprintable() and not key.isspace():
        return key.lower()
    raise _fail(
        where,
        f"key {key!r} is not a key name; expected one printable character or one of "
        + ", ".join(NAMED_KEYS),
    )


@attrs.frozen(eq=False)
class KeyMap:
    """Which key a person presses for which discrete action.

    ``keys`` maps a key name (one character, or one of the named keys:
    the browser's ``KeyboardEvent.key`` names such as ``ArrowUp``, with
    ``Space`` for the space bar)
    to an action; ``labels`` names the actions by index (``labels[2]`` is
    what action 2 does); ``noop`` is the action of a person who presses
    nothing in a game where every agent acts at once (None where none
    exists). Letters are case-insensitive.
    """

    keys: Mapping[str, int] = attrs.field(converter=_dict)
    labels: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    noop: int | None = None

    def __attrs_post_init__(self) -> None:
        where = "KeyMap"
        normal: dict[str, int] = {}
        for key, action in self.keys.items():
            name = _key_name(key, where)
            if isinstance(action, bool) or not isinstance(action, int) or action < 0:
                raise _fail(where, f"key {key!r} is bound to {action!r}; expected an action >= 0")
            if name in normal:
                raise _fail(where, f"key {key!r} is bound twice")
            normal[name] = action
        object.__setattr__(self, "keys", normal)
        if not all(isinstance(label, str) and label for label in self.labels):
            raise _fail(where, f"labels {self.labels!r}: expected one non-empty string per action")
        noop = self.noop
        if noop is not None and (isinstance(noop, bool) or not isinstance(noop, int) or noop < 0):
            raise _fail(where, f"noop {noop!r}: expected an action number or None")
        limit = len(self.labels)
        for action in [*normal.values(), *([noop] if noop is not None else [])]:
            if limit and action >= limit:
                raise _fail(where, f"action {action} has no label (labels name {limit} actions)")

    def action_for(self, key: str) -> int | None:
        """The action bound to ``key`` (a key name; letters in either case), or None."""
        name = key if key in NAMED_KEYS else key.lower() if len(key) == 1 else key
        found = self.keys.get(name)
        if found is None and len(key) > 1:  # "arrowup", "space": names in any case
            lowered = {k.lower(): v for k, v in self.keys.items()}
            found = lowered.get(key.lower())
        return found

    def keys_for(self, action: int) -> tuple[str, ...]:
        """The keys bound to ``action``, in declaration order."""
        return tuple(key for key, bound in self.keys.items() if bound == action)

    def label(self, action: int) -> str:
        return self.labels[action] if 0 <= action < len(self.labels) else str(action)

    def fits(self, space: Any) -> bool:
        """Can every bound action be played in ``space`` (a Discrete space)?"""
        if type(space).__name__ != "Discrete":
            return False
        start, n = int(getattr(space, "start", 0)), int(space.n)
        actions = [*self.keys.values(), *([self.noop] if self.noop is not None else [])]
        return all(start <= a < start + n for a in actions)

    def to_dict(self) -> dict[str, Any]:
        return {"keys": dict(self.keys), "labels": list(self.labels), "noop": self.noop}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyMap:
        return cls(dict(data["keys"]), labels=tuple(data.get("labels", ())), noop=data.get("noop"))


_KINDS: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}
_A = {"boolean": "a boolean", "integer": "an integer", "number": "a number", "string": "a string"}


@attrs.frozen(kw_only=True)
class FamilySetting:
    """One setting of a family's environments (view size, tile size, observation mode ...).

    Its value reaches the task's factory as a keyword argument of the same
    name. ``default`` fixes the type (bool, int, float or str); ``choices``
    and ``minimum``/``maximum`` restrict the values.
    """

    name: str
    default: bool | int | float | str
    description: str
    choices: tuple[Any, ...] = attrs.field(default=(), converter=_tuple)
    minimum: float | None = None
    maximum: float | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise _fail("FamilySetting", f"name {self.name!r}: expected a Python identifier")
        if type(self.default) not in _KINDS:
            raise _fail(
                f"FamilySetting {self.name!r}",
                f"default {self.default!r}: expected a bool, int, float or str",
            )
        self.check(self.default)

    @property
    def kind(self) -> str:
        """The JSON Schema type of the value."""
        return _KINDS[type(self.default)]

    def check(self, value: Any) -> Any:
        """``value`` as this setting's type; a string is parsed (``--setting k=v``)."""
        field = f"setting {self.name!r}"
        want = type(self.default)
        if isinstance(value, str) and want is not str:
            value = _parse(value, want)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not want:
            raise ConfigError.bad_value(field, value, _A[self.kind])
        if self.choices and value not in self.choices:
            raise ConfigError.bad_value(field, value, f"one of {list(self.choices)}")
        if not isinstance(value, (int, float)):
            return value
        if self.minimum is not None and value < self.minimum:
            raise ConfigError.bad_value(field, value, f"{_A[self.kind]} >= {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError.bad_value(field, value, f"{_A[self.kind]} <= {self.maximum}")
        return value

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "default": self.default,
            "description": self.description,
            "choices": list(self.choices) or None,
            "minimum": self.minimum,
            "maximum": self.maximum,
        }


def _parse(text: str, want: type) -> Any:
    if want is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        return text
    try:
        return want(text)
    except ValueError:
        return text


def _stepping(instance: Any, attribute: Any, value: Any) -> None:
    if value not in STEPPINGS:
        raise _fail(f"EnvTask {instance.id!r}", f"stepping {value!r}: expected one of {STEPPINGS}")


@attrs.frozen(kw_only=True)
class EnvTask:
    """One environment of a family, and how to make it.

    ``env`` is an environment name in the grammar of
    :class:`~mosaic_core.EnvSpec` (a Gymnasium id, ``module:Id`` or
    ``module:factory``; the task's own ``id`` when omitted); it is made with
    ``kwargs``, the family's settings and ``render_mode``. ``agents`` are
    the agent ids of a multi-agent task (empty for one agent), in the order
    the environment lists them. ``render`` is what a preview shows: an
    ``rgb_array`` frame or ``ansi`` text. ``legal_actions`` says the
    environment restricts the legal actions at each step (an action mask,
    or, for text actions, ``info["legal_actions"]``). ``settings`` names
    the family settings the task takes, when not all of them.
    """

    id: str
    env: str = ""
    kwargs: Mapping[str, Any] = attrs.field(factory=dict, converter=_dict)
    agents: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    stepping: Stepping = attrs.field(default="single", validator=_stepping)
    description: str = ""
    key_map: KeyMap | None = None
    render: Literal["rgb_array", "ansi"] = "rgb_array"
    legal_actions: bool = False
    #: The names of the family's settings this task takes; None: all of them.
    settings: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_tuple)
    #: The family that declares the task; set when the family lists it.
    family: str = ""

    def __attrs_post_init__(self) -> None:
        where = f"EnvTask {self.id!r}"
        if not isinstance(self.id, str) or not self.id or self.id != self.id.strip():
            raise _fail("EnvTask", f"id {self.id!r}: expected a non-empty name without spaces")
        if not self.env:
            object.__setattr__(self, "env", self.id)
        if self.stepping == "single" and self.agents:
            raise _fail(where, f"agents {list(self.agents)} with stepping 'single'")
        if self.stepping != "single" and not self.agents:
            raise _fail(where, f"stepping {self.stepping!r} needs the agent ids (agents=...)")
        if len(set(self.agents)) != len(self.agents):
            raise _fail(where, f"agents {list(self.agents)} repeat an id")
        if self.key_map is not None and not isinstance(self.key_map, KeyMap):
            raise _fail(where, f"key_map {self.key_map!r}: expected a mosaic_core.KeyMap")
        if self.render not in ("rgb_array", "ansi"):
            raise _fail(where, f"render {self.render!r}: expected 'rgb_array' or 'ansi'")

    @property
    def agent_count(self) -> int:
        return len(self.agents) or 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "family": self.family,
            "env": self.env,
            "agents": list(self.agents),
            "agent_count": self.agent_count,
            "stepping": self.stepping,
            "description": self.description,
            "key_map": self.key_map.to_dict() if self.key_map else None,
            "render": self.render,
            "legal_actions": self.legal_actions,
            "settings": list(self.settings) if self.settings is not None else None,
        }


TaskSource = tuple[EnvTask, ...] | Callable[[], Iterable[EnvTask]]


def _tasks(instance: Any, attribute: Any, value: Any) -> None:
    if callable(value):
        return
    if not isinstance(value, tuple) or not all(isinstance(t, EnvTask) for t in value):
        raise _fail(
            f"EnvFamily {instance.name!r}",
            "tasks: expected a tuple of mosaic_core.EnvTask or a function returning them",
        )


@attrs.frozen(kw_only=True, eq=False)
class EnvFamily:
    """A group of environment tasks under one name, declared through the plugin hook.

    ``requirement`` is what to install for it (``mosaic-envs[minigrid]``);
    ``modules`` are the modules that must be importable for it to run
    (``a|b`` accepts either). ``tasks`` is a tuple, or a function called
    when the tasks are first listed (it may import the family's library,
    but must make no environment); ``prefixes`` are the id prefixes of its
    tasks, so that finding a task does not list every family.
    ``parallel_only`` marks families whose agents can only act together.
    """

    name: str
    display_name: str
    requirement: str
    description: str = ""
    modules: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    tasks: TaskSource = attrs.field(default=(), validator=_tasks)
    prefixes: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    settings: tuple[FamilySetting, ...] = attrs.field(default=(), converter=_tuple)
    parallel_only: bool = False
    homepage: str = ""
    _cache: dict[str, Any] = attrs.field(factory=dict, init=False, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        where = f"EnvFamily {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.match(self.name) or self.name in _RESERVED:
            raise _fail(
                "EnvFamily",
                f"name {self.name!r}: expected lower-case letters, digits and '_', starting "
                f"with a letter, and not {' or '.join(_RESERVED)}",
            )
        if not self.display_name or not self.requirement:
            raise _fail(where, "display_name and requirement must not be empty")
        names = [s.name for s in self.settings]
        if len(set(names)) != len(names):
            raise _fail(where, f"settings {names} repeat a name")
        if isinstance(self.tasks, tuple):
            self._store(self.tasks)

    # -- what is installed ------------------------------------------------------------

    def missing(self) -> tuple[str, ...]:
        """The modules (or alternatives ``a|b``) this environment lacks; empty if installed."""
        return tuple(m for m in self.modules if not any(_importable(a) for a in m.split("|")))

    def installed(self) -> bool:
        return not self.missing()

    # -- tasks ----------------------------------------------------------------------------

    def list_tasks(self) -> tuple[EnvTask, ...]:
        """The tasks, listed once (a function source is called on the first use)."""
        with self._lock:
            if "tasks" not in self._cache:
                source = self.tasks
                listed = source() if callable(source) else source
                self._store(tuple(listed))
            tasks: tuple[EnvTask, ...] = self._cache["tasks"]
            return tasks

    def _store(self, tasks: tuple[EnvTask, ...]) -> None:
        where = f"EnvFamily {self.name!r}"
        owned: list[EnvTask] = []
        for task in tasks:
            if not isinstance(task, EnvTask):
                raise _fail(where, f"tasks gave {task!r}; expected mosaic_core.EnvTask")
            if self.parallel_only and task.stepping == "aec":
                raise _fail(where, f"task {task.id!r} is 'aec' in a parallel-only family")
            unknown = sorted(set(task.settings or ()) - {s.name for s in self.settings})
            if unknown:
                raise _fail(where, f"task {task.id!r} takes settings {unknown} it does not declare")
            owned.append(attrs.evolve(task, family=self.name))
        ids = [t.id for t in owned]
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise _fail(where, f"task ids {twice} appear twice")
        self._cache["tasks"] = tuple(owned)
        self._cache["by_id"] = {t.id: t for t in owned}

    def might_have(self, task_id: str) -> bool:
        """Could ``task_id`` be one of ours, judged without listing the tasks?"""
        if "by_id" in self._cache:
            return task_id in self._cache["by_id"]
        return not self.prefixes or task_id.startswith(self.prefixes)

    def task(self, task_id: str) -> EnvTask | None:
        if not self.might_have(task_id):
            return None
        self.list_tasks()
        found: EnvTask | None = self._cache["by_id"].get(task_id)
        return found

    # -- settings and making ----------------------------------------------------------

    def check_settings(
        self, settings: Mapping[str, Any] | None, task: EnvTask | None = None
    ) -> dict[str, Any]:
        """Every setting (of ``task``, if given) with its value: the defaults, overridden by
        ``settings`` (checked)."""
        known = {
            s.name: s
            for s in self.settings
            if task is None or task.settings is None or s.name in task.settings
        }
        values = {name: s.default for name, s in known.items()}
        for name, value in (settings or {}).items():
            if name not in known:
                owner = f"task {task.id!r}" if task is not None else f"family {self.name!r}"
                expected = f"a setting of {owner}: " + (", ".join(known) or "it has none")
                raise ConfigError.bad_value(
                    "setting", name, expected + did_you_mean(name, list(known))
                )
            values[name] = known[name].check(value)
        return values

    def make(
        self,
        task: EnvTask | str,
        *,
        render_mode: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Any:
        """The environment of ``task``: a Gymnasium env, or a PettingZoo AEC or parallel env."""
        found = self.task(task) if isinstance(task, str) else task
        if found is None:
            raise ConfigError.bad_value(
                "env_id", task, f"a task of family {self.name!r}" + self._suggest(str(task))
            )
        missing = self.missing()
        if missing:
            raise ConfigError.bad_value(
                "env_id",
                found.id,
                f"an installed family: {self.display_name} needs {', '.join(missing)}",
                hint=f"pip install '{self.requirement}'",
            )
        values = self.check_settings(settings, found)
        return EnvSpec.parse(found.env).make(render_mode=render_mode, **found.kwargs, **values)

    def _suggest(self, task_id: str) -> str:
        try:
            return did_you_mean(task_id, [t.id for t in self.list_tasks()])
        except Exception:  # noqa: BLE001 - only a hint
            return ""

    def to_dict(self, *, tasks: bool = True) -> dict[str, Any]:
        """The family as JSON; tasks listed at run time only when installed (None if not)."""
        missing = self.missing()
        out: dict[str, Any] = {
            "name": self.name,
            "display_name": self.display_name,
            "description": self.description,
            "requirement": self.requirement,
            "install": f"pip install '{self.requirement}'",
            "installed": not missing,
            "missing": list(missing),
            "parallel_only": self.parallel_only,
            "homepage": self.homepage or None,
            "settings": [s.to_dict() for s in self.settings],
        }
        if tasks:
            listable = not missing or not callable(self.tasks)
            out["tasks"] = [t.to_dict() for t in self.list_tasks()] if listable else None
        return out


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing or broken
        return False
