"""The ``mosaic`` command.

Each sub-command is a function taking the parsed arguments and returning an
exit status. User errors (a :class:`~mosaic_core._errors.MosaicError`) print
one line on stderr and exit non-zero: 2 for bad input, 1 otherwise. So do
the faults of the machine under a command: a full disk, a read-only or
missing file, a damaged ``mosaic.db``. No traceback reaches a user unless
``MOSAIC_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import errno
import gc
import importlib
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence

from mosaic_core.__about__ import __version__
from mosaic_core._errors import ConfigError, MosaicError
from mosaic_core.cli.index import COMMAND_MODULES, COMMANDS

__all__ = ["COMMAND_MODULES", "build_parser", "command", "main"]

Command = Callable[[argparse.Namespace], int]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``mosaic`` parser with every command, built in and from plugins (``mosaic
    --help`` lists them all); or, given a built-in ``command``, with the commands of its
    module alone, so that running it imports no other command module and no plugin."""
    parser = argparse.ArgumentParser(
        prog="mosaic",
        description="Run reinforcement-learning libraries side by side, each in its own process.",
    )
    parser.add_argument("--version", action="version", version=f"mosaic-core {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    if command in COMMANDS:
        importlib.import_module(COMMANDS[command]).register(commands)
        return parser
    from mosaic_core.cli import builtin
    from mosaic_core.plugins.commands import add_commands

    broken = add_commands(commands, plugins=[builtin])
    if broken:
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.epilog = "command plugins that failed to load:\n" + "\n".join(
            f"  {b.distribution or b.entry_point}: {b.error_type}: {b.error}" for b in broken
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # `mosaic COMMAND ...`: only that command's module is needed (the first word is the
    # command: the options before it, --help and --version, take no value).
    parser = build_parser(words[0] if words else None)
    args = parser.parse_args(words)
    func: Command | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except KeyboardInterrupt:
        print("mosaic: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`mosaic events RUN | head`): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except MosaicError as exc:
        if os.environ.get("MOSAIC_DEBUG"):
            raise
        _error(str(exc))
        return 2 if isinstance(exc, ConfigError) else 1
    except (OSError, sqlite3.Error) as exc:
        if os.environ.get("MOSAIC_DEBUG"):
            raise
        _error(_environment_error(exc))
        return 1


def command() -> int:
    """``mosaic`` run as a program (its console script, ``python -m mosaic_core``):
    :func:`main`, then an exit ~12 ms sooner. As the interpreter ends, it runs the cyclic
    collector over every object still alive (everything ``mosaic run`` imported); those
    alive now are left out of it (frozen) and go with the process. A command has closed
    what it opened by the time it returns; objects freed by their last reference (an open
    file among them) are still finalized as the modules are torn down."""
    code = main()
    gc.freeze()
    return code


def _error(message: str) -> None:
    """One line on stderr, whatever the message quotes (a newline in a value)."""
    one_line = message.replace("\r", "\\r").replace("\n", "\\n")
    print(f"mosaic: error: {one_line}", file=sys.stderr)


def _environment_error(exc: OSError | sqlite3.Error) -> str:
    """A fault of the machine, said in a line: which file, what happened, what to do."""
    from mosaic_core.runs.database import explain
    from mosaic_core.runs.store import mosaic_home

    explained = explain(exc, mosaic_home())
    if explained is not None:
        return str(explained)
    if isinstance(exc, OSError):
        name = errno.errorcode.get(exc.errno or 0, "")
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}" + (f" ({name})" if name else "")
    return f"the run index failed: {exc}"


if __name__ == "__main__":
    sys.exit(command())
