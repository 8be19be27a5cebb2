"""``mosaic workers``: the installed workers, and the plugins that did not load."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mosaic_core.cli.output import print_table

__all__ = ["register"]


def _cmd_workers(args: argparse.Namespace) -> int:
    from mosaic_core._discovery import discover_workers

    found = discover_workers()
    ambiguous = [(name, w) for name, ws in found.ambiguous.items() for w in ws]
    if args.json:
        rows = [w.to_dict() for w in found.workers.values()]
        rows += [{**w.to_dict(), "status": "ambiguous", "runnable": False} for _, w in ambiguous]
        rows += [b.to_dict() for b in found.broken]
        print(json.dumps({"workers": rows, "skipped": list(found.skipped)}, indent=2))
        return 0
    if not found.workers and not found.broken and not ambiguous:
        print("No MOSAIC workers are installed.")
        print("Install one, e.g. `pip install mosaic-cleanrl-worker`, or write your own:")
        print("an entry point in the group 'mosaic.workers' naming a plugin module.")
        return 0
    table = [("WORKER", "VERSION", "STATUS", "DISTRIBUTION", "DESCRIPTION")]
    for w in sorted(found.workers.values(), key=lambda w: w.worker_type):
        dist = f"{w.distribution} {w.distribution_version}" if w.distribution else w.entry_point
        table.append((w.worker_type, w.metadata.version, w.status, dist, w.metadata.description))
    for name, w in sorted(ambiguous, key=lambda pair: pair[0]):
        dist = f"{w.distribution} {w.distribution_version}" if w.distribution else w.entry_point
        table.append((name, w.metadata.version, "ambiguous", dist, w.metadata.description))
    for b in found.broken:
        dist = f"{b.distribution} {b.distribution_version}" if b.distribution else b.entry_point
        table.append((b.name, "-", "broken", dist, f"{b.error_type}: {b.error}"))
    print_table(table)
    for name in sorted(found.ambiguous):
        print(f"\n{name}: ambiguous: more than one distribution registers it; "
              "uninstall all but one")  # fmt: skip
    for b in found.broken:
        print(f"\n{b.name}: broken: {b.error_type}: {b.error}\n  hint: {b.hint}")
    if found.skipped:
        print(f"\nnot loaded (MOSAIC_LOAD_PLUGINS): {', '.join(found.skipped)}")
    return 0


def register(commands: Any) -> None:
    workers = commands.add_parser("workers", help="list installed workers and broken plugins")
    workers.add_argument("--json", action="store_true", help="print JSON instead of a table")
    workers.set_defaults(func=_cmd_workers)
