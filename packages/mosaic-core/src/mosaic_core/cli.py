"""The ``mosaic`` command.

Each sub-command is a function taking the parsed arguments and returning an
exit status. User errors (a :class:`~mosaic_core.errors.MosaicError`) print
one line on stderr and exit non-zero: 2 for bad input, 1 otherwise. No
traceback reaches a user unless ``MOSAIC_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from mosaic_core.__about__ import __version__
from mosaic_core.errors import ConfigError, MosaicError

__all__ = ["main"]

Command = Callable[[argparse.Namespace], int]


def _cmd_workers(args: argparse.Namespace) -> int:
    from mosaic_core.plugins import discover_workers

    found = discover_workers()
    if args.json:
        rows = [w.to_dict() for w in found.workers.values()]
        rows += [b.to_dict() for b in found.broken]
        print(json.dumps({"workers": rows, "skipped": list(found.skipped)}, indent=2))
        return 0
    if not found.workers and not found.broken:
        print("No MOSAIC workers are installed.")
        print("Install one, e.g. `pip install mosaic-cleanrl-worker`, or write your own:")
        print("an entry point in the group 'mosaic.workers' naming a plugin module.")
        return 0
    table = [("WORKER", "VERSION", "STATUS", "DISTRIBUTION", "DESCRIPTION")]
    for w in sorted(found.workers.values(), key=lambda w: w.worker_type):
        dist = f"{w.distribution} {w.distribution_version}" if w.distribution else w.entry_point
        table.append((w.worker_type, w.metadata.version, w.status, dist, w.metadata.description))
    for b in found.broken:
        dist = f"{b.distribution} {b.distribution_version}" if b.distribution else b.entry_point
        table.append((b.name, "-", "broken", dist, f"{b.error_type}: {b.error}"))
    print_table(table)
    for b in found.broken:
        print(f"\n{b.name}: broken: {b.error_type}: {b.error}\n  hint: {b.hint}")
    if found.skipped:
        print(f"\nnot loaded (MOSAIC_LOAD_PLUGINS): {', '.join(found.skipped)}")
    return 0


def print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)] + [str(row[-1])]
        print("  ".join(cells).rstrip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mosaic",
        description="Run reinforcement-learning libraries side by side, each in its own process.",
    )
    parser.add_argument("--version", action="version", version=f"mosaic-core {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    workers = commands.add_parser("workers", help="list installed workers and broken plugins")
    workers.add_argument("--json", action="store_true", help="print JSON instead of a table")
    workers.set_defaults(func=_cmd_workers)
    from mosaic_core import cli_check, cli_envs, cli_eval, cli_runs

    cli_runs.register(commands)
    cli_envs.register(commands)
    cli_check.register(commands)
    cli_eval.register(commands)
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
