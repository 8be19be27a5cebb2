"""The ``mosaic`` command.

Each sub-command is a function taking the parsed arguments and returning an
exit status. User errors (a :class:`~mosaic_core._errors.MosaicError`) print
one line on stderr and exit non-zero: 2 for bad input, 1 otherwise. No
traceback reaches a user unless ``MOSAIC_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from mosaic_core.__about__ import __version__
from mosaic_core._errors import ConfigError, MosaicError
from mosaic_core.cli.builtin import COMMAND_MODULES

__all__ = ["COMMAND_MODULES", "build_parser", "main"]

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mosaic",
        description="Run reinforcement-learning libraries side by side, each in its own process.",
    )
    parser.add_argument("--version", action="version", version=f"mosaic-core {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
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
    parser = build_parser()
    args = parser.parse_args(argv)
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
        print(f"mosaic: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1


if __name__ == "__main__":
    sys.exit(main())
