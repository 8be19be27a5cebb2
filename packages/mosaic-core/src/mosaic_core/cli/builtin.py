"""The built-in sub-commands, registered through the same hook as a plugin's.

Each module in :data:`COMMAND_MODULES` has ``register(commands)`` that adds
its parsers with ``commands.add_parser``; here that is the hook's
``register`` callback, so the built-ins go the way a third party's do.
"""

from __future__ import annotations

import argparse
import importlib
import types
from collections.abc import Callable

from mosaic_core._hooks import hookimpl

__all__ = ["COMMAND_MODULES", "mosaic_register_commands"]

#: The modules of the built-in sub-commands, in the order ``mosaic --help`` lists them;
#: each has ``register(commands)``. No command module imports another.
COMMAND_MODULES = (
    "mosaic_core.cli.workers",
    "mosaic_core.cli.runs",
    "mosaic_core.cli.launchers",
    "mosaic_core.cli.results",
    "mosaic_core.cli.plot",
    "mosaic_core.cli.interop",
    "mosaic_core.cli.config",
    "mosaic_core.cli.envs",
    "mosaic_core.cli.families",
    "mosaic_core.cli.check",
    "mosaic_core.cli.new",
    "mosaic_core.cli.migrate",
    "mosaic_core.cli.eval",
)


@hookimpl
def mosaic_register_commands(register: Callable[..., argparse.ArgumentParser]) -> None:
    commands = types.SimpleNamespace(add_parser=register)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
