"""``mosaic workers``: the installed workers, and the plugins that did not load.

``--available`` reads the plugin index instead: a small static JSON file
named by ``$MOSAIC_PLUGIN_INDEX`` (a path, or a URL), listing community
workers as ``{"version": 1, "workers": [{"worker_type", "distribution",
"description", "homepage"?}, ...]}``.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from mosaic_core.cli.output import print_table

__all__ = ["register"]


INDEX_VARIABLE = "MOSAIC_PLUGIN_INDEX"
_ENTRY_KEYS = ("worker_type", "distribution", "description")


def read_index(source: str) -> list[dict[str, Any]]:
    """The workers a plugin index lists; a MosaicError naming the index and what is wrong."""
    import urllib.request

    from mosaic_core._errors import MosaicError

    try:
        if "://" in source:
            with urllib.request.urlopen(source, timeout=10) as response:
                text = response.read().decode("utf-8")
        else:
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
        document = json.loads(text)
    except (OSError, ValueError) as exc:
        raise MosaicError(f"plugin index {source}: cannot read it ({exc})") from None
    if not isinstance(document, dict) or document.get("version") != 1:
        raise MosaicError(
            f'plugin index {source}: expected a JSON object with "version": 1 and "workers"'
        )
    entries = document.get("workers")
    if not isinstance(entries, list):
        raise MosaicError(f'plugin index {source}: "workers" is not a list')
    for number, entry in enumerate(entries):
        missing = [k for k in _ENTRY_KEYS if not isinstance(entry, dict) or not entry.get(k)]
        if missing:
            raise MosaicError(
                f"plugin index {source}: workers[{number}] lacks {', '.join(missing)}; every "
                f"entry names {', '.join(_ENTRY_KEYS)}"
            )
    return entries


def _cmd_available(args: argparse.Namespace) -> int:
    import importlib.metadata

    from mosaic_core._errors import MosaicError

    source = os.environ.get(INDEX_VARIABLE)
    if not source:
        raise MosaicError(
            f"no plugin index is configured; set ${INDEX_VARIABLE} to its file or URL (MOSAIC's "
            "docs publish one: https://mosaic-rl.readthedocs.io/en/latest/plugins.html)"
        )
    rows = []
    for entry in read_index(source):
        try:
            installed: str | None = importlib.metadata.version(entry["distribution"])
        except importlib.metadata.PackageNotFoundError:
            installed = None
        rows.append({**entry, "installed": installed})
    if args.json:
        print(json.dumps({"index": source, "workers": rows}, indent=2))
        return 0
    table = [("WORKER", "DISTRIBUTION", "INSTALLED", "DESCRIPTION")]
    for row in sorted(rows, key=lambda r: str(r["worker_type"])):
        table.append(
            (row["worker_type"], row["distribution"], row["installed"] or "-", row["description"])
        )
    print_table(table)
    missing = [r["distribution"] for r in rows if not r["installed"]]
    if missing:
        print(f"\ninstall one with `pip install {missing[0]}`")
    return 0


def _cmd_workers(args: argparse.Namespace) -> int:
    from mosaic_core._discovery import discover_workers

    if args.available:
        return _cmd_available(args)
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
    workers.add_argument(
        "--available",
        action="store_true",
        help=f"the workers the plugin index lists (${INDEX_VARIABLE}), installed or not",
    )
    workers.set_defaults(func=_cmd_workers)
