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
import importlib
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence

from mosaic_core.__about__ import __version__
from mosaic_core._errors import ConfigError, MosaicError

__all__ = ["COMMAND_MODULES", "build_parser", "main"]

#: The modules of the built-in sub-commands, in the order ``mosaic --help`` lists them;
#: each has ``register(commands)``. No command module imports another.
COMMAND_MODULES = (
    "mosaic_core.cli.workers",
    "mosaic_core.cli.runs",
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

#: The module that registers each sub-command, so that a command imports its own module
#: alone (``mosaic run`` need not import plotting); tests check it against the modules.
COMMAND_OWNERS = {
    "workers": "mosaic_core.cli.workers",
    **dict.fromkeys(("run", "logs", "events", "cancel", "rm", "db"), "mosaic_core.cli.runs"),
    **dict.fromkeys(("runs", "show", "metrics", "compare", "group"), "mosaic_core.cli.results"),
    "plot": "mosaic_core.cli.plot",
    "tensorboard": "mosaic_core.cli.interop",
    "export": "mosaic_core.cli.interop",
    "config": "mosaic_core.cli.config",
    "env": "mosaic_core.cli.envs",
    "envs": "mosaic_core.cli.families",
    "check": "mosaic_core.cli.check",
    "new": "mosaic_core.cli.new",
    "migrate": "mosaic_core.cli.migrate",
    "eval": "mosaic_core.cli.eval",
}

Command = Callable[[argparse.Namespace], int]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every sub-command, or of ``command``'s module alone (what it needs)."""
    parser = argparse.ArgumentParser(
        prog="mosaic",
        description="Run reinforcement-learning libraries side by side, each in its own process.",
    )
    parser.add_argument("--version", action="version", version=f"mosaic-core {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    owner = COMMAND_OWNERS.get(command or "")
    for module in COMMAND_MODULES if owner is None else (owner,):
        importlib.import_module(module).register(commands)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The sub-command ``argv`` names, if it is the first word (no option before it)."""
    return argv[0] if argv and not argv[0].startswith("-") else None


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command(words))
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
    sys.exit(main())
