"""Sub-commands of ``mosaic`` from plugins: entry-point group ``mosaic.commands``.

Each entry point names a module with ``@hookimpl def
mosaic_register_commands(register)``. The built-in commands come through the
same hook (:mod:`mosaic_core.cli.builtin`, loaded first), so they prove it.
A plugin that fails to import, raises while registering, or names a command
that already exists is isolated, as broken worker plugins are: it becomes a
:class:`~mosaic_core.plugins.BrokenPlugin`, and every other command works.

Some commands live in packages of their own (``mosaic ui`` in mosaic-ui):
without the package, the command is still listed and says what to install;
with a broken one, it says what went wrong.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pluggy

from mosaic_core import _hooks as hookspecs
from mosaic_core._discovery import BrokenPlugin, _broken, _Source, _sources
from mosaic_core._errors import MosaicError, PluginError

__all__ = ["COMMAND_GROUP", "PROVIDED_ELSEWHERE", "MissingCommand", "add_commands"]

COMMAND_GROUP = "mosaic.commands"
#: Commands that a separate distribution provides: name -> distribution.
PROVIDED_ELSEWHERE: Mapping[str, str] = {"ui": "mosaic-ui"}


class MissingCommand(MosaicError):
    """A command whose package is not installed, or did not load."""


def add_commands(
    commands: Any, *, plugins: Iterable[Any] = (), group: str = COMMAND_GROUP
) -> list[BrokenPlugin]:
    """Register every command plugin's sub-commands on ``commands`` (argparse's
    sub-parsers); returns the plugins that failed. ``plugins`` adds plugin modules
    directly (the built-ins, tests)."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    broken: list[BrokenPlugin] = []
    for source in [*_direct(plugins), *_sources(group, ())]:
        before = set(commands.choices)
        try:
            _register_one(source, manager, commands)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - isolated, as worker plugins
            for name in set(commands.choices) - before:  # a half-registered plugin: undone
                _remove(commands, name)
            broken.append(_broken(source, exc))
    for name, distribution in PROVIDED_ELSEWHERE.items():
        if name not in commands.choices:
            _placeholder(commands, name, distribution, broken)
    return broken


def _direct(plugins: Iterable[Any]) -> list[_Source]:
    out = []
    for module in plugins:
        name = getattr(module, "__name__", repr(module))
        out.append(_Source(name, name, lambda m=module: m, None))
    return out


def _register_one(source: _Source, manager: pluggy.PluginManager, commands: Any) -> None:
    module = source.load_module("mosaic_register_commands")
    if not manager.is_registered(module):
        manager.register(module, name=f"{source.name}:{module.__name__}")
    if not hasattr(module, "mosaic_register_commands"):
        raise PluginError(
            f"module {module.__name__!r} defines no mosaic_register_commands hook",
            plugin=source.name,
        )
    owner = source.dist_name or source.value

    def register(name: str, **options: Any) -> argparse.ArgumentParser:
        if name in commands.choices:
            raise PluginError(
                f"command {name!r} already exists; {owner} cannot add it again",
                plugin=source.name,
            )
        parser: argparse.ArgumentParser = commands.add_parser(name, **options)
        return parser

    others = [p for p in manager.get_plugins() if p is not module]
    caller = manager.subset_hook_caller("mosaic_register_commands", remove_plugins=others)
    caller(register=register)


def _remove(commands: Any, name: str) -> None:
    commands.choices.pop(name, None)
    commands._choices_actions[:] = [a for a in commands._choices_actions if a.dest != name]


def _placeholder(commands: Any, name: str, distribution: str, broken: list[BrokenPlugin]) -> None:
    """``mosaic NAME`` that says what to install, or why the installed package failed."""
    failed = next((b for b in broken if b.distribution == distribution), None)
    if failed is None:
        message = (
            f"`mosaic {name}` comes with the {distribution} package: pip install {distribution}"
        )
        summary = f"(needs {distribution}: pip install {distribution})"
    else:
        message = (
            f"`mosaic {name}` comes with {distribution} {failed.distribution_version or ''}, "
            f"which failed to load: {failed.error_type}: {failed.error}. {failed.hint}"
        )
        summary = f"(broken: {distribution} failed to load)"
    # Any arguments are accepted (none is an option here): the message is the same.
    parser = commands.add_parser(name, help=summary, add_help=False, prefix_chars="\x00")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="(not read: the command is missing)")
    parser.set_defaults(func=_fail(message))


def _fail(message: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        raise MissingCommand(message)

    return run
