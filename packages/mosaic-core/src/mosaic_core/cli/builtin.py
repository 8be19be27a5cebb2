"""The built-in sub-commands, registered through the same hook as a plugin's.

Each module in :data:`~mosaic_core.cli.index.COMMAND_MODULES` has
``register(commands)`` that adds its parsers with ``commands.add_parser``;
here that is the hook's ``register`` callback, so the built-ins go the way a
third party's do.
"""

from __future__ import annotations

import argparse
import importlib
import types
from collections.abc import Callable

from mosaic_core._hooks import hookimpl
from mosaic_core.cli.index import COMMAND_MODULES

__all__ = ["COMMAND_MODULES", "mosaic_register_commands"]


@hookimpl
def mosaic_register_commands(register: Callable[..., argparse.ArgumentParser]) -> None:
    commands = types.SimpleNamespace(add_parser=register)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
