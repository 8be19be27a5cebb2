"""``mosaic config WORKER``: a worker's config fields, with types, defaults and help.

Exit status: 0; 1 when the worker is not installed or its plugin is broken; 2 for an
``--algorithm`` the worker does not have.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from mosaic_core.cli.output import config_fields_text

__all__ = ["register"]


def _cmd_config(args: argparse.Namespace) -> int:
    from mosaic_core.plugins import discover_workers

    found = discover_workers(load=[args.worker])
    if args.worker not in found.workers:
        found = discover_workers()  # every plugin, for a did-you-mean and broken ones
    spec = found.runnable(args.worker)
    if args.json:
        schema = getattr(spec.config_class, "json_schema", None)
        if schema is None:
            print(config_fields_text(spec.config_class, args.worker))  # raises: no schema
            return 2
        print(json.dumps(schema(args.algorithm), indent=2))
        return 0
    print(config_fields_text(spec.config_class, args.worker, args.algorithm))
    return 0


def register(commands: Any) -> None:
    config = commands.add_parser(
        "config",
        help="a worker's config fields: type, default and help",
        description="Show the config fields of an installed worker, as `mosaic run WORKER "
        "--set FIELD=VALUE` takes them. With --json, print the config's JSON Schema "
        "(draft 2020-12), from which front ends build forms.",
    )
    config.add_argument("worker", help="worker type, e.g. cleanrl (see `mosaic workers`)")
    config.add_argument(
        "--algorithm", help="the fields of this algorithm (workers with one config per algorithm)"
    )
    config.add_argument("--json", action="store_true", help="print the JSON Schema")
    config.set_defaults(func=_cmd_config)
